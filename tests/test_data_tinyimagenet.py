"""Tiny ImageNet: folder and zip layouts, the decoded cache, the preprocessed .pt, damaged inputs."""

import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from condensation.data import DatasetCorruptError, get_spec, load_dataset
from condensation.data.readers import tinyimagenet

WNIDS = ["n12267677", "n01443537", "n02124075"]  # wnids.txt is not sorted; labels follow the spec's order


def build_tree(root, per_class=2, n_val=4, seed=0):
    """A miniature tiny-imagenet-200/ under ``root``; returns (folder, expected images/labels per split)."""
    rng = np.random.default_rng(seed)
    index = {w: i for i, w in enumerate(get_spec("tinyimagenet").classes)}
    top = root / "tiny-imagenet-200"
    (top / "val" / "images").mkdir(parents=True)
    (top / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    expected = {"train": ([], []), "val": ([], [])}
    for wnid in sorted(WNIDS, key=index.get):
        d = top / "train" / wnid / "images"
        d.mkdir(parents=True)
        (top / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
        for k in range(per_class):
            pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            if k == 1:  # a grayscale picture, as Tiny ImageNet has some
                gray = pixels[..., 0]
                Image.fromarray(gray, "L").save(d / f"{wnid}_{k}.JPEG", format="PNG")
                pixels = np.repeat(gray[..., None], 3, axis=2)
            else:
                Image.fromarray(pixels).save(d / f"{wnid}_{k}.JPEG", format="PNG")  # lossless, exact check
            expected["train"][0].append(pixels)
            expected["train"][1].append(index[wnid])
    lines = []
    for k in range(n_val):
        wnid = WNIDS[k % len(WNIDS)]
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(top / "val" / "images" / f"val_{k}.JPEG", format="PNG")
        lines.append(f"val_{k}.JPEG\t{wnid}\t0\t0\t63\t63")
        expected["val"][0].append(pixels)
        expected["val"][1].append(index[wnid])
    (top / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return top, expected


def check(ds, expected):
    for split, key in ((ds.train, "train"), (ds.test, "val")):
        images, labels = expected[key]
        assert split.images.shape == (len(images), 3, 64, 64) and split.images.is_contiguous()
        assert np.array_equal(split.images.permute(0, 2, 3, 1).numpy(), np.stack(images))
        assert split.labels.tolist() == labels


def test_folder_round_trip_and_cache(tmp_path, data_env, monkeypatch):
    from condensation.data.readers import _cache

    monkeypatch.setattr(_cache, "MIN_CACHED_BYTES", 0)  # the miniature tree is far below the threshold
    top, expected = build_tree(tmp_path / "data")
    ds = load_dataset("tinyimagenet", data_dir=tmp_path / "data", download=False)
    check(ds, expected)
    assert ds.source == top and ds.spec.num_classes == 200
    cached = list((data_env / "tinyimagenet").glob("decoded-*/meta.json"))
    assert len(cached) == 1
    assert {p.name for p in cached[0].parent.iterdir()} == {"meta.json", "train.npy", "test.npy", "train_labels.npy", "test_labels.npy"}

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(tinyimagenet, "decode_splits", no_decoding)
    again = load_dataset("tinyimagenet", data_dir=top, download=False)
    check(again, expected)
    assert again.train.mapped and again.test.mapped


def test_small_tree_is_not_cached(tmp_path, data_env):
    top, expected = build_tree(tmp_path / "data")
    check(load_dataset("tinyimagenet", data_dir=tmp_path / "data", download=False), expected)
    assert not (data_env / "tinyimagenet").exists()


def test_zip_round_trip(tmp_path, data_env):
    top, expected = build_tree(tmp_path / "src")
    archive = tmp_path / "data" / "tiny-imagenet-200.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(top.rglob("*")):
            z.write(p, p.relative_to(top.parent).as_posix())
    ds = load_dataset("tinyimagenet", data_dir=tmp_path / "data", download=False)
    check(ds, expected)


def test_real_jpeg_is_decoded_like_pillow(tmp_path, data_env):
    top, _ = build_tree(tmp_path)
    path = top / "train" / "n01443537" / "images" / "n01443537_0.JPEG"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, format="JPEG")
    ds = load_dataset("tinyimagenet", data_dir=tmp_path, download=False)
    assert np.array_equal(ds.train.images[0].permute(1, 2, 0).numpy(), np.asarray(Image.open(path).convert("RGB")))


def test_preprocessed_pt_with_other_class_order(tmp_path, data_env):
    classes = list(get_spec("tinyimagenet").classes)
    shuffled = classes[::-1]
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (5, 64, 64, 3), dtype=np.uint8))  # N x H x W x C
    labels = torch.tensor([0, 1, 199, 5, 0])
    torch.save({"classes": shuffled, "images_train": images, "labels_train": labels,
                "images_val": images[:2], "labels_val": labels[:2]}, tmp_path / "tinyimagenet.pt")
    ds = load_dataset("tinyimagenet", data_dir=tmp_path, download=False)
    assert torch.equal(ds.train.images, images.permute(0, 3, 1, 2))
    assert [classes[i] for i in ds.train.labels.tolist()] == [shuffled[i] for i in labels.tolist()]


