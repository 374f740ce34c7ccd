"""Initialisation from explicit generators, and second-order gradients through the networks."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from condensation.models import ConvNet, ModelShape, build_model, init_parameters, list_models


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def state(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("name", ["convnet", "convnetbn", "convnetln", "mlp", "lenet", "alexnetbn", "resnet18bn_ap"])
def test_same_seed_same_network_different_seed_different(name):
    a = state(build_model(name, 3, 32, 10, generator=gen(7)))
    b = state(build_model(name, 3, 32, 10, generator=gen(7)))
    c = state(build_model(name, 3, 32, 10, generator=gen(8)))
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_building_with_a_generator_leaves_global_rng_alone():
    before = torch.random.get_rng_state()
    build_model("resnet18bn", 3, 32, 10, generator=gen())
    build_model("convnetln", 1, 28, 10, generator=gen())
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("name", ["convnet", "convnetbn", "convnetln", "resnet18", "alexnet"])
def test_init_parameters_on_a_built_network_equals_building_with_the_generator(name):
    """The meta-device path of build_model and a re-draw of an ordinary network agree exactly."""
    redrawn = init_parameters(build_model(name, 3, 32, 10), gen(5))
    built = build_model(name, 3, 32, 10, generator=gen(5))
    a, b = state(redrawn), state(built)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", list_models())
def test_init_bounds_and_norm_values(name):
    net = build_model(name, 3, 32, 10, generator=gen(11))
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            bound = 1 / math.sqrt(fan_in)
            assert module.weight.abs().max() <= bound
            if module.weight.numel() >= 1000:  # the draw spans the interval
                assert module.weight.abs().max() > 0.9 * bound
            if module.bias is not None:
                assert module.bias.abs().max() <= bound
        elif isinstance(module, (nn.GroupNorm, nn.LayerNorm, nn.BatchNorm2d)):
            assert torch.equal(module.weight, torch.ones_like(module.weight))
            assert torch.equal(module.bias, torch.zeros_like(module.bias))
            if isinstance(module, nn.BatchNorm2d):
                assert torch.equal(module.running_mean, torch.zeros_like(module.running_mean))
                assert torch.equal(module.running_var, torch.ones_like(module.running_var))
                assert module.num_batches_tracked.item() == 0


def test_init_distribution_is_pytorch_default():
    """U(-b, b) has mean 0 and std b/sqrt(3); compare with PyTorch's own default draw."""
    ours = build_model("vgg11", 3, 32, 10, generator=gen()).features[4].weight  # 64->128 conv
    torch.manual_seed(0)
    default = nn.Conv2d(64, 128, 3).weight
    bound = 1 / math.sqrt(64 * 9)
    for w in (ours, default):
        assert abs(w.mean().item()) < 0.02 * bound
        assert abs(w.std().item() - bound / math.sqrt(3)) < 0.01 * bound


def test_init_parameters_refuses_unknown_parameterised_modules():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.alpha = nn.Parameter(torch.ones(1))

    with pytest.raises(TypeError, match="Scale"):
        init_parameters(nn.Sequential(nn.Linear(2, 2), Scale()), gen())


def _matching_loss_backward(net, x):
    """DC's pattern: gradients w.r.t. the parameters with create_graph, a loss on them, backward to x."""
    y = torch.arange(x.shape[0]) % net.classifier.out_features
    params = [p for p in net.parameters() if p.requires_grad]
    grads = torch.autograd.grad(F.cross_entropy(net(x), y), params, create_graph=True)
    target = [torch.randn(g.shape, generator=gen(2), dtype=g.dtype) for g in grads]
    loss = sum(((g - t) ** 2).sum() for g, t in zip(grads, target))
    loss.backward()
    return x.grad


@pytest.mark.parametrize("name", ["convnet", "convnetbn", "convnetaswishbn", "convnetal", "convnetln", "resnet18bn", "resnet18_ap", "lenet", "mlp"])
def test_double_backward_through_the_network(name):
    net = build_model(name, 3, 32, 10, generator=gen())
    x = torch.randn(4, 3, 32, 32, generator=gen(1), requires_grad=True)
    gx = _matching_loss_backward(net, x)
    assert gx is not None and torch.isfinite(gx).all() and gx.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"norm": "batchnorm"},
        {"norm": "layernorm", "act": "sigmoid"},
        {"norm": "groupnorm", "act": "swish", "pooling": "maxpooling"},
        {"norm": "none", "act": "leakyrelu", "pooling": "none"},
    ],
)
def test_mixed_second_derivative_is_correct(kwargs):
    """Numerically check d/dx of the parameter gradient (what DC differentiates), in float64."""
    net = init_parameters(ConvNet(ModelShape(2, 8, 3), width=4, depth=2, **kwargs), gen(4)).double()
    x0 = torch.randn(2, 2, 8, 8, generator=gen(5), dtype=torch.float64)
    y = torch.tensor([0, 2])
    params = list(net.parameters())

    def param_grad(x):
        loss = F.cross_entropy(net(x), y)
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, create_graph=True)])

    assert torch.autograd.gradcheck(param_grad, (x0.requires_grad_(),), eps=1e-6, atol=1e-5)
