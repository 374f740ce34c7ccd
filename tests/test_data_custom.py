"""User datasets: imagefolder:PATH (pre-split or seeded split) and npz:PATH, and their computed specs."""

import numpy as np
import pytest
import torch
from PIL import Image

from condensation.data import DatasetCorruptError, DatasetNotFoundError, get_spec, load_dataset, locate_dataset
from condensation.data.custom import _SPECS


def save(path, pixels, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode).save(path)


def rgb(rng, h=6, w=5):
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_presplit_folder_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    expected = {"train": [], "test": []}
    for split, n in (("train", 3), ("test", 1)):
        for cls in ("dog", "cat"):
            for k in range(n):
                pixels = rgb(rng)
                save(tmp_path / split / cls / f"{k}.png", pixels)
                expected[split].append((cls, k, pixels))
    (tmp_path / "train" / "cat" / "notes.txt").write_text("ignored")
    ds = load_dataset(f"imagefolder:{tmp_path}")
    spec = ds.spec
    assert spec.name == f"imagefolder:{tmp_path.resolve()}" and spec.classes == ("cat", "dog")
    assert spec.channels == 3 and spec.image_size == (6, 5) and spec.flip_ok
    for split_name, split in (("train", ds.train), ("test", ds.test)):
        order = sorted(expected[split_name], key=lambda t: (t[0], t[1]))  # class-major, file order
        assert np.array_equal(split.images.permute(0, 2, 3, 1).numpy(), np.stack([p for _, _, p in order]))
        assert split.labels.tolist() == [spec.classes.index(c) for c, _, _ in order]
    pixels = ds.train.images.double() / 255
    assert spec.mean == pytest.approx(pixels.mean(dim=(0, 2, 3)).tolist(), abs=1e-12)
    assert spec.std == pytest.approx(pixels.std(dim=(0, 2, 3), unbiased=False).tolist(), abs=1e-12)
    assert get_spec(f"imagefolder:{tmp_path}") == spec  # remembered, not recomputed
    assert locate_dataset(f"imagefolder:{tmp_path}")[0] == tmp_path.resolve()


def test_unsplit_folder_seeded_split(tmp_path):
    rng = np.random.default_rng(0)
    for cls, n in (("a", 10), ("b", 5), ("c", 1)):
        for k in range(n):
            save(tmp_path / cls / f"{k:02d}.png", rgb(rng))
    ds1 = load_dataset(f"imagefolder:{tmp_path}")
    _SPECS.clear()
    ds2 = load_dataset(f"imagefolder:{tmp_path}")
    assert torch.equal(ds1.train.images, ds2.train.images) and torch.equal(ds1.test.labels, ds2.test.labels)
    assert torch.bincount(ds1.test.labels, minlength=3).tolist() == [2, 1, 0]  # 20 %, at least one, none of a singleton
    assert torch.bincount(ds1.train.labels, minlength=3).tolist() == [8, 4, 1]
    every = torch.cat([ds1.train.images, ds1.test.images]).reshape(16, -1)
    assert len({tuple(r.tolist()) for r in every}) == 16  # a partition: nothing lost or duplicated


def test_grayscale_and_mixed_sizes(tmp_path):
    rng = np.random.default_rng(0)
    for k in range(3):
        save(tmp_path / "x" / f"{k}.png", rng.integers(0, 256, (8, 8), dtype=np.uint8), "L")
    save(tmp_path / "y" / "0.png", rng.integers(0, 256, (8, 8), dtype=np.uint8), "L")
    odd = tmp_path / "y" / "1.png"
    save(odd, rng.integers(0, 256, (4, 6), dtype=np.uint8), "L")  # odd size out
    with pytest.raises(DatasetCorruptError) as e:
        load_dataset(f"imagefolder:{tmp_path}")
    msg = str(e.value)
    assert str(tmp_path / "x" / "0.png") in msg and "8x8" in msg and str(odd) in msg and "6x4" in msg and "--resolution" in msg
    ds = load_dataset(f"imagefolder:{tmp_path}@8")  # with a resolution every image is resized
    assert ds.spec.channels == 1 and ds.spec.image_size == (8, 8) and len(ds.spec.mean) == 1
    assert ds.spec.name == f"imagefolder:{tmp_path.resolve()}@8"
    save(tmp_path / "y" / "2.png", rgb(rng, 8, 8))  # one colour image makes the whole set RGB
    assert load_dataset(f"imagefolder:{tmp_path}@8").spec.channels == 3


