"""CIFAR-10/100 readers: extracted folders and .tar.gz archives, Python 2 style pickles, damaged files."""

import io
import os
import pickle
import tarfile

import numpy as np
import pytest
import torch

from condensation.data import DatasetCorruptError, load_dataset

C10 = {"folder": "cifar-10-batches-py", "archive": "cifar-10-python.tar.gz", "label": "labels", "classes": 10,
       "train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"], "meta": "batches.meta"}
C100 = {"folder": "cifar-100-python", "archive": "cifar-100-python.tar.gz", "label": "fine_labels", "classes": 100,
        "train": ["train"], "test": ["test"], "meta": "meta"}


def py2_style_pickle(obj):
    """A protocol-2 pickle naming numpy.core.multiarray, like the official (Python 2) batches."""
    return pickle.dumps(obj, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def make_batches(kind, per_batch=4, seed=0):
    """{file name: pickle bytes} and the expected (train_data, train_labels, test_data, test_labels)."""
    rng = np.random.default_rng(seed)
    files, expected = {}, {}
    for split in ("train", "test"):
        datas, labels = [], []
        for i, name in enumerate(kind[split]):
            data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
            lab = rng.integers(0, kind["classes"], per_batch).tolist()
            batch = {"batch_label": f"batch {i}", "data": data, kind["label"]: lab, "filenames": [f"f{j}.png" for j in range(per_batch)]}
            if kind is C100:
                batch["coarse_labels"] = [x // 5 for x in lab]
                files[name] = pickle.dumps({k.encode(): v for k, v in batch.items()})  # Python 3 style, bytes keys
            else:
                files[name] = py2_style_pickle(batch)
            datas.append(data)
            labels += lab
        expected[split] = (np.concatenate(datas), labels)
    files[kind["meta"]] = pickle.dumps({"label_names": ["x"] * kind["classes"]}, protocol=2)
    return files, expected


def write_folder(root, kind, files):
    folder = root / kind["folder"]
    folder.mkdir(parents=True)
    for name, blob in files.items():
        (folder / name).write_bytes(blob)
    return folder


def write_archive(root, kind, files, truncate=None):
    root.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(f"{kind['folder']}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    data = buf.getvalue()
    path = root / kind["archive"]
    path.write_bytes(data[:truncate] if truncate else data)
    return path


def check(ds, expected, name):
    for split_name, split in (("train", ds.train), ("test", ds.test)):
        data, labels = expected[split_name]
        n = data.shape[0]
        assert split.images.shape == (n, 3, 32, 32) and split.images.dtype == torch.uint8 and split.images.is_contiguous()
        # pixel (c, h, w) of image i is byte c*1024 + h*32 + w of its row
        assert int(split.images[1, 2, 3, 4]) == int(data[1, 2 * 1024 + 3 * 32 + 4])
        assert np.array_equal(split.images.reshape(n, -1).numpy(), data)
        assert split.labels.tolist() == labels
    assert ds.spec.name == name


@pytest.mark.parametrize("kind, name", [(C10, "cifar10"), (C100, "cifar100")])
@pytest.mark.parametrize("form", ["folder", "archive"])
def test_round_trip(tmp_path, data_env, kind, name, form):
    files, expected = make_batches(kind)
    (write_folder if form == "folder" else write_archive)(tmp_path, kind, files)
    check(load_dataset(name, data_dir=tmp_path, download=False), expected, name)


def test_folder_preferred_to_archive_and_files_directly_in_data_dir(tmp_path, data_env):
    files, expected = make_batches(C10)
    folder = write_folder(tmp_path, C10, files)
    write_archive(tmp_path, C10, files, truncate=100)  # damaged, but the folder wins
    assert load_dataset("cifar10", data_dir=tmp_path, download=False).source == folder
    ds = load_dataset("cifar10", data_dir=folder, download=False)  # pointing at the batches folder itself
    check(ds, expected, "cifar10")


def _load_corrupt(tmp_path, kind, name, files, form="folder"):
    where = (write_folder if form == "folder" else write_archive)(tmp_path, kind, files)
    with pytest.raises(DatasetCorruptError) as e:
        load_dataset(name, data_dir=tmp_path, download=False)
    return where, str(e.value)


def test_broken_pickle_names_the_batch(tmp_path, data_env):
    files, _ = make_batches(C10)
    files["data_batch_3"] = files["data_batch_3"][:200]
    folder, msg = _load_corrupt(tmp_path, C10, "cifar10", files)
    assert str(folder / "data_batch_3") in msg and "not a valid pickled CIFAR batch" in msg


def test_broken_pickle_inside_archive(tmp_path, data_env):
    files, _ = make_batches(C100)
    files["test"] = b"garbage"
    archive, msg = _load_corrupt(tmp_path, C100, "cifar100", files, form="archive")
    assert str(archive) in msg and "cifar-100-python/test" in msg


def test_truncated_archive(tmp_path, data_env):
    files, _ = make_batches(C10)
    path = write_archive(tmp_path, C10, files, truncate=5000)
    with pytest.raises(DatasetCorruptError, match="truncated tar.gz") as e:
        load_dataset("cifar10", data_dir=tmp_path, download=False)
    assert str(path) in str(e.value)


def test_archive_missing_a_batch(tmp_path, data_env):
    files, _ = make_batches(C10)
    del files["data_batch_5"]
    archive, msg = _load_corrupt(tmp_path, C10, "cifar10", files, form="archive")
    assert str(archive) in msg and "data_batch_5" in msg


def test_missing_labels_key(tmp_path, data_env):
    files, _ = make_batches(C100)
    files["train"] = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"coarse_labels": [0, 1]})
    folder, msg = _load_corrupt(tmp_path, C100, "cifar100", files)
    assert str(folder / "train") in msg and "'fine_labels'" in msg


def test_label_count_mismatch_and_bad_shape(tmp_path, data_env):
    files, _ = make_batches(C10)
    files["test_batch"] = py2_style_pickle({"data": np.zeros((3, 3072), np.uint8), "labels": [1, 2]})
    folder, msg = _load_corrupt(tmp_path / "a", C10, "cifar10", files)
    assert str(folder / "test_batch") in msg and "3 images but 2 labels" in msg
    files["test_batch"] = py2_style_pickle({"data": np.zeros((3, 1000), np.uint8), "labels": [1, 2, 3]})
    folder, msg = _load_corrupt(tmp_path / "b", C10, "cifar10", files)
    assert str(folder / "test_batch") in msg and "N x 3072" in msg


def test_pickle_with_foreign_globals_is_refused(tmp_path, data_env):
    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    files, _ = make_batches(C10)
    files["data_batch_1"] = pickle.dumps({"data": Evil(), "labels": []})
    folder, msg = _load_corrupt(tmp_path, C10, "cifar10", files)
    assert str(folder / "data_batch_1") in msg and "refusing to load" in msg
