"""Split and Dataset containers, and load_dataset with an explicit spec."""

import dataclasses

import numpy as np
import pytest
import torch

from condensation.data import Dataset, Split, get_spec, load_dataset


def test_split_validates_and_moves():
    images = torch.zeros(3, 1, 2, 2, dtype=torch.uint8)
    split = Split(images, torch.tensor([0, 1, 2]))
    assert len(split) == 3 and split.device == torch.device("cpu")
    moved = split.to("cpu")
    assert isinstance(moved, Split) and torch.equal(moved.images, images)
    with pytest.raises(ValueError, match="uint8"):
        Split(images.float(), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="int64"):
        Split(images, torch.tensor([0, 1, 2], dtype=torch.int32))
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        Split(images, torch.tensor([0, 1]))


def test_dataset_normalize_to_and_repr():
    spec = get_spec("mnist")
    x = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    ds = Dataset(spec, Split(x, torch.arange(4)), Split(x[:2], torch.arange(2)))
    torch.testing.assert_close(ds.normalize(x), spec.normalize(x))
    torch.testing.assert_close(ds.denormalize(ds.normalize(x)), x.float() / 255, rtol=0, atol=1e-6)
    assert ds.to("cpu").spec is spec and len(ds.to("cpu").test) == 2
    assert "mnist" in repr(ds) and "train=4" in repr(ds)


def test_load_with_an_explicit_spec_keeps_it(tmp_path, data_env):
    path = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8), y_train=np.array([0, 1, 0, 1]),
             x_test=rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8), y_test=np.array([1, 0]))
    base = get_spec(f"npz:{path}")
    custom = dataclasses.replace(base, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), classes=("cat", "dog"))
    ds = load_dataset(custom)
    assert ds.spec is custom and len(ds.train) == 4
