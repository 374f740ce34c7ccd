"""Where datasets are looked for, in which order, what a miss reports, and the (offline-tested) download."""

import gzip
import hashlib
import struct

import numpy as np
import pytest

from condensation.data import DatasetCorruptError, DatasetNotFoundError, load_dataset, locate_dataset
from condensation.data import dataset as dataset_module
from condensation.data import discovery
from condensation.data.download import DownloadError, fetch
from condensation.data.sources import Resource

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def write_idx_set(folder, tag=0, gz=True):
    """Four valid tiny IDX files; ``tag`` is the first training label, to tell copies apart."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = [np.zeros((3, 28, 28), np.uint8), np.array([tag, 1, 2], np.uint8), np.zeros((2, 28, 28), np.uint8), np.array([0, 1], np.uint8)]
    for stem, arr in zip(STEMS, arrays):
        data = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
        (folder / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)
    return folder


@pytest.fixture
def four_roots(tmp_path, data_env, monkeypatch):
    """Fashion-MNIST copies in an explicit dir (tag 1), $CONDENSATION_DATA (2), the cache (3) and a system dir (4)."""
    roots = {name: tmp_path / name for name in ("explicit", "env", "system")}
    roots["cache"] = data_env
    for tag, name in enumerate(("explicit", "env", "cache", "system"), 1):
        write_idx_set(roots[name] / "fashion-mnist", tag)
    monkeypatch.setenv("CONDENSATION_DATA", str(roots["env"]))
    monkeypatch.setattr(discovery, "SYSTEM_LOCATIONS", [roots["system"]])
    return roots


def first_label(**kwargs):
    return int(load_dataset("fashion-mnist", download=False, **kwargs).train.labels[0])


def test_order_data_dir_env_cache_system(four_roots, monkeypatch):
    import shutil

    assert first_label(data_dir=four_roots["explicit"]) == 1
    assert first_label() == 2
    monkeypatch.delenv("CONDENSATION_DATA")
    assert first_label() == 3
    shutil.rmtree(four_roots["cache"] / "fashion-mnist")
    assert first_label() == 4
    found, searched = locate_dataset("fashion-mnist")
    assert found == four_roots["system"] / "fashion-mnist"
    assert searched == [four_roots["cache"], four_roots["system"]]


def test_data_dir_may_be_a_list_and_misses_are_skipped(four_roots, tmp_path):
    assert first_label(data_dir=[tmp_path / "nowhere", str(four_roots["explicit"])]) == 1


@pytest.mark.parametrize("sub", ["", "FashionMNIST/raw", "fashion_mnist", "Fashion-MNIST", "raw", "data/fashion-mnist"])
def test_usual_folder_names(tmp_path, data_env, sub):
    folder = write_idx_set(tmp_path / sub if sub else tmp_path, gz=False)
    found, _ = locate_dataset("FashionMNIST", data_dir=tmp_path)
    if sub == "data/fashion-mnist":  # 'data' is not a name of this dataset: not searched
        assert found is None
    else:
        assert found == folder


def test_torchvision_mnist_layout(tmp_path, data_env):
    folder = write_idx_set(tmp_path / "MNIST" / "raw")
    assert locate_dataset("mnist", data_dir=tmp_path)[0] == folder
    assert locate_dataset("mnist", data_dir=tmp_path / "MNIST")[0] == folder


def test_not_found_message_lists_files_places_and_remedies(tmp_path, data_env, monkeypatch):
    called = []
    monkeypatch.setattr(dataset_module, "download_source", lambda *a: called.append(a))
    monkeypatch.setenv("CONDENSATION_DATA", str(tmp_path / "env"))
    monkeypatch.setattr(discovery, "SYSTEM_LOCATIONS", [tmp_path / "system"])
    with pytest.raises(DatasetNotFoundError) as e:
        load_dataset("fashion-mnist", data_dir=tmp_path / "mine")  # download=True, but offline
    assert called == []
    msg = str(e.value)
    for text in STEMS:
        assert text in msg
    for place in ("mine", "env", "cache", "system"):
        assert str(tmp_path / place) in msg
    assert "CONDENSATION_OFFLINE" in msg
    assert "apt-get install -y dataset-fashion-mnist" in msg
    assert "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" in msg
    assert str(data_env / "fashion-mnist") in msg
    assert e.value.searched == [tmp_path / "mine", tmp_path / "env", data_env, tmp_path / "system"]


def test_download_false_is_reported(tmp_path, data_env):
    with pytest.raises(DatasetNotFoundError, match=r"download=False"):
        load_dataset("svhn", download=False)


def test_download_into_cache_when_online(data_env, monkeypatch):
    monkeypatch.delenv("CONDENSATION_OFFLINE")
    targets = []

    def fake_download(source, directory):
        targets.append(directory)
        write_idx_set(directory, tag=7)

    monkeypatch.setattr(dataset_module, "download_source", fake_download)
    ds = load_dataset("mnist")
    assert targets == [data_env / "mnist"] and int(ds.train.labels[0]) == 7 and ds.source == data_env / "mnist"


def test_failed_download_falls_through_to_not_found(data_env, monkeypatch):
    monkeypatch.delenv("CONDENSATION_OFFLINE")

    def failing(source, directory):
        raise DownloadError("http://example.invalid/x.gz: timed out")

    monkeypatch.setattr(dataset_module, "download_source", failing)
    with pytest.raises(DatasetNotFoundError, match="Download failed: http://example.invalid/x.gz: timed out"):
        load_dataset("cifar10")


def test_fetch_verifies_md5_and_writes_atomically(tmp_path):
    src = tmp_path / "remote.bin"
    src.write_bytes(b"payload" * 1000)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    out = tmp_path / "out"
    path = fetch(Resource("f.bin", src.as_uri(), md5), out)
    assert path.read_bytes() == src.read_bytes()
    with pytest.raises(DatasetCorruptError, match="checksum mismatch"):
        fetch(Resource("g.bin", src.as_uri(), "0" * 32), out)
    assert sorted(p.name for p in out.iterdir()) == ["f.bin"]  # no partial or temporary file left
    with pytest.raises(DownloadError):
        fetch(Resource("h.bin", (tmp_path / "absent").as_uri(), None), out)
    assert sorted(p.name for p in out.iterdir()) == ["f.bin"]


def test_a_folder_named_for_mnist_is_not_taken_for_fashion_mnist(tmp_path, data_env, monkeypatch):
    """MNIST and Fashion-MNIST share file names: the folder's name decides."""
    mnist = write_idx_set(tmp_path / "mnist", tag=1)
    fashion = write_idx_set(tmp_path / "system" / "fashion-mnist", tag=2)
    torchvision_style = write_idx_set(tmp_path / "tv" / "FashionMNIST" / "raw", tag=3)
    monkeypatch.setattr(discovery, "SYSTEM_LOCATIONS", [tmp_path / "system"])
    assert locate_dataset("fashion-mnist", data_dir=mnist)[0] == fashion
    assert locate_dataset("mnist", data_dir=mnist)[0] == mnist
    assert locate_dataset("mnist", data_dir=torchvision_style)[0] is None
    assert locate_dataset("mnist", data_dir=fashion)[0] is None
