"""Gradient matching (DC, Zhao et al. ICLR 2021) and its Siamese-augmented form (DSA, ICML 2021).

One iteration: a freshly initialised network; ``outer_loop`` times, (a) for every class make the
gradient of the loss on the class's synthetic images match the gradient on a batch of its real
images (DSA: both batches first go through one shared random augmentation) and take one SGD step
on the images (``matching="joint"``, ours after DCC: match the sums over classes of those
gradients, so the distance also sees what separates the classes), then (b) unless it was the
last outer step, train the network for ``inner_loop`` epochs on the current synthetic set
(DSA-augmented per image for DSA).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..augment import DSA
from ..kernels import EAGER, Kernels
from ..models import build_model, has_batchnorm
from ..rng import make_generator
from ..train import fit
from .base import Method, RealPool, SyntheticImages
from .distances import gradient_distance

__all__ = ["GradientMatching", "BN_BATCH_PER_CLASS"]

BN_BATCH_PER_CLASS = 16  # real images per class for the BatchNorm statistics pass
SIDES = ("siamese", "real", "synthetic", "independent")
MATCHINGS = ("classwise", "joint")


class GradientMatching(Method):
    """DC (``augment=None``) or DSA (``augment=DSA(...)``) gradient matching.

    Parameters mirror the paper: ``batch_real`` real images per class and match, ``outer_loop`` /
    ``inner_loop`` per iteration, the network trained with plain SGD (``lr_net``, batch
    ``batch_train``), ``metric`` one of ours/mse/cos, ``matching`` "classwise" (the papers': the
    summed distances of the classes' gradients) or "joint" (the distance of the summed gradients;
    the same real batches, draws and images, one distance per step). ``sides`` says where the
    DSA draw goes while matching: "siamese" (one draw shared by the real and the synthetic batch: DSA), or, for the
    paper's ablation, "real" / "synthetic" (only that batch, per-image draws) or "independent"
    (both, independent per-image draws). The inner loop is augmented in every case. ``bn_stats`` says how BatchNorm networks get
    the statistics that are frozen during matching: "reference" (one forward pass of 16 real images
    per class in train mode with the default momentum, as the authors) or "exact" (statistics reset
    and set to that batch's exact mean and variance). ``kernels`` may hold a compiled loss for the
    first-order paths (real gradients, network training).
    """

    def __init__(
        self,
        real: RealPool,
        *,
        model: str,
        channels: int,
        image_size: tuple[int, int],
        seed: int,
        outer_loop: int,
        inner_loop: int,
        batch_real: int = 256,
        batch_train: int = 256,
        lr_net: float = 0.01,
        metric: str = "ours",
        matching: str = "classwise",
        augment: DSA | None = None,
        sides: str = "siamese",
        bn_stats: str = "reference",
        name: str | None = None,
        kernels: Kernels = EAGER,
    ) -> None:
        self.real = real
        self.model = model
        self.channels = channels
        self.image_size = tuple(image_size)
        self.seed = seed
        self.outer_loop = outer_loop
        self.inner_loop = inner_loop
        self.batch_real = batch_real
        self.batch_train = batch_train
        self.lr_net = lr_net
        self.metric = metric
        if matching not in MATCHINGS:
            raise ValueError(f"unknown matching {matching!r}; allowed: {', '.join(MATCHINGS)}")
        self.matching = matching
        self.augment = augment if augment is not None and augment.enabled else None
        if sides not in SIDES:
            raise ValueError(f"unknown DSA sides {sides!r}; allowed: {', '.join(SIDES)}")
        self.sides = sides
        self.bn_stats = bn_stats
        self.name = name or ("dsa" if self.augment is not None else "dc")
        self.kernels = kernels

    # ------------------------------------------------------------------ pieces
    def fresh_network(self, it: int) -> nn.Module:
        """The randomly initialised network of iteration ``it`` (train mode, on the data's device)."""
        net = build_model(
            self.model,
            channels=self.channels,
            image_size=self.image_size,
            num_classes=self.real.num_classes,
            generator=make_generator(self.seed, "net", it),
        )
        return net.to(self.real.device).train()

    def freeze_batchnorm(self, net: nn.Module, it: int, ol: int) -> None:
        """Set BatchNorm statistics from real images of every class, then put BN in eval mode."""
        g = make_generator(self.seed, "bn", it, ol)
        x, _ = self.real.up_to(BN_BATCH_PER_CLASS, g)
        bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        saved = [m.momentum for m in bns]
        if self.bn_stats == "exact":
            for m in bns:
                m.reset_running_stats()
                m.momentum = None  # cumulative average: one pass gives that batch's exact statistics
        net.train()
        with torch.no_grad():
            net(x)
        for m, momentum in zip(bns, saved):
            m.momentum = momentum
            m.eval()

    def _class_pair(self, net: nn.Module, params: list[Tensor], it: int, ol: int, c: int, syn: Tensor) -> tuple[list[Tensor], Tensor]:
        """Class ``c``'s real gradient (detached) and its synthetic images' loss (mean cross-entropy,
        graph alive), both batches through the class's DSA draw."""
        real = self.real.class_batch(c, self.batch_real, make_generator(self.seed, "real", it, ol, c))
        if self.augment is not None:
            real, syn = self._augment(real, syn, it, ol, c)
        y_real = torch.full((real.shape[0],), c, dtype=torch.long, device=real.device)
        y_syn = torch.full((syn.shape[0],), c, dtype=torch.long, device=syn.device)
        g_real = self.kernels.grad(net, real, y_real, params)  # BatchNorm, if any, is frozen here
        return [g.detach() for g in g_real], F.cross_entropy(net(syn), y_syn)

    def class_loss(self, net: nn.Module, params: list[Tensor], it: int, ol: int) -> Callable[[int, Tensor], Tensor]:
        """The matching loss of class ``c`` for the synthetic images ``syn`` (ipc x C x H x W)."""

        def loss(c: int, syn: Tensor) -> Tensor:
            g_real, loss_syn = self._class_pair(net, params, it, ol, c, syn)
            g_syn = torch.autograd.grad(loss_syn, params, create_graph=True)
            return gradient_distance(g_syn, g_real, self.metric)

        return loss

    def joint_loss(self, net: nn.Module, params: list[Tensor], syn: SyntheticImages, it: int, ol: int) -> Callable[[Sequence[int]], Tensor]:
        """The distance between the sums over ``classes`` of the real and of the synthetic gradients."""

        def loss(classes: Sequence[int]) -> Tensor:
            g_real: list[Tensor] | None = None
            loss_syn = syn.images.new_zeros(())
            for c in classes:
                g, l = self._class_pair(net, params, it, ol, c, syn.of_class(c))
                g_real = g if g_real is None else [a.add_(b) for a, b in zip(g_real, g)]
                loss_syn = loss_syn + l
            g_syn = torch.autograd.grad(loss_syn, params, create_graph=True)
            return gradient_distance(g_syn, g_real, self.metric)

        return loss

    def _augment(self, real: Tensor, syn: Tensor, it: int, ol: int, c: int) -> tuple[Tensor, Tensor]:
        g = make_generator(self.seed, "dsa", it, ol, c)
        if self.sides == "siamese":
            return self.augment.siamese(real, syn, generator=g)
        if self.sides in ("real", "independent"):
            real = self.augment(real, g)
        if self.sides in ("synthetic", "independent"):
            syn = self.augment(syn, make_generator(self.seed, "dsa-syn", it, ol, c))
        return real, syn

    def train_network(self, net: nn.Module, optimizer: torch.optim.Optimizer, syn: SyntheticImages, it: int, ol: int) -> None:
        """The inner loop: ``inner_loop`` epochs of SGD on the (detached) synthetic set."""
        images, labels = syn.training_set()
        fit(
            net,
            images,
            labels,
            optimizer=optimizer,
            epochs=self.inner_loop,
            batch_size=self.batch_train,
            augment=self.augment,
            generator=make_generator(self.seed, "inner", it, ol),
            kernels=self.kernels,
        )

    # ------------------------------------------------------------------ one iteration
    def iteration(self, syn: SyntheticImages, it: int) -> Tensor:
        net = self.fresh_network(it)
        params = [p for p in net.parameters() if p.requires_grad]
        optimizer = torch.optim.SGD(params, lr=self.lr_net)  # plain SGD, as the authors' current code
        uses_bn = has_batchnorm(net)
        total = syn.images.new_zeros(())
        for ol in range(self.outer_loop):
            if uses_bn:
                self.freeze_batchnorm(net, it, ol)
            if self.matching == "joint":
                total = total + syn.step_joint(self.joint_loss(net, params, syn, it, ol))
            else:
                total = total + syn.step(self.class_loss(net, params, it, ol))
            if ol == self.outer_loop - 1:
                break  # the network is not trained after the last update of the iteration
            self.train_network(net, optimizer, syn, it, ol)
        steps = self.outer_loop * (1 if self.matching == "joint" else self.real.num_classes)
        return total / steps  # the mean distance per matching (classwise: per class and step)
