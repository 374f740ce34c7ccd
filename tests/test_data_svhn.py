"""SVHN .mat reader: layout H x W x C x N, label 10 -> 0, damaged files."""

import numpy as np
import pytest
import scipy.io
import torch

from condensation.data import DatasetCorruptError, load_dataset
from condensation.data.readers import read_svhn_mat


def write_mat(path, n, seed, **overrides):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = rng.integers(1, 11, (n, 1)).astype(np.uint8)
    y[0, 0] = 10
    mat = {"X": x, "y": y, **overrides}
    scipy.io.savemat(path, {k: v for k, v in mat.items() if v is not None})
    return x, y


def test_round_trip(tmp_path, data_env):
    folder = tmp_path / "SVHN"
    folder.mkdir()
    x_tr, y_tr = write_mat(folder / "train_32x32.mat", 7, 0)
    x_te, y_te = write_mat(folder / "test_32x32.mat", 3, 1)
    ds = load_dataset("svhn", data_dir=tmp_path, download=False)
    assert ds.source == folder
    for split, x, y in ((ds.train, x_tr, y_tr), (ds.test, x_te, y_te)):
        n = x.shape[-1]
        assert split.images.shape == (n, 3, 32, 32) and split.images.is_contiguous()
        # image i, channel c, row h, column w is X[h, w, c, i]
        assert int(split.images[2 % n, 1, 5, 9]) == int(x[5, 9, 1, 2 % n])
        assert torch.equal(split.images, torch.from_numpy(x).permute(3, 2, 0, 1))
        expected = y[:, 0].astype(np.int64) % 10
        assert split.labels.tolist() == expected.tolist() and split.labels[0] == 0


def test_missing_variable(tmp_path):
    p = tmp_path / "train_32x32.mat"
    write_mat(p, 2, 0, y=None)
    with pytest.raises(DatasetCorruptError, match="missing variable 'y'") as e:
        read_svhn_mat(p)
    assert str(p) in str(e.value)


def test_truncated_file(tmp_path):
    p = tmp_path / "test_32x32.mat"
    write_mat(p, 20, 0)
    p.write_bytes(p.read_bytes()[:3000])
    with pytest.raises(DatasetCorruptError) as e:
        read_svhn_mat(p)
    assert str(p) in str(e.value)


def test_not_a_mat_file_and_wrong_layout(tmp_path):
    p = tmp_path / "a.mat"
    p.write_bytes(b"hello" * 100)
    with pytest.raises(DatasetCorruptError, match="not a readable MATLAB file"):
        read_svhn_mat(p)
    scipy.io.savemat(p, {"X": np.zeros((3, 32, 32, 2), np.uint8), "y": np.ones((2, 1), np.uint8)})
    with pytest.raises(DatasetCorruptError, match="H x W x 3 x N"):
        read_svhn_mat(p)


def test_label_count_mismatch(tmp_path):
    p = tmp_path / "b.mat"
    scipy.io.savemat(p, {"X": np.zeros((32, 32, 3, 4), np.uint8), "y": np.ones((3, 1), np.uint8)})
    with pytest.raises(DatasetCorruptError, match="4 images but 3 labels"):
        read_svhn_mat(p)