def test_imagefolder_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_dataset(f"imagefolder:{tmp_path / 'nope'}")
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="no images"):
        load_dataset(f"imagefolder:{tmp_path / 'empty'}")
    bad = tmp_path / "bad" / "cls" / "0.png"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"nope")
    (tmp_path / "bad" / "cls" / "1.png").write_bytes(b"nope")
    with pytest.raises(DatasetCorruptError) as e:
        load_dataset(f"imagefolder:{tmp_path / 'bad'}")
    assert str(bad) in str(e.value) or str(bad.with_name("1.png")) in str(e.value)


@pytest.mark.parametrize(
    "shape, to_nhwc",
    [
        ((4, 5, 6), lambda x: x[..., None]),  # N x H x W
        ((4, 5, 6, 3), lambda x: x),  # N x H x W x C
        ((4, 3, 5, 6), lambda x: x.transpose(0, 2, 3, 1)),  # N x C x H x W
        ((4, 1, 5, 6), lambda x: x.transpose(0, 2, 3, 1)),
    ],
)
def test_npz_layouts(tmp_path, shape, to_nhwc):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, shape, dtype=np.uint8)
    x_test = rng.integers(0, 256, (2, *shape[1:]), dtype=np.uint8)
    y_train, y_test = np.array([0, 2, 1, 2]), np.array([[1], [0]])
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    ds = load_dataset(f"npz:{path}")
    assert np.array_equal(ds.train.images.permute(0, 2, 3, 1).numpy(), to_nhwc(x_train))
    assert np.array_equal(ds.test.images.permute(0, 2, 3, 1).numpy(), to_nhwc(x_test))
    assert ds.train.labels.tolist() == [0, 2, 1, 2] and ds.test.labels.tolist() == [1, 0]
    assert ds.spec.classes == ("0", "1", "2") and ds.spec.image_size == (5, 6)
    assert ds.spec.name == f"npz:{path.resolve()}"


def test_npz_class_names(tmp_path):
    path = tmp_path / "d.npz"
    x = np.zeros((2, 4, 4, 3), np.uint8)
    x[0] = 255
    np.savez(path, x_train=x, y_train=np.array([0, 1]), x_test=x, y_test=np.array([1, 1]), classes=np.array(["cat", "dog", "eel"]))
    spec = get_spec(f"npz:{path}")
    assert spec.classes == ("cat", "dog", "eel") and spec.mean == (0.5, 0.5, 0.5) and spec.std == (0.5, 0.5, 0.5)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x_train": np.zeros((2, 4, 4), np.uint8), "y_train": np.zeros(2, int), "x_test": np.zeros((1, 4, 4), np.uint8)}, "missing array"),
        ({"x_train": np.zeros((2, 4, 4), np.float32), "y_train": np.zeros(2, int), "x_test": np.zeros((1, 4, 4), np.uint8), "y_test": np.zeros(1, int)}, "uint8"),
        ({"x_train": np.zeros((2, 4, 4), np.uint8), "y_train": np.zeros(3, int), "x_test": np.zeros((1, 4, 4), np.uint8), "y_test": np.zeros(1, int)}, "2 images but 3 labels"),
        ({"x_train": np.zeros((2, 4, 4), np.uint8), "y_train": np.zeros(2, int), "x_test": np.zeros((1, 5, 5), np.uint8), "y_test": np.zeros(1, int)}, "test images are"),
        ({"x_train": np.zeros((2, 4, 4, 7), np.uint8), "y_train": np.zeros(2, int), "x_test": np.zeros((1, 4, 4), np.uint8), "y_test": np.zeros(1, int)}, "shape"),
        ({"x_train": np.zeros((2, 4, 4), np.uint8), "y_train": np.array([0, -1]), "x_test": np.zeros((1, 4, 4), np.uint8), "y_test": np.zeros(1, int)}, "label values"),
    ],
)
def test_npz_errors_name_the_file(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetCorruptError, match=message) as e:
        load_dataset(f"npz:{path}")
    assert str(path) in str(e.value)


def test_npz_damaged_or_missing(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 nope")
    with pytest.raises(DatasetCorruptError, match="not a readable .npz") as e:
        load_dataset(f"npz:{path}")
    assert str(path) in str(e.value)
    with pytest.raises(DatasetNotFoundError):
        get_spec(f"npz:{tmp_path / 'missing.npz'}")
    assert locate_dataset(f"npz:{tmp_path / 'missing.npz'}") == (None, [tmp_path / "missing.npz"])
