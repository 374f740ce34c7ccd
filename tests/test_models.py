"""The network zoo: names, shapes on every dataset's input size, and the reference's parameter counts."""

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from condensation.models import (
    ModelShape,
    build_model,
    canonical_name,
    count_parameters,
    display_name,
    has_batchnorm,
    list_models,
    strip_batchnorm,
)

ALL = [
    "convnet", "convnetd1", "convnetd2", "convnetd3", "convnetd4",
    "convnetw32", "convnetw64", "convnetw128", "convnetw256",
    "convnetas", "convnetar", "convnetal", "convnetaswish", "convnetaswishbn",
    "convnetnn", "convnetbn", "convnetln", "convnetin", "convnetgn",
    "convnetnp", "convnetmp", "convnetap",
    "mlp", "lenet", "alexnet", "alexnetbn", "vgg11", "vgg11bn",
    "resnet18", "resnet18bn", "resnet18_ap", "resnet18bn_ap",
]  # fmt: skip

# (channels, image size, classes): the datasets' inputs, plus two the reference cannot take
SHAPES = {
    "mnist": (1, (28, 28), 10),
    "cifar10": (3, (32, 32), 10),
    "cifar100": (3, (32, 32), 100),
    "tinyimagenet": (3, (64, 64), 200),
    "gray32": (1, (32, 32), 10),  # e.g. USPS resized: the reference's padding rule breaks here
    "folder": (3, (40, 48), 7),  # a non-square image folder
}


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_list_models_is_the_full_registry_in_display_order():
    assert list_models() == ALL


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dataset", list(SHAPES))
def test_forward_and_embed_shapes(name, dataset):
    channels, size, classes = SHAPES[dataset]
    net = build_model(name, channels, size, classes, generator=gen())
    assert net.training
    x = torch.randn(2, channels, *size, generator=gen(1))
    out = net(x)
    assert out.shape == (2, classes)
    assert torch.isfinite(out).all()
    net.eval()  # BatchNorm: same statistics for both calls below
    with torch.no_grad():
        feats = net.embed(x)
        assert feats.shape == (2, net.feature_dim)
        assert torch.isfinite(feats).all()
        assert torch.allclose(net.classifier(feats), net(x))
    assert isinstance(net.classifier, nn.Linear)
    assert (net.classifier.in_features, net.classifier.out_features) == (net.feature_dim, classes)


COUNTS = [
    # name, channels, size, classes, parameters (reference §5)
    ("convnet", 3, 32, 10, 320_010),
    ("convnet", 1, 28, 10, 317_706),
    ("convnetd1", 3, 32, 10, 331_530),
    ("convnetd2", 3, 32, 10, 233_610),
    ("convnetd3", 3, 32, 10, 320_010),
    ("convnetd4", 3, 32, 10, 452_490),
    ("convnetw32", 3, 32, 10, 24_714),
    ("convnetw64", 3, 32, 10, 86_282),
    ("convnetw128", 3, 32, 10, 320_010),
    ("convnetw256", 3, 32, 10, 1_229_834),
    ("convnetln", 3, 32, 10, 663_306),
    ("convnetnn", 3, 32, 10, 319_242),
    ("convnetnp", 3, 32, 10, 1_610_250),
    ("convnetbn", 3, 32, 10, 320_010),
    ("convnetgn", 3, 32, 10, 320_010),
    ("convnetaswishbn", 3, 32, 10, 320_010),
    ("convnet", 3, 64, 200, 1_938_120),
    ("convnetd4", 3, 64, 200, 857_160),
    ("mlp", 3, 32, 10, 411_146),
    ("mlp", 1, 28, 10, 118_282),
    ("lenet", 3, 32, 10, 62_006),
    ("lenet", 1, 28, 10, 61_706),
    ("alexnet", 3, 32, 10, 1_872_202),
    ("alexnetbn", 3, 32, 10, 1_874_122),
    ("vgg11", 3, 32, 10, 9_231_114),
    ("vgg11bn", 3, 32, 10, 9_231_114),
    ("resnet18", 3, 32, 10, 11_173_962),
    ("resnet18bn", 3, 32, 10, 11_173_962),
    ("resnet18_ap", 3, 32, 10, 11_250_762),
    ("resnet18bn_ap", 3, 32, 10, 11_250_762),
]


@pytest.mark.parametrize("name,channels,size,classes,expected", COUNTS)
def test_parameter_counts_match_reference(name, channels, size, classes, expected):
    assert count_parameters(build_model(name, channels, size, classes, generator=gen())) == expected


