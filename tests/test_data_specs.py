"""Dataset specs: the reference constants, names and aliases, and the normalisation mapping."""

import dataclasses

import pytest
import torch

from condensation.data import DatasetSpec, get_spec, list_datasets

# name: (channels, (H, W), classes, mean, std, flip_ok) -- reference-implementation.md §6
REFERENCE = {
    "mnist": (1, (28, 28), 10, (0.1307,), (0.3081,), False),
    "fashion-mnist": (1, (28, 28), 10, (0.2861,), (0.3530,), True),
    "svhn": (3, (32, 32), 10, (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970), False),
    "cifar10": (3, (32, 32), 10, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), True),
    "cifar100": (3, (32, 32), 100, (0.5071, 0.4866, 0.4409), (0.2673, 0.2564, 0.2762), True),
    "tinyimagenet": (3, (64, 64), 200, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), True),
}


def test_list_datasets_is_the_six_builtins():
    assert list_datasets() == list(REFERENCE)


@pytest.mark.parametrize("name", list(REFERENCE))
def test_reference_constants(name):
    spec = get_spec(name)
    channels, size, n, mean, std, flip_ok = REFERENCE[name]
    assert spec.name == name
    assert spec.channels == channels and spec.image_size == size
    assert spec.num_classes == n == len(spec.classes) == len(set(spec.classes))
    assert spec.mean == mean and spec.std == std  # exactly, not approximately
    assert spec.flip_ok is flip_ok
    assert spec.shape == (channels, *size)


def test_class_names():
    assert get_spec("mnist").classes == tuple("0123456789")
    assert get_spec("svhn").classes == tuple("0123456789")
    assert get_spec("fashion-mnist").classes[0] == "T-shirt/top" and get_spec("fashion-mnist").classes[-1] == "Ankle boot"
    assert get_spec("cifar10").classes == (
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    )
    c100 = get_spec("cifar100").classes
    assert c100[0] == "apple" and c100[-1] == "worm" and list(c100) == sorted(c100)
    wnids = get_spec("tinyimagenet").classes
    assert wnids[0] == "n01443537" and wnids[-1] == "n12267677" and list(wnids) == sorted(wnids)
    assert all(len(w) == 9 and w.startswith("n") for w in wnids)


@pytest.mark.parametrize(
    "alias, name",
    [
        ("FashionMNIST", "fashion-mnist"), ("fashionmnist", "fashion-mnist"), ("Fashion_MNIST", "fashion-mnist"),
        ("MNIST", "mnist"), ("cifar-10", "cifar10"), ("CIFAR10", "cifar10"), ("CIFAR-100", "cifar100"),
        ("SVHN", "svhn"), ("TinyImageNet", "tinyimagenet"), ("tiny-imagenet-200", "tinyimagenet"),
    ],
)
def test_aliases(alias, name):
    assert get_spec(alias) is get_spec(name)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as e:
        get_spec("imagenet")
    msg = str(e.value)
    assert "'imagenet'" in msg and "cifar10" in msg and "fashion-mnist" in msg
    assert "imagefolder:PATH" in msg and "npz:PATH" in msg


def test_spec_passthrough_and_validation():
    spec = get_spec("cifar10")
    assert get_spec(spec) is spec
    with pytest.raises(ValueError):
        dataclasses.replace(spec, mean=(0.5,))
    with pytest.raises(ValueError):
        dataclasses.replace(spec, std=(0.2, 0.0, 0.2))


def test_normalize_matches_the_formula_and_shapes():
    spec = get_spec("cifar10")
    x = torch.randint(0, 256, (2, 5, 3, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    y = spec.normalize(x)
    mean = torch.tensor(spec.mean).view(3, 1, 1)
    std = torch.tensor(spec.std).view(3, 1, 1)
    assert y.dtype == torch.float32 and y.shape == x.shape
    torch.testing.assert_close(y, (x.float() / 255 - mean) / std, rtol=0, atol=1e-5)
    torch.testing.assert_close(spec.denormalize(y), x.float() / 255, rtol=0, atol=1e-6)
    assert spec.normalize(x[0, 0]).shape == (3, 4, 4)  # a single image works too


def test_denormalize_clips_and_normalize_rejects_floats():
    spec = get_spec("mnist")
    assert spec.denormalize(torch.full((1, 1, 2, 2), 100.0)).max() == 1.0
    assert spec.denormalize(torch.full((1, 1, 2, 2), -100.0)).min() == 0.0
    with pytest.raises(TypeError):
        spec.normalize(torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError):
        spec.normalize(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))  # wrong channel count


def test_custom_spec_is_a_plain_value():
    spec = DatasetSpec("toy", 1, (4, 4), ("a", "b"), (0.5,), (0.25,))
    assert spec.num_classes == 2 and spec.flip_ok
    assert spec == DatasetSpec("toy", 1, [4, 4], ["a", "b"], [0.5], [0.25])
