"""Decoded caches: memory-mapped, reused, read lazily, rebuilt when stale or damaged; parallel
decoding gives the serial arrays; the real-image pool gathers correct batches from a mapped set."""

import json
import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from condensation.config import DistillConfig
from condensation.data import DatasetCorruptError, load_dataset
from condensation.data.readers import _cache, _decode, read_image_folder
from condensation.distill import distill
from condensation.methods.base import RealPool
from condensation.rng import make_generator

RES = 64
ROW = 3 * RES * RES  # bytes of one decoded image


@pytest.fixture
def cached(data_env, monkeypatch):
    monkeypatch.setattr(_cache, "MIN_CACHED_BYTES", 0)
    return data_env


def make_folder(root, classes=4, per_class=100, seed=0, jpeg_every=3):
    """Random images of mixed sizes (PNG and JPEG, some grayscale) in root/<class>/."""
    rng = np.random.default_rng(seed)
    for c in range(classes):
        d = root / f"class{c}"
        d.mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            h, w = (int(rng.integers(20, 120)), int(rng.integers(20, 120)))
            if k % 7 == 3:
                img = Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L")
            else:
                img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            img.save(d / f"{k:03d}.{'jpg' if k % jpeg_every == 0 else 'png'}")
    return root


def mapping_of(t: torch.Tensor) -> tuple[str, int]:
    """(file, resident bytes) of the memory mapping holding ``t``'s data, from /proc/self/smaps."""
    ptr = t.data_ptr()
    with open("/proc/self/smaps") as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        head = line.split()
        if "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            if lo <= ptr < hi:
                path = head[5] if len(head) > 5 else ""
                rss = next(int(ln.split()[1]) for ln in lines[i + 1 :] if ln.startswith("Rss:"))
                return path, rss * 1024
    return "", 0


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux /proc")
def test_cache_is_reused_mapped_and_read_lazily(tmp_path, cached, monkeypatch):
    root = make_folder(tmp_path / "f", per_class=150)
    first = load_dataset(f"imagefolder:{root}@{RES}")
    metas = list((cached / "decoded").glob("imagefolder-*/meta.json"))
    assert len(metas) == 1 and json.loads(metas[0].read_text())["counts"] == {"train": 480, "test": 120}

    from condensation.data.readers import imagefolder

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(imagefolder, "decode_splits", no_decoding)
    monkeypatch.setattr(imagefolder, "probe_files", no_decoding)
    ds = load_dataset(f"imagefolder:{root}@{RES}")
    assert ds.train.mapped and ds.test.mapped and ds.spec == first.spec
    assert torch.equal(ds.train.labels, first.train.labels)

    path, rss = mapping_of(ds.train.images)
    assert path == str(metas[0].parent / "train.npy")
    total = len(ds.train) * ROW
    assert rss < 0.05 * total  # opening, spec and labels read no image

    moved = ds.to("cpu")  # what the condensation loop does: no copy
    pool = RealPool(moved.train.images, moved.train.labels, ds.spec.num_classes, ds.normalize)
    assert pool.images.data_ptr() == ds.train.images.data_ptr()
    g = make_generator(0, "t")
    idx = pool.sampler.sample(2, 3, make_generator(0, "t"))
    batch = pool.class_batch(2, 3, g)
    assert torch.equal(batch, ds.normalize(first.train.images[idx]))  # the right rows, exactly
    # three rows, each with the kernel's fault-around (up to two aligned 64 KiB windows), not the set
    assert mapping_of(ds.train.images)[1] <= 3 * (ROW + 2 * 65536) < 0.1 * total

    int(ds.train.images.sum())  # touching every image does fill the mapping: the measure can fail
    assert mapping_of(ds.train.images)[1] > 0.9 * total


def test_pool_batches_from_a_mapped_set_equal_in_memory_ones(tmp_path, cached):
    ds = load_dataset(f"imagefolder:{make_folder(tmp_path / 'f', per_class=30)}@32")
    assert ds.train.mapped
    mapped = RealPool(ds.train.images, ds.train.labels, ds.spec.num_classes, ds.normalize)
    memory = RealPool(ds.train.images.clone(), ds.train.labels.clone(), ds.spec.num_classes, ds.normalize)
    assert mapped.device == memory.device == torch.device("cpu")
    for draw in (
        lambda p, g: p.class_batch(1, 5, g),
        lambda p, g: p.balanced(4, g)[0],
        lambda p, g: p.up_to(100, g)[0],  # more than a class holds: all of it
    ):
        a, b = draw(mapped, make_generator(3, "x")), draw(memory, make_generator(3, "x"))
        assert a.dtype == torch.float32 and torch.equal(a, b)
    labels = mapped.up_to(100, make_generator(3, "x"))[1]
    assert torch.equal(labels, torch.sort(ds.train.labels).values)


def test_distill_on_a_mapped_set_matches_in_memory(tmp_path, cached):
    ds = load_dataset(f"imagefolder:{make_folder(tmp_path / 'f', classes=3, per_class=20)}@16")
    copy = type(ds)(ds.spec, type(ds.train)(ds.train.images.clone(), ds.train.labels), ds.test, ds.source)
    config = DistillConfig(dataset=ds.spec.name, ipc=1, model="convnetw32", iterations=2, batch_real=8, num_eval=0,
                           compile="off", device="cpu", outer_loop=1, inner_loop=1)
    a = distill(config, dataset=ds, progress=False, log=lambda m: None)
    b = distill(config, dataset=copy, progress=False, log=lambda m: None)
    assert torch.equal(a.synset.images, b.synset.images) and a.losses == b.losses


