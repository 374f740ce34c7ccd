"""How the first-order compute runs fast: micro-batching and an optional ``torch.compile``.

Two measured effects on a CPU (``benchmarks/iteration_speed.py``):

* **Micro-batching.** A ConvNet step on 256 images streams activations of 134 MB per layer through
  memory-bound ops (GroupNorm, ReLU, pooling and their backward passes). Cut into micro-batches of
  ~32 images, the activations stay in cache and the same gradient costs ~40 % less. The result
  is the same sum of per-image gradients, up to float rounding; it is used only where images are
  independent (no BatchNorm in train mode). On CUDA big batches are better: no micro-batching.
* **Compilation** fuses the memory-bound ops. Only first-order code is compiled (the real-image
  gradient, training steps, test-time forward passes): the synthetic-image gradient needs double
  backward, which ``torch.compile`` does not support. The compiled functions take the network as
  an argument, so fresh networks of one architecture reuse one graph. Compiling costs seconds per
  graph once per process, so ``auto`` compiles only long runs; if compilation fails (no C++
  compiler, an unsupported op) a warning is printed once and eager mode is used.
* **The compile cache** persists: unless ``TORCHINDUCTOR_CACHE_DIR`` is set, PyTorch's compiled
  graphs (inductor's FX graph and AOT-autograd caches) go to ``torch-compile/`` in the user cache
  (``condensation.data.env.cache_dir()``), not to a temporary folder, so a later run or process
  loads them instead of compiling again (``benchmarks/first_iteration.py`` measures both).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = ["Kernels", "COMPILE_MODES", "EAGER", "default_micro_batch", "resolve_micro_batch", "should_compile",
           "compile_cache_dir"]

COMPILE_MODES = ("auto", "on", "off")
CPU_MICRO_BATCH = 32


def should_compile(mode: str, worth_it: bool) -> bool:
    """``on`` -> True, ``off`` -> False, ``auto`` -> ``worth_it`` on torch >= 2.5 (older releases
    recompile for every fresh network, so compiling would not pay there)."""
    mode = str(mode).lower()
    if mode not in COMPILE_MODES:
        raise ValueError(f"invalid compile mode {mode!r}; allowed: {', '.join(COMPILE_MODES)}")
    if mode == "auto":
        major, minor = (int(v) for v in torch.__version__.split(".")[:2])
        return worth_it and (major, minor) >= (2, 5)
    return mode == "on"


def compile_cache_dir() -> Path:
    """Where torch.compile keeps its graphs: ``$TORCHINDUCTOR_CACHE_DIR`` if the user set it, else
    ``torch-compile/`` in the user cache (set here for PyTorch, which reads it on every compile)."""
    given = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if given and not _torch_default(given):  # PyTorch writes its default there once asked for it
        return Path(given)
    from .data.env import cache_dir

    folder = cache_dir() / "torch-compile"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # an unwritable cache: PyTorch's own temporary folder then
        return Path(folder)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)
    return folder


def _torch_default(path: str) -> bool:
    """Whether ``path`` is PyTorch's own default compile cache (a temporary folder)."""
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    except ImportError:  # another layout: trust the variable
        return False
    return os.path.abspath(path) == os.path.abspath(default_cache_dir())


def default_micro_batch(device: torch.device | str) -> int | None:
    """32 images on a CPU (cache-sized activations), None (whole batches) elsewhere."""
    return CPU_MICRO_BATCH if torch.device(device).type == "cpu" else None


def resolve_micro_batch(flag: int | None, device: torch.device | str) -> int | None:
    """A ``--micro-batch`` value: None -> the device's default, 0 -> whole batches, N -> N."""
    return default_micro_batch(device) if flag is None else (flag or None)