@pytest.mark.parametrize(
    "name,size,dim",
    [
        ("convnet", 32, 2048), ("convnet", 28, 2048), ("convnet", 64, 8192), ("convnetd4", 64, 2048),
        ("convnetd1", 32, 32768), ("convnetd2", 32, 8192), ("convnetnp", 32, 131072),
        ("resnet18bn_ap", 32, 8192), ("resnet18_ap", 28, 4608), ("resnet18", 64, 512),
        ("alexnet", 28, 3072), ("vgg11", 28, 512), ("lenet", 28, 84), ("mlp", 28, 128),
    ],
)  # fmt: skip
def test_embedding_dimensions(name, size, dim):
    channels = 1 if size == 28 else 3
    assert build_model(name, channels, size, 10, generator=gen()).feature_dim == dim


def test_count_parameters_counts_trainable_only():
    net = build_model("convnet", 3, 32, 10, generator=gen())
    for p in net.features.parameters():
        p.requires_grad_(False)
    assert count_parameters(net) == 2048 * 10 + 10
    assert count_parameters(net, trainable_only=False) == 320_010


def test_names_are_case_insensitive():
    a = build_model("ConvNetBN", 3, (32, 32), 10, generator=gen(3))
    b = build_model(" convnetbn ", 3, (32, 32), 10, generator=gen(3))
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert canonical_name("ResNet18BN_AP") == "resnet18bn_ap"
    assert display_name("resnet18bn_ap") == "ResNet18BN_AP"
    assert display_name("CONVNETASWISHBN") == "ConvNetASwishBN"
    for name in list_models():
        assert display_name(name).lower() == name


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown model 'foo'; valid: convnet, convnetd1, .*resnet18bn_ap"):
        build_model("foo")


def test_default_shape_and_spec_arguments():
    net = build_model("mlp", generator=gen())  # defaults: 1x28x28, 10 classes
    assert net.features[1].in_features == 784 and net.classifier.out_features == 10
    spec = SimpleNamespace(name="cifar100", channels=3, image_size=(32, 32), num_classes=100)
    net = build_model("convnet", spec, generator=gen())
    assert net(torch.zeros(1, 3, 32, 32)).shape == (1, 100)
    assert build_model("convnet", ModelShape(3, 32, 100), generator=gen()).shape == ModelShape(3, (32, 32), 100)
    assert build_model("lenet", channels=3, image_size=32, num_classes=5, generator=gen()).classifier.out_features == 5
    with pytest.raises(TypeError):
        build_model("convnet", spec, num_classes=10)
    with pytest.raises(ValueError):
        build_model("convnet", 0, 32, 10)
    with pytest.raises(ValueError):
        build_model("convnet", 3, (32, 32, 3), 10)


def test_constructor_overrides():
    net = build_model("convnet", 3, 32, 10, generator=gen(), width=64, depth=2, norm="batchnorm")
    assert net.width == 64 and net.depth == 2 and has_batchnorm(net)
    assert count_parameters(build_model("convnet", 3, 32, 10, generator=gen(), width=64)) == 86_282
    with pytest.raises(ValueError, match="unknown norm"):
        build_model("convnet", 3, 32, 10, norm="weird")


def test_too_small_input_is_a_value_error():
    with pytest.raises(ValueError, match="VGG11"):
        build_model("vgg11", 3, 16, 10, generator=gen())
    with pytest.raises(ValueError, match="ConvNet"):
        build_model("convnet", 3, 4, 10)


def test_has_batchnorm_and_strip_batchnorm():
    for name in list_models():
        net = build_model(name, 3, 32, 10, generator=gen())
        assert has_batchnorm(net) == ("bn" in name), name
        plain = strip_batchnorm(name)
        assert not has_batchnorm(build_model(plain, 3, 32, 10, generator=gen()))
        assert plain == name or "bn" in name
    assert strip_batchnorm("ResNet18BN_AP") == "resnet18_ap"
    assert strip_batchnorm("ConvNetASwishBN") == "convnetaswish"
    assert strip_batchnorm("ConvNetBN") == "convnet"
    assert strip_batchnorm("vgg11") == "vgg11"


def test_networks_are_device_agnostic():
    """No tensor is created on a fixed device in forward: the whole network runs on 'meta'."""
    for name in ("convnet", "convnetln", "resnet18bn_ap", "lenet", "mlp"):
        net = build_model(name, 3, 32, 10, generator=gen()).to("meta")
        assert net(torch.empty(2, 3, 32, 32, device="meta")).shape == (2, 10)
        assert net.embed(torch.empty(2, 3, 32, 32, device="meta")).device.type == "meta"
