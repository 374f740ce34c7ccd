"""Parameter initialisation from an explicit ``torch.Generator``.

:func:`init_parameters` re-draws every parameter of a network with the distributions PyTorch's
own constructors use, but from the given generator instead of the global one, so that one seed
reproduces a network exactly and nothing touches global random state.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["init_parameters"]

_WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)
_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
if hasattr(nn, "RMSNorm"):
    _NORMS = _NORMS + (nn.RMSNorm,)


def _fan_in(weight: torch.Tensor) -> int:
    """PyTorch's fan-in: ``weight.shape[1]`` times the receptive-field size (the product of
    ``shape[2:]``); for a convolution ``in_channels / groups · kh · kw``, for a linear layer ``in``."""
    if weight.dim() < 2:
        raise ValueError("fan-in needs a weight with at least 2 dimensions")
    return weight.shape[1] * math.prod(weight.shape[2:])


def _uniform_(p: torch.Tensor, bound: float, generator: torch.Generator) -> None:
    """``p ~ U(-bound, bound)`` drawn from ``generator``, also when ``p`` lives on another device."""
    if p.device == generator.device:
        p.uniform_(-bound, bound, generator=generator)
    else:  # e.g. a CUDA network and a CPU generator: draw on the generator's device, then copy
        p.copy_(torch.empty(p.shape, dtype=p.dtype, device=generator.device).uniform_(-bound, bound, generator=generator))


@torch.no_grad()
def init_parameters(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise every parameter of ``net`` in place from ``generator``; returns ``net``.

    Distributions (PyTorch's defaults):

    * Conv / Linear weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (what
      ``kaiming_uniform_(a=sqrt(5))`` gives) and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in));
    * normalisation layers (BatchNorm, GroupNorm, LayerNorm, InstanceNorm): weight 1, bias 0, and
      BatchNorm running statistics reset (mean 0, variance 1, ``num_batches_tracked`` 0).

    Draws happen module by module in registration order (``net.modules()``), weight before bias,
    so the result depends only on the generator's state. Buffers other than BatchNorm statistics
    are left alone. A module type with parameters of its own that is not covered above raises
    ``TypeError`` rather than being silently left uninitialised.
    """
    for module in net.modules():
        if isinstance(module, _WEIGHTED):
            weight = module.weight
            bound = 1.0 / math.sqrt(_fan_in(weight)) if weight.numel() else 0.0
            _uniform_(weight, bound, generator)
            if module.bias is not None:
                _uniform_(module.bias, bound, generator)
        elif isinstance(module, _NORMS):
            if getattr(module, "weight", None) is not None:
                module.weight.fill_(1.0)
            if getattr(module, "bias", None) is not None:
                module.bias.fill_(0.0)
            if isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats:
                module.reset_running_stats()
        elif any(p is not None for p in module._parameters.values()):
            raise TypeError(
                f"init_parameters does not know how to initialise {type(module).__name__}; "
                f"initialise its parameters yourself"
            )
    return net
