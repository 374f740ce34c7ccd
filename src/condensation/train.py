"""Training and testing a network: the short, visible loops every method and the evaluation share.

No DataLoader: the training set is a pair of tensors on the device, shuffled with one ``randperm``
per epoch (drawn on the CPU generator, copied without a sync) and sliced into batches. Nothing here
syncs with the host: ``fit`` and ``accuracy`` return device scalars.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
from torch import Tensor

from .devices import to_device
from .kernels import EAGER, Kernels
from .models import has_batchnorm

__all__ = ["fit", "accuracy", "Augment"]

# An augmentation: (images, CPU generator) -> augmented images. DSA and ClassicAugment both fit.
Augment = Callable[[Tensor, torch.Generator], Tensor]


def fit(
    net: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    batch_size: int = 256,
    augment: Augment | None = None,
    generator: torch.Generator,
    lr_drop_epoch: int | None = None,
    kernels: Kernels = EAGER,
    on_epoch: Callable[[], None] | None = None,
) -> Tensor:
    """Train ``net`` in place for ``epochs`` epochs of mini-batch SGD on (images, labels).

    images: N x C x H x W (normalised, on the network's device); labels: N (int64).
    ``generator`` (CPU) draws the shuffling and augmentation. At ``lr_drop_epoch`` every learning
    rate is multiplied by 0.1 and the optimiser's state (momentum) is reset, as the DC/DSA protocol
    does by building a fresh optimiser. ``kernels`` may hold a compiled loss; ``on_epoch()`` is called
    after every epoch (a progress bar). Returns the last epoch's mean training loss (device scalar).
    """
    net.train()
    independent = not has_batchnorm(net)  # images of a batch do not interact: micro-batching is exact
    n = images.shape[0]
    images = images.detach()
    last_loss = images.new_zeros(())
    for epoch in range(epochs):
        if epoch == lr_drop_epoch:
            for group in optimizer.param_groups:
                group["lr"] *= 0.1
            optimizer.state.clear()
        if n <= batch_size:  # one full batch: the order inside it does not matter
            batches = [(images, labels)]
        else:
            order = to_device(torch.randperm(n, generator=generator), images.device)
            batches = [(images[idx], labels[idx]) for idx in order.split(batch_size)]
        epoch_loss = images.new_zeros(())
        for x, y in batches:
            if augment is not None:
                x = augment(x, generator)
            optimizer.zero_grad(set_to_none=True)
            loss = kernels.backward(net, x, y, independent=independent)
            optimizer.step()
            epoch_loss = epoch_loss + loss * y.shape[0]
        last_loss = epoch_loss / n
        if on_epoch is not None:
            on_epoch()
    return last_loss


@torch.inference_mode()
def accuracy(
    net: nn.Module,
    images: Tensor,
    labels: Tensor,
    normalize: Callable[[Tensor], Tensor] | None = None,
    batch_size: int = 500,
    kernels: Kernels = EAGER,
) -> Tensor:
    """Fraction of ``images`` classified as ``labels`` by ``net`` in eval mode (a device scalar).

    ``images`` may be uint8 with ``normalize`` turning a batch into network input, so a test set
    is kept compact on the device and normalised on the fly.
    """
    net.eval()
    correct = torch.zeros((), dtype=torch.long, device=labels.device)
    for x, y in zip(images.split(batch_size), labels.split(batch_size)):
        if normalize is not None:
            x = normalize(x)
        correct += (kernels.predict(net, x).argmax(1) == y).sum()
    return correct.double() / labels.shape[0]
