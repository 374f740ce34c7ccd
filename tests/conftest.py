"""Shared fixtures."""

import os

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one pytest-xdist worker per core: each worker, and every process a test
    # starts, computes on one thread, so the workers do not oversubscribe the cores.
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def data_env(tmp_path, monkeypatch):
    """Isolate dataset discovery: offline, an empty cache in tmp_path, no CONDENSATION_DATA and no
    system locations. Returns the cache directory."""
    from condensation.data import discovery

    cache = tmp_path / "cache"
    monkeypatch.setenv("CONDENSATION_CACHE", str(cache))
    monkeypatch.setenv("CONDENSATION_OFFLINE", "1")
    monkeypatch.delenv("CONDENSATION_DATA", raising=False)
    monkeypatch.setattr(discovery, "SYSTEM_LOCATIONS", [])
    return cache


# ---------------------------------------------------------------------------- small learnable data
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def write_toy_npz(path: Path, classes: int = 3, per_class: int = 60, test_per_class: int = 30, size: int = 16, seed: int = 0) -> Path:
    """A learnable toy dataset in the npz format: class c is a fixed random pattern plus noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.uniform(0, 255, size=(classes, 1, size, size))

    def draw(n: int):
        y = np.repeat(np.arange(classes), n)
        x = patterns[y] * 0.6 + rng.uniform(0, 255 * 0.4, size=(len(y), 1, size, size))
        return x.astype(np.uint8), y.astype(np.int64)

    x_train, y_train = draw(per_class)
    x_test, y_test = draw(test_per_class)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.fixture(scope="session")
def toy_npz(tmp_path_factory) -> Path:
    """Path of a 3-class, 1x16x16 toy dataset in the npz format."""
    return write_toy_npz(tmp_path_factory.mktemp("toy") / "toy.npz")


@pytest.fixture(scope="session")
def toy_dataset(toy_npz):
    from condensation.data import load_dataset

    return load_dataset(f"npz:{toy_npz}", download=False)


def load_benchmark(name: str):
    """The module ``benchmarks/NAME.py``, loaded from its file (benchmarks/ is on the path while
    it loads, for the sibling modules it imports)."""
    import importlib.util
    import sys

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module
