"""The real MNIST (../shared/datasets/mnist beside the checkout) and Fashion-MNIST (Debian package), when present."""

import gzip
import hashlib
from pathlib import Path

import pytest
import torch

from condensation.data import ClassSampler, DatasetCorruptError, get_spec, load_dataset
from condensation.data.stats import channel_stats

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

MNIST_MD5 = {  # published MD5s of the uncompressed files
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

needs_mnist = pytest.mark.skipif(not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(), reason=f"MNIST not at {MNIST_DIR}")
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Fashion-MNIST not at {FASHION_DIR} (apt-get install -y dataset-fashion-mnist)",
)


@needs_mnist
def test_mnist_files_have_the_published_md5():
    for stem, md5 in MNIST_MD5.items():
        assert hashlib.md5(gzip.decompress((MNIST_DIR / f"{stem}.gz").read_bytes())).hexdigest() == md5


@pytest.mark.parametrize(
    "name, where",
    [pytest.param("mnist", MNIST_DIR, marks=needs_mnist), pytest.param("fashion-mnist", FASHION_DIR, marks=needs_fashion)],
)
def test_real_dataset_counts_and_statistics(name, where, data_env):
    ds = load_dataset(name, data_dir=where, download=False)
    spec = get_spec(name)
    assert ds.spec is spec and ds.source == where
    assert len(ds.train) == 60000 and len(ds.test) == 10000
    assert ds.train.images.shape == (60000, 1, 28, 28) and ds.train.images.dtype == torch.uint8
    sampler = ClassSampler(ds.train.labels, spec.num_classes)
    assert sampler.counts.min() > 5000  # every class well represented
    assert ds.test.labels.bincount(minlength=10).min() > 800
    (mean,), (std,) = channel_stats(ds.train.images)
    assert mean == pytest.approx(spec.mean[0], abs=1e-3) and std == pytest.approx(spec.std[0], abs=1e-3)
    x = ds.normalize(ds.train.images[:5000])
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05


@needs_fashion
def test_fashion_mnist_is_found_in_the_system_location(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDENSATION_CACHE", str(tmp_path))
    monkeypatch.setenv("CONDENSATION_OFFLINE", "1")
    monkeypatch.delenv("CONDENSATION_DATA", raising=False)
    ds = load_dataset("FashionMNIST")
    assert ds.source == FASHION_DIR and ds.spec.classes[0] == "T-shirt/top"


@needs_mnist
def test_mnist_files_under_a_neutral_name_are_refused_as_fashion_mnist(tmp_path, data_env):
    folder = tmp_path / "downloads"
    folder.mkdir()
    for stem in MNIST_MD5:
        (folder / f"{stem}.gz").symlink_to(MNIST_DIR / f"{stem}.gz")
    with pytest.raises(DatasetCorruptError, match="checksum mismatch") as e:
        load_dataset("fashion-mnist", data_dir=folder, download=False)
    assert str(folder) in str(e.value) and "this is the MNIST" in str(e.value)
