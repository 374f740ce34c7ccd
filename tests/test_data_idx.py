"""IDX reader (MNIST / Fashion-MNIST format): round trips and every kind of damaged file."""

import gzip
import hashlib
import struct

import numpy as np
import pytest
import torch

from condensation.data import DatasetCorruptError, load_dataset
from condensation.data.readers import IdxChecksum, read_idx

STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(arr, type_byte=0x08):
    arr = np.asarray(arr, dtype=np.uint8)
    return bytes([0, 0, type_byte, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def toy_arrays(n_train=12, n_test=5, hw=(28, 28), seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, *hw), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, *hw), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_idx_set(folder, arrays=None, gz=True, names=None):
    """The four IDX files of ``arrays`` in ``folder`` (gzipped or raw); returns {role: path}."""
    arrays = toy_arrays() if arrays is None else arrays
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for role, stem in (names or STEMS).items():
        data = idx_bytes(arrays[role])
        path = folder / (stem + (".gz" if gz else ""))
        path.write_bytes(gzip.compress(data) if gz else data)
        paths[role] = path
    return paths


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip_exact_pixels_and_labels(tmp_path, data_env, gz):
    arrays = toy_arrays()
    write_idx_set(tmp_path / "d", arrays, gz=gz)
    ds = load_dataset("mnist", data_dir=tmp_path / "d", download=False)
    assert ds.train.images.shape == (12, 1, 28, 28) and ds.train.images.dtype == torch.uint8
    assert ds.train.images.is_contiguous() and ds.train.labels.dtype == torch.int64
    assert np.array_equal(ds.train.images[:, 0].numpy(), arrays["train_images"])
    assert np.array_equal(ds.test.images[:, 0].numpy(), arrays["test_images"])
    assert ds.train.labels.tolist() == arrays["train_labels"].tolist()
    assert ds.test.labels.tolist() == arrays["test_labels"].tolist()
    ds.train.images[0, 0, 0, 0] = 7  # the tensors own writable memory


def test_dotted_names_and_gzip_detected_by_content(tmp_path, data_env):
    """Some mirrors name the files train-images.idx3-ubyte; a '.gz' that is not gzipped is read raw."""
    arrays = toy_arrays()
    dotted = {role: stem.replace("-idx", ".idx") for role, stem in STEMS.items()}
    write_idx_set(tmp_path, arrays, gz=False, names=dotted)
    ds = load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
    assert np.array_equal(ds.train.images[:, 0].numpy(), arrays["train_images"])
    p = tmp_path / "x.gz"
    p.write_bytes(idx_bytes(arrays["test_labels"]))
    assert read_idx(p, 1).tolist() == arrays["test_labels"].tolist()


def _corrupt(tmp_path, role, data):
    paths = write_idx_set(tmp_path)
    paths[role].write_bytes(data)
    with pytest.raises(DatasetCorruptError) as e:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    assert str(paths[role]) in str(e.value)
    return str(e.value)


def test_truncated_gzip(tmp_path, data_env):
    full = gzip.compress(idx_bytes(toy_arrays()["train_images"]))
    assert "truncated gzip" in _corrupt(tmp_path, "train_images", full[: len(full) // 2])


def test_gzip_crc_error(tmp_path, data_env):
    full = bytearray(gzip.compress(idx_bytes(toy_arrays()["train_labels"])))
    full[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    assert "CRC" in _corrupt(tmp_path, "train_labels", bytes(full))


def test_wrong_magic(tmp_path, data_env):
    data = bytearray(idx_bytes(toy_arrays()["test_images"]))
    data[0] = 0x12
    assert "magic" in _corrupt(tmp_path, "test_images", gzip.compress(bytes(data)))


def test_images_where_labels_expected(tmp_path, data_env):
    msg = _corrupt(tmp_path, "test_labels", gzip.compress(idx_bytes(toy_arrays()["test_images"])))
    assert "3 dimensions, expected 1" in msg


def test_non_uint8_type(tmp_path, data_env):
    msg = _corrupt(tmp_path, "train_labels", gzip.compress(idx_bytes(toy_arrays()["train_labels"], type_byte=0x0D)))
    assert "float" in msg


def test_truncated_payload(tmp_path, data_env):
    data = idx_bytes(toy_arrays()["train_images"])
    msg = _corrupt(tmp_path, "train_images", gzip.compress(data[:-7]))
    assert "truncated" in msg and "12x28x28" in msg


def test_trailing_bytes(tmp_path, data_env):
    data = idx_bytes(toy_arrays()["train_images"]) + b"\0\0"
    assert "wrong size" in _corrupt(tmp_path, "train_images", data)


def test_label_image_count_mismatch(tmp_path, data_env):
    arrays = toy_arrays()
    arrays["train_labels"] = arrays["train_labels"][:-1]
    paths = write_idx_set(tmp_path, arrays)
    with pytest.raises(DatasetCorruptError, match="12 images but 11 labels") as e:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    assert str(paths["train_labels"]) in str(e.value)


def test_label_out_of_range(tmp_path, data_env):
    arrays = toy_arrays()
    arrays["test_labels"][2] = 10
    paths = write_idx_set(tmp_path, arrays)
    with pytest.raises(DatasetCorruptError, match=r"\[0, 10\)") as e:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    assert str(paths["test_labels"]) in str(e.value)


def test_checksum_applies_to_the_official_shape_only(tmp_path):
    arr = toy_arrays()["train_images"]
    p = tmp_path / "f.gz"
    p.write_bytes(gzip.compress(idx_bytes(arr)))
    good = hashlib.md5(idx_bytes(arr)).hexdigest()
    assert read_idx(p, 3, checksum=IdxChecksum(arr.shape, good)).shape == arr.shape
    assert read_idx(p, 3, checksum=IdxChecksum((60000, 28, 28), "0" * 32)).shape == arr.shape  # not the official shape
    with pytest.raises(DatasetCorruptError, match="checksum mismatch") as e:
        read_idx(p, 3, checksum=IdxChecksum(arr.shape, "0" * 32))
    assert str(p) in str(e.value)


def test_empty_and_unreadable_files(tmp_path):
    p = tmp_path / "empty"
    p.write_bytes(b"")
    with pytest.raises(DatasetCorruptError, match="too short"):
        read_idx(p, 1)
    with pytest.raises(DatasetCorruptError, match="cannot read"):
        read_idx(tmp_path / "missing", 1)


def test_gzip_variants_multi_member_and_trailing_zeros(tmp_path):
    arr = toy_arrays()["train_images"]
    data = idx_bytes(arr)
    p = tmp_path / "m.gz"
    p.write_bytes(gzip.compress(data[:100]) + gzip.compress(data[100:]))  # two gzip members, like `cat a.gz b.gz`
    assert np.array_equal(read_idx(p, 3), arr)
    p.write_bytes(gzip.compress(data) + b"\0" * 8)  # padding after the stream is ignored, as gunzip does
    assert np.array_equal(read_idx(p, 3), arr)


def test_gzipped_payload_longer_than_declared(tmp_path):
    arr = toy_arrays()["train_images"]
    data = bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 28, 28) + arr.tobytes()  # header says 2 images, 12 follow
    p = tmp_path / "long.gz"
    p.write_bytes(gzip.compress(data))
    with pytest.raises(DatasetCorruptError, match="wrong size") as e:
        read_idx(p, 3)
    assert str(p) in str(e.value)
