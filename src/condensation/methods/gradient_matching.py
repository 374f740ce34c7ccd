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
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..augment import DSA, SIDES
from ..errors import ConfigError
from ..kernels import EAGER, Kernels
from ..models import build_model, has_batchnorm
from ..rng import make_generator
from ..settings import COUNT, POSITIVE_INT, setting
from ..train import fit
from .base import Method, RealPool, Setup, SyntheticImages, batch_real_setting
from .distances import METRICS, gradient_distance
from .registry import register_method

__all__ = ["GradientMatching", "GradientMatchingParams", "DSAParams", "BN_BATCH_PER_CLASS", "loops_for_ipc",
           "MATCHINGS", "SIDES", "BN_MODES"]

BN_BATCH_PER_CLASS = 16  # real images per class for the BatchNorm statistics pass
MATCHINGS = ("classwise", "joint")
BN_MODES = ("reference", "exact")

# The authors' (outer_loop, inner_loop) per images-per-class.
_LOOP_TABLE = {1: (1, 1), 10: (10, 50), 20: (20, 25), 30: (30, 20), 40: (40, 15), 50: (50, 10)}


def loops_for_ipc(ipc: int) -> tuple[int, int]:
    """(outer_loop, inner_loop) for ``ipc`` images per class.

    The authors' table for 1, 10, 20, 30, 40, 50. Elsewhere (their code exits): 2-9 use
    ``(ipc, 50)`` like ipc 10 (one synthetic update per image per iteration, network trained for
    50 epochs between updates); 11-49 interpolate linearly between the neighbouring entries;
    above 50 use ``(50, 10)``, the authors' advice for large sets (issue #2 of their repository).
    """
    if ipc < 1:
        raise ConfigError(f"ipc must be a positive integer, got {ipc}")
    if ipc in _LOOP_TABLE:
        return _LOOP_TABLE[ipc]
    if ipc < 10:
        return ipc, 50
    if ipc > 50:
        return _LOOP_TABLE[50]
    lo = (ipc // 10) * 10
    hi = lo + 10
    t = (ipc - lo) / 10
    (o1, i1), (o2, i2) = _LOOP_TABLE[lo], _LOOP_TABLE[hi]
    return round(o1 + t * (o2 - o1)), round(i1 + t * (i2 - i1))


@dataclass
class GradientMatchingParams:
    """DC's hyper-parameters (DC, Zhao et al. ICLR 2021; the authors' ``main.py``). ``outer_loop``
    and ``inner_loop`` default to the authors' table for the run's ipc (``loops_for_ipc``)."""

    batch_real: int | None = batch_real_setting()
    outer_loop: int | None = setting(None, kind=POSITIVE_INT, help="image updates per iteration (default: the paper's table for ipc)")
    inner_loop: int | None = setting(None, kind=COUNT, help="network epochs between updates (default: the paper's table for ipc)")
    metric: str = setting("ours", choices=METRICS, help="gradient distance: ours (layer-wise cosine, default), mse, cos")
    matching: str = setting("classwise", choices=MATCHINGS, help="classwise (each class's gradients on their own, the papers'; default) or joint (the sums over classes, ours, after DCC)")
    bn_stats: str = setting("reference", choices=BN_MODES, help="BatchNorm statistics frozen during matching: reference (the authors' single momentum-0.1 pass) or exact")

    def steps_per_iteration(self) -> int:
        """Image updates per iteration (``torch.compile`` pays off from 10 in a run)."""
        return self.outer_loop

    def complete(self, ipc: int, dataset: str | None = None) -> "GradientMatchingParams":
        outer, inner = loops_for_ipc(ipc)
        return replace(self, outer_loop=self.outer_loop or outer, inner_loop=inner if self.inner_loop is None else self.inner_loop)


@dataclass
class DSAParams(GradientMatchingParams):
    """DSA's hyper-parameters: DC's, and where the DSA draw goes while matching (the paper's ablation)."""

    dsa_sides: str = setting("siamese", choices=SIDES, cli=False, help="where the DSA draw goes while matching: siamese (one draw for both batches: DSA), or the ablation's real, synthetic, independent, none")


# The budgets (``paper``: the authors'; ``quick``: a 2-core CPU's minutes; ``fast``: ours, issue #7:
# a quarter of the real batch and 600 iterations, at ipc 1 multi-formation with 300).
GM_PRESETS = {
    "paper": {"iterations": 1000, "batch_real": 256, "num_eval": 20, "eval_every": 500},
    "quick": {"iterations": 30, "batch_real": 256, "num_eval": 3},
    "fast": {"iterations": 600, "batch_real": 64, "num_eval": 5, "_ipc": {1: {"factor": 2, "iterations": 300}}},
}


class GradientMatching(Method):
    """DC (``augment=None``) or DSA (``augment=DSA(...)``) gradient matching.

    Parameters mirror the paper: ``batch_real`` real images per class and match, ``outer_loop`` /
    ``inner_loop`` per iteration, the network trained with plain SGD (``lr_net``, batch
    ``batch_train``), ``metric`` one of ours/mse/cos, ``matching`` "classwise" (the papers': the
    summed distances of the classes' gradients) or "joint" (the distance of the summed gradients;
    the same real batches, draws and images, one distance per step). ``sides`` says where the
    DSA draw goes while matching: "siamese" (one draw shared by the real and the synthetic batch: DSA), or, for the
    paper's ablation, "real" / "synthetic" (only that batch, per-image draws) or "independent"
    (both, independent per-image draws) or "none" (neither). The inner loop is augmented in every case. ``bn_stats`` says how BatchNorm networks get
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
        self._checksum: Tensor | None = None

    @classmethod
    def from_setup(cls, setup: Setup, params: GradientMatchingParams) -> "GradientMatching":
        return cls(
            setup.pool, model=setup.model, channels=setup.channels, image_size=setup.image_size, seed=setup.seed,
            outer_loop=params.outer_loop, inner_loop=params.inner_loop, batch_real=params.batch_real,
            batch_train=setup.batch_train, lr_net=setup.lr_net, metric=params.metric, matching=params.matching,
            augment=setup.augment, sides=getattr(params, "dsa_sides", "siamese"), bn_stats=params.bn_stats,
            name=cls.name, kernels=setup.kernels,
        )

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
        g_syn = make_generator(self.seed, "dsa-syn", it, ol, c) if self.sides in ("synthetic", "independent") else None
        return self.augment.sided(real, syn, self.sides, g, g_syn)

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
    def fingerprint(self) -> Tensor | None:
        """A checksum of the networks of the last iteration, after each inner loop (every process
        trains them identically)."""
        return self._checksum

    @staticmethod
    def _network_checksum(params: list[Tensor]) -> Tensor:
        with torch.no_grad():
            return sum(p.detach().double().sum() + p.detach().double().square().sum() for p in params)

    def iteration(self, syn: SyntheticImages, it: int) -> Tensor:
        net = self.fresh_network(it)
        params = [p for p in net.parameters() if p.requires_grad]
        self._checksum = self._network_checksum(params)
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
            self._checksum = self._checksum + self._network_checksum(params)
        steps = self.outer_loop * (1 if self.matching == "joint" else self.real.num_classes)
        return total / steps  # the mean distance per matching (classwise: per class and step)


@register_method("dsa", params=DSAParams, lr_img=0.1, protocol="dsa", init="real", augments=True, presets=GM_PRESETS,
                 classwise=lambda p: p.matching == "classwise",
                 summary="gradient matching with Differentiable Siamese Augmentation (Zhao & Bilen, ICML 2021)")
class DSAMatching(GradientMatching):
    """DSA: gradient matching with one shared DSA draw for the real and the synthetic batch."""

    name = "dsa"


@register_method("dc", params=GradientMatchingParams, lr_img=0.1, protocol="dc", init="noise", augments=False,
                 presets=GM_PRESETS, classwise=lambda p: p.matching == "classwise",
                 summary="gradient matching (Zhao, Mopuri & Bilen, ICLR 2021)")
class DCMatching(GradientMatching):
    """DC: gradient matching without augmentation (the DC paper initialises from noise)."""

    name = "dc"
