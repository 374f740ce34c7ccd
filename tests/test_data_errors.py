"""Bad datasets through the CLI: one line naming the fix, exit status 2, no traceback, no run directory."""

import numpy as np
import pytest
from PIL import Image

from condensation.cli import main
from condensation.data import DatasetCorruptError, DataError, get_spec, load_dataset
from condensation.distill import random_real_set
from condensation.methods.base import RealPool


def png(path, h=8, w=8, value=None, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8) if value is None else np.full((h, w, 3), value, np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def folder(root, classes=("a", "b"), n=3, h=8, w=8):
    for c in classes:
        for k in range(n):
            png(root / c / f"{k}.png", h, w, seed=k)
    return root


def empty_class(root):
    folder(root)
    (root / "c").mkdir()
    (root / "c" / "notes.txt").write_text("no images here")
    return root, ["class folder(s) 'c' hold no images", "add images to them or remove them"]


def garbage_image(root):
    folder(root)
    (root / "b" / "1.png").write_bytes(b"this is not a picture")
    return root, [str(root / "b" / "1.png"), "not a readable image", "remove or replace the file"]


def truncated_image(root):
    folder(root, h=32, w=32)
    path = root / "a" / "2.png"
    path.write_bytes(path.read_bytes()[:-200])  # the header reads, the pixels do not
    return root, [str(path), "cannot decode image", "remove or replace the file"]


def mixed_sizes(root):
    folder(root)
    png(root / "b" / "9.png", 10, 6)
    return root, [str(root / "a" / "0.png"), "8x8", str(root / "b" / "9.png"), "6x10", "--resolution"]


def npz(root, **arrays):
    root.mkdir(parents=True, exist_ok=True)
    path = root / "d.npz"
    np.savez(path, **arrays)
    return path


GOOD = dict(x_train=np.zeros((4, 8, 8), np.uint8), y_train=np.array([0, 1, 0, 1]), x_test=np.zeros((2, 8, 8), np.uint8), y_test=np.array([0, 1]))

CASES = {
    "imagefolder, empty class": lambda r: empty_class(r),
    "imagefolder, unreadable image": lambda r: garbage_image(r),
    "imagefolder, truncated image": lambda r: truncated_image(r),
    "imagefolder, mixed sizes": lambda r: mixed_sizes(r),
    "npz, wrong keys": lambda r: (npz(r, x=GOOD["x_train"], y=GOOD["y_train"]), ["missing array(s) x_train, y_train, x_test, y_test (found: x, y)", "np.savez(PATH, x_train="]),
    "npz, float images": lambda r: (npz(r, **{**GOOD, "x_train": np.zeros((4, 8, 8), np.float32)}), ["x_train must be uint8", "astype(np.uint8)"]),
    "npz, fractional labels": lambda r: (npz(r, **{**GOOD, "y_train": np.array([0, 0.5, 1, 1])}), ["labels must be integers", "y.astype(np.int64)"]),
    "npz, object classes": lambda r: (npz(r, **GOOD, classes=np.array(["cat", 1], dtype=object)), ["classes is an array of Python objects", "store plain numeric arrays"]),
    "npz, repeated class names": lambda r: (npz(r, **GOOD, classes=np.array(["cat", "cat"])), ["'classes' names 'cat' more than once", "give every class its own name"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_dataset_gets_one_line_naming_the_fix(case, tmp_path, capsys, data_env):
    path, expected = CASES[case](tmp_path / "data")
    kind = "npz" if str(path).endswith(".npz") else "imagefolder"
    out = tmp_path / "run"
    code = main(["distill", "--dataset", f"{kind}:{path}", "--iterations", "1", "--num-eval", "0", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("condense distill: error: ") and err.count("\n") == 1 and "Traceback" not in err
    for text in expected:
        assert text in err, (text, err)
    assert not out.exists()


def test_mixed_sizes_are_fine_with_a_resolution(tmp_path, capsys, data_env):
    root, _ = mixed_sizes(tmp_path / "data")
    code = main(["distill", "--dataset", f"imagefolder:{root}", "--resolution", "16", "--iterations", "0", "--num-eval", "0",
                 "--no-baseline", "--out", str(tmp_path / "run"), "--quiet", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    assert get_spec(f"imagefolder:{root}@16").image_size == (16, 16)


def test_resolution_on_another_dataset_is_refused(tmp_path, capsys, toy_npz):
    code = main(["distill", "--dataset", f"npz:{toy_npz}", "--resolution", "16", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "applies to imagefolder:PATH" in err and err.count("\n") == 1


def test_every_form_of_a_missing_dataset_is_named(capsys, data_env):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("tinyimagenet"))
    for form in ("tinyimagenet.pt", "tiny-imagenet-200/", "tiny-imagenet-200.zip"):
        assert form in line
    line = next(ln for ln in out.splitlines() if ln.startswith("cifar10 "))
    assert "cifar-10-batches-py/" in line and "cifar-10-python.tar.gz" in line
    assert "imagefolder:PATH@N" in out and "npz:PATH" in out


def test_npz_class_names_reach_spec_and_sets(tmp_path):
    names = np.array(["cat", "dog"])
    path = npz(tmp_path, **GOOD, classes=names)
    ds = load_dataset(f"npz:{path}")
    assert ds.spec.classes == ("cat", "dog")
    pool = RealPool(ds.train.images, ds.train.labels, ds.spec.num_classes, ds.normalize)
    assert random_real_set(pool, 1, 0, ds).classes == ("cat", "dog")  # what grids and tables print
    path = npz(tmp_path / "bytes", **GOOD, classes=np.array([b"cat", b"dog"]))
    assert get_spec(f"npz:{path}").classes == ("cat", "dog")
    path = npz(tmp_path / "short", **GOOD, classes=np.array(["cat"]))
    with pytest.raises(DatasetCorruptError, match="one name per class"):
        load_dataset(f"npz:{path}")


def test_data_errors_are_data_errors():
    assert issubclass(DatasetCorruptError, DataError)