def test_preprocessed_pt_is_memory_mapped(tmp_path, data_env):
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (6, 3, 64, 64), dtype=np.uint8))
    labels = torch.tensor([0, 1, 2, 3, 4, 5])
    classes = list(get_spec("tinyimagenet").classes)
    torch.save({"classes": classes, "images_train": images, "labels_train": labels,
                "images_val": images[:2].clone(), "labels_val": labels[:2].clone()}, tmp_path / "tinyimagenet.pt")
    ds = load_dataset("tinyimagenet", data_dir=tmp_path, download=False)
    assert ds.train.mapped and torch.equal(ds.train.images, images) and ds.train.labels.tolist() == labels.tolist()
    nhwc = tmp_path / "nhwc"
    nhwc.mkdir()
    torch.save({"classes": classes, "images_train": images.permute(0, 2, 3, 1).contiguous(), "labels_train": labels,
                "images_val": images[:2].permute(0, 2, 3, 1).contiguous(), "labels_val": labels[:2]}, nhwc / "tinyimagenet.pt")
    ds = load_dataset("tinyimagenet", data_dir=nhwc, download=False)
    assert not ds.train.mapped and torch.equal(ds.train.images, images)  # permuted: a copy in memory


def test_preprocessed_pt_missing_key(tmp_path, data_env):
    torch.save({"classes": [], "images_train": torch.zeros(1)}, tmp_path / "tinyimagenet.pt")
    with pytest.raises(DatasetCorruptError, match="missing key") as e:
        load_dataset("tinyimagenet", data_dir=tmp_path, download=False)
    assert "tinyimagenet.pt" in str(e.value)


def _load_error(tmp_path):
    with pytest.raises(DatasetCorruptError) as e:
        load_dataset("tinyimagenet", data_dir=tmp_path, download=False)
    return str(e.value)


def test_undecodable_image_is_named(tmp_path, data_env):
    top, _ = build_tree(tmp_path)
    bad = top / "val" / "images" / "val_2.JPEG"
    bad.write_bytes(b"not an image")
    msg = _load_error(tmp_path)
    assert str(bad) in msg and "cannot decode image" in msg and "remove or replace the file" in msg


def test_wrong_image_size_is_named(tmp_path, data_env):
    top, _ = build_tree(tmp_path)
    bad = top / "train" / "n02124075" / "images" / "n02124075_0.JPEG"
    Image.new("RGB", (32, 32)).save(bad, format="PNG")
    msg = _load_error(tmp_path)
    assert str(bad) in msg and "expected 64x64" in msg


def test_unknown_wnid_and_bad_annotations(tmp_path, data_env):
    top, _ = build_tree(tmp_path / "a")
    (top / "wnids.txt").write_text("n99999999\n")
    msg = _load_error(tmp_path / "a")
    assert str(top / "wnids.txt") in msg and "n99999999" in msg
    top, _ = build_tree(tmp_path / "b")
    (top / "val" / "val_annotations.txt").write_text("val_0.JPEG\tnope\n")
    msg = _load_error(tmp_path / "b")
    assert str(top / "val" / "val_annotations.txt") in msg and "line 1" in msg


def test_damaged_zip(tmp_path, data_env):
    (tmp_path / "tiny-imagenet-200.zip").write_bytes(b"PK\x03\x04 broken")
    assert "zip" in _load_error(tmp_path)