def test_mapped_images_are_copy_on_write(tmp_path, cached):
    name = f"imagefolder:{make_folder(tmp_path / 'f', per_class=10)}@16"
    ds = load_dataset(name)
    before = ds.train.images[0].clone()
    ds.train.images[0] = 0  # a stray in-place write changes this process's view only
    assert int(ds.train.images[0].sum()) == 0
    assert torch.equal(load_dataset(name).train.images[0], before)


def test_stale_and_damaged_caches_are_rebuilt(tmp_path, cached):
    root = make_folder(tmp_path / "f", per_class=10)
    name = f"imagefolder:{root}@16"
    assert len(load_dataset(name).train) == 32
    Image.new("RGB", (30, 20), (10, 20, 30)).save(root / "class0" / "new.png")
    assert len(load_dataset(name).train) == 33  # a new file: decoded again
    (npy,) = (cached / "decoded").glob("imagefolder-*/train.npy")
    npy.write_bytes(npy.read_bytes()[:-100])  # truncated
    with pytest.warns(UserWarning, match="damaged decoded cache"):
        again = load_dataset(name)
    assert len(again.train) == 33 and again.train.mapped
    assert not list((cached / "decoded").glob(".*tmp*"))  # no temporary directories left behind


def test_unwritable_cache_decodes_into_memory(tmp_path, data_env, monkeypatch):
    monkeypatch.setattr(_cache, "MIN_CACHED_BYTES", 0)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("CONDENSATION_CACHE", str(blocker))
    root = make_folder(tmp_path / "f", per_class=5)
    with pytest.warns(UserWarning, match="could not write the decoded cache"):
        ds = load_dataset(f"imagefolder:{root}@16")
    assert not ds.train.mapped and len(ds.train) == 16


def test_small_folders_are_not_cached(tmp_path, data_env):
    ds = load_dataset(f"imagefolder:{make_folder(tmp_path / 'f', per_class=5)}@16")
    assert not ds.train.mapped and not (data_env / "decoded").exists()


def _pid(refs):
    return [os.getpid()] * len(refs)


def test_parallel_decoding_equals_serial(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "f", classes=3, per_class=50)
    monkeypatch.setattr(_decode, "PARALLEL_MIN", 0)
    monkeypatch.setattr(_decode, "CHUNK", 16)
    pids = {p for _, chunk in _decode._map(_pid, list(range(100)), 2, None) for p in chunk}
    assert os.getpid() not in pids and len(pids) >= 1  # the work ran in other processes

    serial = read_image_folder(root, resolution=24, cache=False, workers=1)
    parallel = read_image_folder(root, resolution=24, cache=False, workers=2)
    for a, b in ((serial.train_images, parallel.train_images), (serial.test_images, parallel.test_images),
                 (serial.train_labels, parallel.train_labels), (serial.test_labels, parallel.test_labels)):
        assert torch.equal(a, b)
    assert serial.stats == parallel.stats and serial.classes == parallel.classes
    assert serial.train_images.shape == (120, 3, 24, 24)

    bad = root / "class1" / "017.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(DatasetCorruptError) as e:  # raised in a worker, pickled back
        read_image_folder(root, resolution=24, cache=False, workers=2)
    assert str(bad) in str(e.value) and "remove or replace the file" in str(e.value)


def _die(refs):
    os._exit(3)  # a worker killed, e.g. by the kernel's out-of-memory killer


def test_a_dead_worker_and_the_worker_count(monkeypatch):
    from condensation.data import DataError

    monkeypatch.setattr(_decode, "PARALLEL_MIN", 0)
    with pytest.raises(DataError, match="CONDENSATION_DECODE_WORKERS=1"):
        list(_decode._map(_die, list(range(200)), 2, None))
    monkeypatch.setenv("CONDENSATION_DECODE_WORKERS", "1")
    assert _decode.default_workers() == 1
    assert [p for _, chunk in _decode._map(_pid, list(range(100)), None, None) for p in chunk] == [os.getpid()] * 100
    monkeypatch.setenv("CONDENSATION_DECODE_WORKERS", "nonsense")
    assert _decode.default_workers() >= 1


def test_parallel_decoding_of_zip_members(tmp_path, data_env, monkeypatch):
    import zipfile

    from test_data_tinyimagenet import build_tree, check

    monkeypatch.setattr(_decode, "PARALLEL_MIN", 0)
    monkeypatch.setattr(_decode, "CHUNK", 2)
    top, expected = build_tree(tmp_path / "src", per_class=4, n_val=6)
    archive = tmp_path / "data" / "tiny-imagenet-200.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(top.rglob("*")):
            z.write(p, p.relative_to(top.parent).as_posix())
    check(load_dataset("tinyimagenet", data_dir=tmp_path / "data", download=False), expected)


def test_data_errors_survive_pickling():
    e = pickle.loads(pickle.dumps(DatasetCorruptError("/x/a.png", "cannot decode image", "remove it")))
    assert isinstance(e, DatasetCorruptError) and str(e) == "/x/a.png: cannot decode image; remove it" and e.fix == "remove it"