def _loss(net: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(net(x), y)


def _logits(net: nn.Module, x: Tensor) -> Tensor:
    return net(x)


class Kernels:
    """Cross-entropy gradients, training backward passes and predictions, micro-batched and
    optionally compiled. ``micro_batch=None`` processes whole batches."""

    def __init__(self, compile: bool = False, micro_batch: int | None = None, compile_test: bool | None = None) -> None:
        if micro_batch is not None and micro_batch < 1:
            raise ValueError(f"micro_batch must be positive or None, got {micro_batch}")
        self.compile = bool(compile)  # the training paths (loss, gradients)
        self.compile_test = self.compile if compile_test is None else bool(compile_test)  # predictions
        self.micro_batch = micro_batch
        self._failed = False
        self._loss: Callable = _loss
        self._logits: Callable = _logits
        if self.compile or self.compile_test:
            compile_cache_dir()
        if self.compile:
            self._loss = torch.compile(_loss, dynamic=False)
        if self.compile_test:
            self._logits = torch.compile(_logits, dynamic=False)

    def __repr__(self) -> str:
        test = "" if self.compile_test == self.compile else f", compiled_test={self.compile_test and not self._failed}"
        return f"Kernels(compiled={self.compile and not self._failed}{test}, micro_batch={self.micro_batch})"

    @classmethod
    def for_mode(cls, mode: str, worth_it: bool, micro_batch: int | None = None,
                 test_worth_it: bool | None = None) -> "Kernels":
        """``on`` / ``off``, or ``auto``: compile when ``worth_it`` (a long enough run); the
        prediction path when ``test_worth_it`` (default: as the training paths).

        Instances are shared per (compiled, micro_batch, test compiled), so graphs compiled for one
        evaluation are reused by the next one in the same process."""
        train = should_compile(mode, worth_it)
        key = (train, micro_batch, train if test_worth_it is None else should_compile(mode, test_worth_it))
        if key not in _SHARED:
            _SHARED[key] = cls(*key)
        return _SHARED[key]

    # ------------------------------------------------------------------ single calls
    def _fallback(self, error: Exception) -> None:
        if not self._failed:
            first_line = (str(error).splitlines() or [""])[0][:200]
            print(f"warning: torch.compile failed ({type(error).__name__}: {first_line}); continuing in eager mode",
                  file=sys.stderr)
        self._failed = True
        self._loss, self._logits = _loss, _logits

    def loss(self, net: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """Mean cross-entropy of ``net(x)`` against ``y`` in one call (first-order differentiable)."""
        if self.compile and not self._failed:
            try:
                return self._loss(net, x, y)
            except Exception as e:  # compilation errors surface on the first call
                self._fallback(e)
        return _loss(net, x, y)

    def logits(self, net: nn.Module, x: Tensor) -> Tensor:
        """``net(x)`` in one call."""
        if self.compile_test and not self._failed:
            try:
                return self._logits(net, x)
            except Exception as e:
                self._fallback(e)
        return _logits(net, x)

    # ------------------------------------------------------------------ micro-batched
    def _chunks(self, x: Tensor, y: Tensor) -> list[tuple[Tensor, Tensor]]:
        if self.micro_batch is None or x.shape[0] <= self.micro_batch:
            return [(x, y)]
        return list(zip(x.split(self.micro_batch), y.split(self.micro_batch)))

    def grad(self, net: nn.Module, x: Tensor, y: Tensor, params: Sequence[Tensor]) -> list[Tensor]:
        """Gradient of the mean cross-entropy over the batch with respect to ``params``.

        Requires that images do not interact (no BatchNorm in train mode)."""
        n = x.shape[0]
        total: list[Tensor] | None = None
        for xc, yc in self._chunks(x, y):
            grads = torch.autograd.grad(self.loss(net, xc, yc) * (xc.shape[0] / n), params)
            total = list(grads) if total is None else [t.add_(g) for t, g in zip(total, grads)]
        return total

    def backward(self, net: nn.Module, x: Tensor, y: Tensor, independent: bool = True) -> Tensor:
        """``loss.backward()`` for the mean cross-entropy, accumulating parameter gradients in
        micro-batches when ``independent`` (no train-mode BatchNorm). Returns the detached loss."""
        chunks = self._chunks(x, y) if independent else [(x, y)]
        n = x.shape[0]
        total = x.new_zeros(())
        for xc, yc in chunks:
            loss = self.loss(net, xc, yc) * (xc.shape[0] / n)
            loss.backward()
            total = total + loss.detach()
        return total

    def predict(self, net: nn.Module, x: Tensor) -> Tensor:
        """Logits of ``net`` on ``x`` in micro-batches (call under ``torch.inference_mode``)."""
        m = self.micro_batch
        if m is None or x.shape[0] <= m:
            return self.logits(net, x)
        chunks = list(x.split(m))
        last = chunks[-1].shape[0]
        if self.compile_test and last < m:  # pad the tail so a compiled graph sees one shape only
            chunks[-1] = torch.cat([chunks[-1], chunks[-1].new_zeros((m - last, *x.shape[1:]))])
        return torch.cat([self.logits(net, xc) for xc in chunks])[: x.shape[0]]


EAGER = Kernels(False)
_SHARED: dict[tuple[bool, int | None, bool], Kernels] = {(False, None, False): EAGER}
