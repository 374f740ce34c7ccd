"""Optional ``torch.compile`` of the hot first-order paths, with a clean fall-back to eager mode.

Half the time of a ConvNet step on a CPU goes to memory-bound ops (GroupNorm, ReLU, pooling and
their backward passes); compiling fuses them. Only first-order code is compiled: the loss whose
parameter gradient is the real-image target, training steps, and test-time forward passes. The
synthetic-image gradient needs double backward, which ``torch.compile`` does not support, so it
stays eager. The compiled functions take the network as an argument, so fresh networks of the
same architecture reuse one compiled graph (no recompilation per network).

Compilation costs seconds per graph once per process (cached on disk by PyTorch across runs), so
``mode="auto"`` compiles only when a run is long enough to win that back. If compilation fails
(no C++ compiler, an unsupported op), a warning is printed once and eager mode is used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = ["Kernels", "CompileMode", "COMPILE_MODES", "EAGER"]

CompileMode = Literal["auto", "on", "off"]
COMPILE_MODES = ("auto", "on", "off")


def _loss(net: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(net(x), y)


def _logits(net: nn.Module, x: Tensor) -> Tensor:
    return net(x)


class Kernels:
    """``loss(net, x, y)`` (cross-entropy) and ``logits(net, x)``, compiled or eager."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = bool(enabled)
        self._failed = False
        self._loss: Callable = _loss
        self._logits: Callable = _logits
        if self.enabled:
            self._loss = torch.compile(_loss, dynamic=False)
            self._logits = torch.compile(_logits, dynamic=False)

    def __repr__(self) -> str:
        return f"Kernels(compiled={self.enabled and not self._failed})"

    def _fallback(self, error: Exception) -> None:
        if not self._failed:
            print(f"warning: torch.compile failed ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
                  "continuing in eager mode", file=sys.stderr)
        self._failed = True
        self._loss, self._logits = _loss, _logits

    def loss(self, net: nn.Module, x: Tensor, y: Tensor) -> Tensor:
        """Mean cross-entropy of ``net(x)`` against ``y`` (first-order differentiable)."""
        if self.enabled and not self._failed:
            try:
                return self._loss(net, x, y)
            except Exception as e:  # compilation errors surface on the first call
                self._fallback(e)
        return _loss(net, x, y)

    def logits(self, net: nn.Module, x: Tensor) -> Tensor:
        """``net(x)``."""
        if self.enabled and not self._failed:
            try:
                return self._logits(net, x)
            except Exception as e:
                self._fallback(e)
        return _logits(net, x)

    @classmethod
    def for_mode(cls, mode: str, worth_it: bool) -> "Kernels":
        """``on`` / ``off``, or ``auto``: compile when ``worth_it`` (a long enough run)."""
        mode = str(mode).lower()
        if mode not in COMPILE_MODES:
            raise ValueError(f"invalid compile mode {mode!r}; allowed: {', '.join(COMPILE_MODES)}")
        return cls(mode == "on" or (mode == "auto" and worth_it))


EAGER = Kernels(False)
