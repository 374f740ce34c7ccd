"""What every condensation method shares: the real-image pool, the learnable synthetic images and
the one update step that turns per-class losses into a step on the images.

A method (DC, DSA, DM, ...) implements ``iteration(syn, it)``: build whatever it needs for
iteration ``it`` (a fresh network, ...) and call ``syn.step(class_loss)`` one or more times, where
``class_loss(c, images_c)`` returns the loss of class ``c`` given its synthetic images. The step
back-propagates class by class (one graph alive at a time) and updates all classes jointly.

Randomness: iteration ``it`` of a run with seed ``s`` draws from streams named ``(s, kind, it, ...)``,
so a resumed run, or a class handled by another process, draws exactly what it would have drawn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..augment import DSA
from ..data import ClassSampler, DataError
from ..devices import to_device
from ..formation import decode, decode_labels
from ..kernels import EAGER, Kernels
from ..settings import POSITIVE_INT, setting
from .coreset import herding

__all__ = ["RealPool", "SyntheticImages", "Method", "Setup", "ClassLoss", "batch_real_setting"]

ClassLoss = Callable[[int, Tensor], Tensor]


class RealPool:
    """The real training images (uint8) with a per-class sampler.

    images: N x C x H x W uint8, on the compute device, or on the host while ``labels`` are on the
    compute device (a memory-mapped training set: each sampled batch is gathered on the host, so
    only its rows are read, and only the batch is copied to the device); labels: N int64.
    Sampling draws on a CPU generator, so a seed picks the same images on every device.
    """

    def __init__(self, images: Tensor, labels: Tensor, num_classes: int, normalize: Callable[[Tensor], Tensor]):
        self.images = images
        self.labels = labels
        self.num_classes = num_classes
        self.normalize = normalize
        self.sampler = ClassSampler(labels.cpu(), num_classes)
        empty = [c for c, k in enumerate(self.sampler.counts.tolist()) if k == 0]
        if empty:
            raise DataError(
                f"class(es) {', '.join(map(str, empty[:10]))} have no training images; every class needs at least one"
            )

    @property
    def smallest_class(self) -> int:
        """Images in the smallest class."""
        return int(self.sampler.counts.min())

    @property
    def device(self) -> torch.device:
        """The compute device: the images', or the labels' when the images stay on the host."""
        return self.labels.device if self.images.device.type == "cpu" else self.images.device

    def _gather(self, idx: Tensor) -> Tensor:
        """Rows ``idx`` (CPU indices) of the images, normalised, on the compute device."""
        if self.images.device == self.device:
            return self.normalize(self.images[to_device(idx, self.device)])
        return self.normalize(to_device(self.images[idx.to(self.images.device)], self.device))

    def class_batch(self, c: int, n: int, generator: torch.Generator) -> Tensor:
        """``n`` distinct random images of class ``c`` (all of them if the class is smaller), normalised."""
        return self._gather(self.sampler.sample(c, n, generator))

    def balanced(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """``n`` random images of every class, class-major, normalised, with their labels.

        Every class must have at least ``n`` images (``ValueError`` otherwise)."""
        return self._gather(self.sampler.sample_balanced(n, generator)), self._class_major_labels(n)

    def _class_major_labels(self, n: int) -> Tensor:
        """Labels of ``n`` images per class, class-major, on the compute device."""
        return torch.arange(self.num_classes, device=self.device).repeat_interleave(n)

    def herded(self, n: int) -> tuple[Tensor, Tensor]:
        """The ``n`` images of every class that herding picks in pixel space (for ``n`` = 1: the image
        nearest its class's mean image), class-major, normalised, with their labels. No randomness:
        the raw pixel values make the picks exact, the same on every device."""
        picks = []
        for c in range(self.num_classes):
            members = self.sampler.indices(c)  # CPU indices
            pixels = self.images[members.to(self.images.device)].flatten(1)
            picks.append(members[herding(pixels, n).cpu()])
        return self._gather(torch.cat(picks)), self._class_major_labels(n)

    def up_to(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Up to ``n`` random images of every class (all of a smaller class), normalised, with labels."""
        idx = [self.sampler.sample(c, n, generator) for c in range(self.num_classes)]
        labels = torch.cat([torch.full((len(i),), c, dtype=torch.long) for c, i in enumerate(idx)])
        return self._gather(torch.cat(idx)), to_device(labels, self.device)


class SyntheticImages:
    """The learnable synthetic set: ``images`` (leaf tensor, N x C x H x W, normalised space) and
    fixed class-major ``labels``, with the SGD optimiser that updates the images.

    ``factor`` > 1 (multi-formation, see ``formation``): ``images`` are the stored images, and
    methods see and train on their decoded ``factor**2`` times as many images (``of_class``,
    ``training_set``); gradients reach the stored pixels through the decoding.

    ``classes`` are the classes this process updates (default: all). In a distributed run each
    rank owns some classes; ``after_step(self)`` (set by the loop) then brings every rank's images
    up to date after each step, so methods never see a partial set.
    """

    def __init__(
        self,
        images: Tensor,
        ipc: int,
        num_classes: int,
        lr: float,
        momentum: float,
        classes: Sequence[int] | None = None,
        after_step: Callable[["SyntheticImages"], None] | None = None,
        optimizer: str = "sgd",
        factor: int = 1,
    ):
        if images.shape[0] != ipc * num_classes:
            raise ValueError(f"expected {ipc * num_classes} images (ipc x classes), got {images.shape[0]}")
        self.images = images.detach().clone().requires_grad_(True)
        self.ipc = ipc
        self.num_classes = num_classes
        self.labels = torch.arange(num_classes, device=images.device).repeat_interleave(ipc)
        if optimizer == "sgd":
            self.optimizer = torch.optim.SGD([self.images], lr=lr, momentum=momentum)
        elif optimizer == "adam":
            self.optimizer = torch.optim.Adam([self.images], lr=lr)
        else:
            raise ValueError(f"unknown image optimizer {optimizer!r}; allowed: sgd, adam")
        self.base_lr = lr
        self.classes = list(range(num_classes)) if classes is None else list(classes)
        self.after_step = after_step
        self.factor = factor

    def set_lr_factor(self, factor: float) -> None:
        """Scale the learning rate to ``factor`` x the initial one (a schedule sets it every iteration)."""
        for group in self.optimizer.param_groups:
            group["lr"] = self.base_lr * factor

    def of_class(self, c: int) -> Tensor:
        """Class ``c``'s training images, differentiable in the leaf: ipc * factor**2 x C x H x W
        (for factor 1 a view of the leaf)."""
        return decode(self.images[c * self.ipc : (c + 1) * self.ipc], self.factor)

    def differentiable_set(self) -> tuple[Tensor, Tensor]:
        """All training images (decoded, differentiable in the leaf) and their labels, class-major."""
        return decode(self.images, self.factor), decode_labels(self.labels, self.factor)

    def training_set(self) -> tuple[Tensor, Tensor]:
        """All training images (decoded, detached) and their labels, class-major."""
        with torch.no_grad():
            return decode(self.images.detach(), self.factor), decode_labels(self.labels, self.factor)

    def step(self, class_loss: ClassLoss, classes: Sequence[int] | None = None) -> Tensor:
        """One optimiser step on the images for the summed loss over ``classes`` (default: all).

        Each class's loss is back-propagated on its own (only its graph is alive), gradients
        accumulate on ``images``, then one step updates every class. Returns the summed loss
        (a detached device scalar: no host sync).
        """
        classes = self.classes if classes is None else classes
        self.optimizer.zero_grad(set_to_none=True)
        total = self.images.new_zeros(())
        for c in classes:
            loss = class_loss(c, self.of_class(c))
            loss.backward(inputs=[self.images])
            total = total + loss.detach()
        self._step()
        return total

    def step_joint(self, loss_of: Callable[[Sequence[int]], Tensor], classes: Sequence[int] | None = None,
                   extra: Sequence[Tensor] = ()) -> Tensor:
        """One optimiser step for a loss computed over all ``classes`` at once (default: this
        process's classes); ``loss_of(classes)`` returns the summed loss. ``extra`` leaf tensors
        (e.g. a learnable learning rate) get their gradients from the same backward pass; the
        method steps them. Returns the loss detached. With no classes (a process of a run with
        more processes than classes) nothing is computed, the step is still taken (every process
        steps together) and the loss is 0."""
        classes = self.classes if classes is None else classes
        self.optimizer.zero_grad(set_to_none=True)
        if not len(classes):
            self._step()
            return self.images.new_zeros(())
        loss = loss_of(classes)
        loss.backward(inputs=[self.images, *extra])
        self._step()
        return loss.detach()

    def _step(self) -> None:
        if self.images.grad is None:  # no class on this process: nothing moves, nothing to step
            self.images.grad = torch.zeros_like(self.images)
        self.optimizer.step()
        if self.after_step is not None:
            self.after_step(self)

    def state_dict(self) -> dict:
        return {"images": self.images.detach().cpu(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        with torch.no_grad():
            self.images.copy_(state["images"].to(self.images.device))
        self.optimizer.load_state_dict(state["optimizer"])


def batch_real_setting() -> Any:
    """The ``batch_real`` field of every method that samples real batches per class (one
    declaration, so the flag is the same whichever method takes it)."""
    return setting(None, kind=POSITIVE_INT, help="real images per class per match (default: the preset's)")


@dataclass
class Setup:
    """What the loop hands a method: the real images, the network it condenses with (name and the
    data's shape), the run's seed, the DSA augmentation (None when the method or strategy has none),
    the networks' training settings (``lr_net``, ``batch_train``) and the compute kernels."""

    pool: RealPool
    model: str
    channels: int
    image_size: tuple[int, int]
    ipc: int
    seed: int
    augment: DSA | None = None
    lr_net: float = 0.01
    batch_train: int = 256
    kernels: Kernels = EAGER
    factor: int = 1
    dataset: Any = None  # the Dataset (its spec, splits, fingerprint), for methods that need more than the pool

    @property
    def num_classes(self) -> int:
        return self.pool.num_classes


class Method(ABC):
    """A condensation method: one ``iteration`` updates the synthetic images.

    Registered with ``methods.registry.register_method``; the loop builds it with
    ``from_setup(setup, params)`` (``params``: the method's own dataclass, resolved), calls
    ``iteration`` once per iteration, saves ``state_dict()`` in the checkpoint (a method with
    learnable state of its own resumes bit-identically) and ``meta()`` in the set file."""

    name: str = "method"

    @classmethod
    def from_setup(cls, setup: Setup, params: Any) -> "Method":
        """The method for one run (default: ``cls(setup, params)``)."""
        return cls(setup, params)

    @abstractmethod
    def iteration(self, syn: SyntheticImages, it: int) -> Tensor:
        """Run iteration ``it``; return the mean loss per class step (detached device scalar)."""

    def state_dict(self) -> dict[str, Any]:
        """State of the method's own that a resumed run needs (tensors on the CPU); default none."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output."""
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got {sorted(state)}")

    def meta(self) -> dict[str, Any]:
        """Plain values saved into the set file's ``meta`` beside the settings (e.g. a learned rate)."""
        return {}

    def fingerprint(self) -> Tensor | None:
        """A checksum (device scalar) of what every process computed identically in the last
        iteration, e.g. the network the inner loop trained; under ``torchrun`` the loop stops if
        the processes' checksums differ. Default: None (nothing to compare)."""
        return None
