"""Synthetic-set file formats: our synset.pt, the authors' result files, image/label tensors, PNG
folders and .npz; round trips, the authors' layout read and evaluated, one-line errors."""

import errno
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from condensation.cli import main
from condensation.data import get_spec
from condensation.assess import evaluate_file
from condensation.formats import (
    EXPORT_FORMATS,
    detect_format,
    export_set,
    load_sets,
    parse_authors_name,
    pool_experiments,
    reported_accuracies,
    run_accuracies,
)
from condensation.synset import SynsetFormatError, SyntheticSet

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"

TINY = ["--models", "convnetw32", "--num-eval", "1", "--epochs", "5", "--compile", "off", "--device", "cpu"]


class Opaque:
    """A custom class: torch.save pickles it, a weights_only load must refuse it."""

    def __init__(self):
        self.x = 1


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def make_set(spec, ipc=2, seed=0, shuffle=True, method="dsa", model="convnetw32"):
    """A set of ``spec``'s shape with values spanning the pixel range (some clip), rows shuffled
    so that an order-preserving format is told apart from a class-sorting one."""
    g = torch.Generator().manual_seed(seed)
    n = spec.num_classes * ipc
    images = torch.randn(n, *spec.shape, generator=g) * 1.5
    labels = torch.arange(spec.num_classes).repeat_interleave(ipc)
    if shuffle:
        perm = torch.randperm(n, generator=g)
        images, labels = images[perm], labels[perm]
    meta = {"method": method, "config": {"model": model}, "seed": seed}
    return SyntheticSet(images, labels, spec.mean, spec.std, spec.name, spec.classes, ipc, meta)


def real_set(dataset, ipc=2, offset=0):
    """``ipc`` real training images per class, normalised, class-major (a set that learns)."""
    spec = dataset.spec
    idx = torch.cat([torch.nonzero(dataset.train.labels == c).flatten()[offset : offset + ipc] for c in range(spec.num_classes)])
    images = dataset.normalize(dataset.train.images[idx])
    return SyntheticSet(images, dataset.train.labels[idx].clone(), spec.mean, spec.std, spec.name, spec.classes, ipc, {"method": "dsa"})


def write_authors_file(path, sets, accs=None):
    """As the authors' main.py writes it: torch.save of {'data': [[images, labels], ...],
    'accs_all_exps': {model: [numpy floats]}}."""
    data = [[s.images.detach().cpu().clone(), s.labels.detach().cpu().clone()] for s in sets]
    torch.save({"data": data, "accs_all_exps": accs if accs is not None else {}}, path)
    return path


@pytest.fixture(scope="module")
def toy_spec(toy_npz):
    return get_spec(f"npz:{toy_npz}")


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("to", EXPORT_FORMATS)
@pytest.mark.parametrize("which", ["gray", "rgb"])
def test_round_trip_through_every_format(tmp_path, toy_npz, to, which):
    spec = get_spec(f"npz:{toy_npz}") if which == "gray" else get_spec("cifar10")
    s = make_set(spec, ipc=3, seed=1)
    out = export_set(s, to, tmp_path / ("out.npz" if to == "npz" else "out.pt" if to in ("authors", "synset") else "out"))
    assert detect_format(out) == {"mtt": "tensors"}.get(to, to)  # MTT's files are an image tensor and its labels
    # the foreign formats do not say which dataset: it is given, as --dataset would
    (back,) = load_sets(out, dataset=spec.name if to in ("tensors", "mtt", "imagefolder", "authors") else None)
    assert torch.equal(back.labels, s.labels)
    assert back.mean == s.mean and back.std == s.std and back.classes == s.classes and back.dataset == s.dataset
    if to == "imagefolder":
        assert back.images.dtype == torch.float32
        assert (back.pixels() - s.pixels()).abs().max() <= 1 / 255
        assert not torch.equal(back.images, s.images)  # 8-bit, clipped: not exact, as expected
    else:
        assert torch.equal(back.images, s.images)
    if to in ("npz", "synset"):
        assert back.meta == s.meta and back.ipc == s.ipc


def test_png_files_hold_the_viewable_pixels_in_class_folders(tmp_path):
    spec = get_spec("cifar10")
    s = make_set(spec, ipc=1, shuffle=False)
    out = export_set(s, "imagefolder", tmp_path / "pngs")
    folders = sorted(p.name for p in out.iterdir())
    assert folders == [f"{k}_{c}" for k, c in enumerate(spec.classes)]
    png = np.asarray(Image.open(out / "3_cat" / "3.png"))
    expected = (s.pixels()[3] * 255 + 0.5).floor().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    assert png.shape == (32, 32, 3) and np.array_equal(png, expected)


def test_image_folder_named_after_classes_or_numbers(tmp_path):
    spec = get_spec("cifar10")
    for names, labels in ((["cat", "airplane"], [0, 3]), (["7", "2"], [2, 7])):
        root = tmp_path / "_".join(names)
        for name in names:
            (root / name).mkdir(parents=True)
            Image.fromarray(np.full((32, 32, 3), 10 * len(name), np.uint8)).save(root / name / "a.png")
        (s,) = load_sets(root, dataset="cifar10")
        assert s.labels.tolist() == labels  # class-major order: airplane (0) before cat (3)
        assert s.ipc == 1 and s.dataset == "cifar10"
    wrong = tmp_path / "wrongsize"
    (wrong / "0").mkdir(parents=True)
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(wrong / "0" / "a.png")
    with pytest.raises(Exception, match="expected 32x32"):
        load_sets(wrong, dataset=spec.name)


def test_npz_layout_is_documented_arrays_without_pickles(tmp_path, toy_spec):
    s = make_set(toy_spec, ipc=2)
    out = export_set(s, "npz", tmp_path / "set.npz")
    with np.load(out, allow_pickle=False) as z:
        assert set(z.files) == {"images", "labels", "pixels", "mean", "std", "classes", "dataset", "ipc", "meta"}
        assert z["images"].dtype == np.float32 and z["images"].shape == (6, 1, 16, 16)
        assert z["labels"].dtype == np.int64
        assert z["pixels"].dtype == np.uint8 and z["pixels"].shape == (6, 16, 16, 1)
        expected = (s.pixels() * 255 + 0.5).floor().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        assert np.array_equal(z["pixels"], expected)
        assert z["classes"].tolist() == list(toy_spec.classes) and str(z["dataset"]) == toy_spec.name
        assert json.loads(str(z["meta"])) == s.meta


def test_tensor_file_with_labels_beside_it_and_a_learned_lr(tmp_path):
    spec = get_spec("mnist")
    s = make_set(spec, ipc=2)
    torch.save(s.images.clone().requires_grad_(True), tmp_path / "images_best.pt")
    torch.save(s.labels.clone(), tmp_path / "labels_best.pt")
    torch.save(torch.tensor(0.0123), tmp_path / "lr_best.pt")
    for path in (tmp_path / "images_best.pt", tmp_path):  # the file, or the folder holding it
        (back,) = load_sets(path, dataset="mnist")
        assert torch.equal(back.images, s.images) and torch.equal(back.labels, s.labels)
        assert back.meta["labels_file"] == "labels_best.pt" and back.meta["syn_lr"] == pytest.approx(0.0123)
    (tmp_path / "labels_best.pt").unlink()
    with pytest.raises(SynsetFormatError, match="labels_best.pt, labels.pt"):
        load_sets(tmp_path / "images_best.pt", dataset="mnist")
    torch.save(s.labels.float(), tmp_path / "labels.pt")  # integral floats are labels too
    assert torch.equal(load_sets(tmp_path / "images_best.pt", dataset="mnist")[0].labels, s.labels)
    with pytest.raises(SynsetFormatError, match="images are 1x28x28 but cifar10 images are 3x32x32"):
        load_sets(tmp_path / "images_best.pt", dataset="cifar10")


# ----------------------------------------------------------------------------- the authors' files
@pytest.mark.parametrize(
    "name, dataset, method, model, ipc",
    [
        ("res_DSA_CIFAR10_ConvNet_10ipc.pt", "cifar10", "dsa", "ConvNet", 10),
        ("res_DC_FashionMNIST_ConvNetBN_1ipc.pt", "fashion-mnist", "dc", "ConvNetBN", 1),
        ("res_DM_TinyImageNet_ConvNetD4_50ipc.pt", "tinyimagenet", "dm", "ConvNetD4", 50),
        ("res_DSA_CIFAR100_ResNet18BN_AP_1ipc.pt", "cifar100", "dsa", "ResNet18BN_AP", 1),
        ("res_DC_SVHN_ConvNet_50ipc.pt", "svhn", "dc", "ConvNet", 50),
        ("res_DSA_MNIST_ConvNet_10ipc.pt", "mnist", "dsa", "ConvNet", 10),
        ("res_DSA_toy_ConvNet_10ipc.pt", None, "dsa", "ConvNet", 10),
    ],
)
def test_authors_file_names_are_parsed(name, dataset, method, model, ipc):
    p = parse_authors_name(name)
    assert (p["dataset"], p["method"], p["model"], p["ipc"]) == (dataset, method, model, ipc)


def test_dataset_is_inferred_from_the_authors_file_name(tmp_path):
    spec = get_spec("fashion-mnist")
    sets = [make_set(spec, ipc=1, seed=k, shuffle=False) for k in range(3)]
    accs = {"ConvNet": [np.float64(0.7 + 0.01 * i) for i in range(6)]}  # 2 networks x 3 experiments
    path = write_authors_file(tmp_path / "res_DC_FashionMNIST_ConvNetBN_1ipc.pt", sets, accs)
    got = load_sets(path)
    assert len(got) == 3
    for k, (s, orig) in enumerate(zip(got, sets)):
        assert torch.equal(s.images, orig.images) and torch.equal(s.labels, orig.labels)
        assert s.dataset == "fashion-mnist" and s.classes == spec.classes and s.mean == spec.mean and s.ipc == 1
        assert s.meta["method"] == "dc" and s.meta["config"] == {"model": "convnetbn"} and s.meta["experiment"] == k
        assert s.meta["reported_accs"]["ConvNet"] == pytest.approx([0.7 + 0.01 * (2 * k), 0.7 + 0.01 * (2 * k + 1)])
    (one,) = load_sets(path, experiment=2)
    assert torch.equal(one.images, sets[2].images) and one.meta["experiment"] == 2
    assert load_sets(path, dataset="mnist")[0].dataset == "mnist"  # --dataset overrides the name
    with pytest.raises(ValueError, match=r"3 experiment\(s\) \(0..2\)"):
        load_sets(path, experiment=3)
    renamed = write_authors_file(tmp_path / "res_DC_MyData_ConvNet_1ipc.pt", sets)
    with pytest.raises(SynsetFormatError, match="'MyData' in its name is not one of .*pass --dataset"):
        load_sets(renamed)


def test_authors_file_with_numpy_1_names_loads_safely(tmp_path):
    """Files written under numpy 1 pickle their np.float64 accuracies as numpy.core.multiarray.scalar."""
    spec = get_spec("mnist")
    buf = io.BytesIO()
    torch.save({"data": [[make_set(spec, 1).images, make_set(spec, 1).labels]], "accs_all_exps": {"ConvNet": [np.float64(0.5)]}}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    path = tmp_path / "res_DSA_MNIST_ConvNet_1ipc.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("data.pkl"):
                assert b"numpy._core.multiarray" in data
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            z.writestr(name, data)
    (s,) = load_sets(path)
    assert s.meta["reported_accs"] == {"ConvNet": [0.5]}


def test_authors_file_is_read_and_evaluated_pooled_over_experiments(tmp_path, toy_npz, toy_dataset):
    sets = [real_set(toy_dataset, ipc=2, offset=2 * k) for k in range(2)]
    path = write_authors_file(
        tmp_path / "res_DSA_toy_ConvNetW32_2ipc.pt", sets, {"ConvNetW32": [np.float64(0.9), np.float64(0.8)] * 2}
    )
    kwargs = dict(num_eval=2, epochs=10, compile="off", device="cpu", dataset_name=f"npz:{toy_npz}")
    logged = []
    pooled = evaluate_file(path, log=logged.append, **kwargs)  # models "S": the file name's ConvNetW32
    assert set(pooled) == {"convnetw32"}
    r = pooled["convnetw32"]
    assert [e["experiment"] for e in r["experiments"]] == [0, 1]
    runs = r["experiments"][0]["runs"] + r["experiments"][1]["runs"]
    assert r["runs"] == runs and len(runs) == 4
    assert r["mean"] == pytest.approx(np.mean(runs)) and r["std"] == pytest.approx(np.std(runs))  # population std
    assert r["mean"] > 0.8  # real images of a learnable toy set: well above chance (1/3)
    assert any("reports ConvNetW32: 85.00 ± 5.00% over 4 networks" in line for line in logged)
    # an experiment picked alone faces the same networks, so gives the accuracies it has inside the pool
    alone = evaluate_file(path, experiment=1, **kwargs)["convnetw32"]
    assert alone["runs"] == r["experiments"][1]["runs"] and "experiments" not in alone


def test_pool_experiments_is_mean_and_population_std_over_all_networks():
    pooled = pool_experiments(
        [{"a": {"mean": 0.5, "std": 0.1, "runs": [0.4, 0.6]}}, {"a": {"mean": 0.8, "std": 0.0, "runs": [0.8, 0.8]}}], [3, 4]
    )["a"]
    assert pooled["runs"] == [0.4, 0.6, 0.8, 0.8]
    assert pooled["mean"] == pytest.approx(0.65) and pooled["std"] == pytest.approx(np.std([0.4, 0.6, 0.8, 0.8]))
    assert [e["experiment"] for e in pooled["experiments"]] == [3, 4]


def test_export_to_authors_round_trips_every_experiment_and_its_accuracies(tmp_path):
    spec = get_spec("cifar10")
    sets = [make_set(spec, ipc=1, seed=k) for k in range(2)]
    path = write_authors_file(tmp_path / "res_DSA_CIFAR10_ConvNet_1ipc.pt", sets, {"ConvNet": [0.1, 0.2, 0.3, 0.4]})
    out = export_set(load_sets(path), "authors", tmp_path / "again")
    assert out == tmp_path / "again" / "res_DSA_CIFAR10_ConvNet_1ipc.pt"
    raw = torch.load(out, weights_only=True)
    assert set(raw) == {"data", "accs_all_exps"} and raw["accs_all_exps"] == {"ConvNet": [0.1, 0.2, 0.3, 0.4]}
    assert len(raw["data"]) == 2 and all(torch.equal(raw["data"][k][0], sets[k].images) for k in range(2))


# ----------------------------------------------------------------------------- the command line
def test_cli_export_show_and_evaluate_every_format(capsys, tmp_path, toy_npz, toy_dataset):
    synset = real_set(toy_dataset, ipc=2)
    synset.meta["config"] = {"model": "convnetw32"}
    src = synset.save(tmp_path / "synset.pt")
    dataset = f"npz:{toy_npz}"
    code, out, err = run(capsys, "evaluate", src, *TINY, "--json", tmp_path / "ref.json")
    assert code == 0, err
    reference = json.loads((tmp_path / "ref.json").read_text())["accuracy"]["convnetw32"]["runs"]
    for to in EXPORT_FORMATS:
        target = tmp_path / to / ("set.npz" if to == "npz" else "set.pt" if to == "synset" else "out")
        code, out, err = run(capsys, "export", src, "--to", to, target)
        assert code == 0, err
        written = Path(out.split()[1])
        assert written.exists() and f"({to}: 3 classes x 2 images of {dataset})" in out
        code, _, err = run(capsys, "export", src, "--to", to, target)
        assert code == 2 and "--overwrite" in err
        code, _, err = run(capsys, "export", src, "--to", to, target, "--overwrite")
        assert code == 0, err

        flags = ["--dataset", dataset] if to in ("authors", "tensors", "mtt", "imagefolder") else []
        code, out, err = run(capsys, "show", written, *flags, "-o", tmp_path / f"{to}.png")
        assert code == 0, err
        assert Image.open(tmp_path / f"{to}.png").size[1] == 3 * (16 * 2 + 2) + 2  # one row per class
        code, out, err = run(capsys, "evaluate", written, *flags, *TINY, "--json", tmp_path / f"{to}.json")
        assert code == 0, err
        runs = json.loads((tmp_path / f"{to}.json").read_text())["accuracy"]["convnetw32"]["runs"]
        if to == "imagefolder":  # 8-bit pixels: close, not the same images
            assert abs(runs[0] - reference[0]) <= 0.2
        else:  # the same images face the same network: the same accuracy
            assert runs == reference, to


def test_cli_authors_file_with_several_experiments(capsys, tmp_path, toy_npz, toy_dataset):
    sets = [real_set(toy_dataset, ipc=1, offset=k) for k in range(2)]
    path = write_authors_file(tmp_path / "res_DSA_toy_ConvNetW32_1ipc.pt", sets)
    dataset = ["--dataset", f"npz:{toy_npz}"]
    code, out, err = run(capsys, "show", path, *dataset)
    assert code == 0 and "showing experiment 0" in err and "--experiment" in err
    assert (tmp_path / "res_DSA_toy_ConvNetW32_1ipc_exp0.png").is_file()
    code, out, err = run(capsys, "show", path, *dataset, "--experiment", "1")
    assert code == 0 and err == "" and (tmp_path / "res_DSA_toy_ConvNetW32_1ipc_exp1.png").is_file()
    code, out, err = run(capsys, "evaluate", path, *dataset, *TINY[2:], "--json", tmp_path / "e.json")
    assert code == 0, err
    assert "convnetw32:" in out and "over 2 networks (2 experiments x 1)" in out
    saved = json.loads((tmp_path / "e.json").read_text())["accuracy"]["convnetw32"]
    assert len(saved["experiments"]) == 2 and len(saved["runs"]) == 2
    code, _, err = run(capsys, "export", path, *dataset, "--to", "npz", tmp_path / "x.npz")
    assert code == 2 and "pick one with --experiment" in err
    code, _, err = run(capsys, "export", path, *dataset, "--experiment", "1", "--to", "npz", tmp_path / "x.npz")
    assert code == 0, err
    assert torch.equal(load_sets(tmp_path / "x.npz")[0].images, sets[1].images)


@pytest.mark.skipif(not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(), reason=f"MNIST not at {MNIST_DIR}")
def test_cli_evaluates_an_authors_mnist_file_with_the_dataset_from_its_name(capsys, tmp_path, data_env):
    spec = get_spec("mnist")
    path = write_authors_file(tmp_path / "res_DC_MNIST_ConvNet_1ipc.pt", [make_set(spec, ipc=1, shuffle=False)])
    code, out, err = run(capsys, "evaluate", path, "--data-dir", MNIST_DIR, "--models", "mlp", "--num-eval", "1", "--epochs", "2", "--compile", "off", "--device", "cpu")
    assert code == 0, err
    assert out.startswith("mlp: ") and "over 1 network" in out
    assert "crop_scale_rotate" in err  # the DC protocol (from the file name) on MNIST (from the file name)


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {}
    torch.save(Opaque(), tmp_path / "object.pt")
    files["object"] = tmp_path / "object.pt"
    (tmp_path / "notes.txt").write_text("images: 10\nlabels: 10\n")
    files["text"] = tmp_path / "notes.txt"
    SyntheticSet(torch.zeros(2, 1, 4, 4), torch.tensor([0, 1]), (0.5,), (0.5,), "mnist", ("a", "b"), 1).save(tmp_path / "ok.pt")
    raw = (tmp_path / "ok.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(raw[: len(raw) // 2])
    files["truncated zip"] = tmp_path / "truncated.pt"
    np.savez(tmp_path / "ok.npz", images=np.zeros((2, 1, 4, 4), np.float32), labels=np.zeros(2, np.int64))
    (tmp_path / "truncated.npz").write_bytes((tmp_path / "ok.npz").read_bytes()[:300])
    files["truncated npz"] = tmp_path / "truncated.npz"
    torch.save({"weights": torch.zeros(3)}, tmp_path / "state.pt")
    files["foreign dict"] = tmp_path / "state.pt"
    (tmp_path / "empty").mkdir()
    files["empty folder"] = tmp_path / "empty"
    return files


@pytest.mark.parametrize("command", ["show", "evaluate", "export"])
def test_wrong_or_foreign_files_get_one_line_naming_the_accepted_formats(capsys, tmp_path, command):
    for what, path in _bad_files(tmp_path).items():
        argv = [command, path] + (["--to", "npz", tmp_path / "out.npz"] if command == "export" else [])
        code, out, err = run(capsys, *argv)
        assert code == 2, what
        assert err.startswith(f"condense {command}: error: {path}") and err.count("\n") == 1, (what, err)
        assert "accepted: a synset.pt" in err and "res_METHOD_DATASET_MODEL_Nipc.pt" in err and "Traceback" not in err
    code, _, err = run(capsys, "show", tmp_path / "object.pt")
    assert "Opaque" in err and "weights_only=True" in err


def test_missing_dataset_and_wrong_shapes_are_one_line_errors(capsys, tmp_path):
    spec = get_spec("mnist")
    s = make_set(spec, ipc=1)
    folder = export_set(s, "tensors", tmp_path / "t")
    code, _, err = run(capsys, "show", folder)
    assert code == 2 and "pass --dataset NAME" in err and err.count("\n") == 1
    code, _, err = run(capsys, "evaluate", folder, "--dataset", "cifar10")
    assert code == 2 and "images are 1x28x28 but cifar10 images are 3x32x32" in err
    code, _, err = run(capsys, "show", folder, "--dataset", "imagenet")
    assert code == 2 and "unknown dataset" in err


def test_folder_exports_replace_only_an_earlier_export(tmp_path):
    spec = get_spec("mnist")
    s = make_set(spec, ipc=1)
    out = tmp_path / "pngs"
    export_set(s, "imagefolder", out)
    s2 = make_set(spec, ipc=1, seed=5)
    with pytest.raises(SynsetFormatError, match="--overwrite"):
        export_set(s2, "imagefolder", out)
    export_set(s2, "imagefolder", out, overwrite=True)
    assert (load_sets(out, dataset="mnist")[0].pixels() - s2.pixels()).abs().max() <= 1 / 255
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pngs"]  # no temporary folders left behind
    (out / "notes.txt").write_text("mine")
    with pytest.raises(SynsetFormatError, match="holds files other than"):
        export_set(s, "imagefolder", out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"


# ----------------------------------------------------------------------------- failed writes
def _unwritable(tmp_path, where):
    """A target that cannot be written: in a read-only folder (not for root, whom chmod does not
    stop), or under a regular file (a parent that cannot be a folder, root included)."""
    if where == "read-only folder":
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            (locked / "probe").touch()
        except PermissionError:
            return locked, locked / "out"
        locked.chmod(0o700)
        pytest.skip("this user (root) writes into read-only folders")
    (tmp_path / "a_file").write_text("not a folder")
    return tmp_path, tmp_path / "a_file" / "sub" / "out"


@pytest.mark.parametrize("to", EXPORT_FORMATS)
@pytest.mark.parametrize("where", ["read-only folder", "under a file"])
def test_a_failed_export_names_the_target_in_one_line_and_leaves_no_temporary_file(capsys, tmp_path, to, where):
    src = make_set(get_spec("mnist"), ipc=1).save(tmp_path / "synset.pt")
    parent, out = _unwritable(tmp_path, where)
    out = out.with_suffix({"npz": ".npz", "authors": ".pt", "synset": ".pt"}.get(to, ""))
    try:
        code, _, err = run(capsys, "export", src, "--to", to, out, "--dataset", "mnist")
        listed = sorted(p.name for p in parent.iterdir())
    finally:
        parent.chmod(0o700)
    reason = "Permission denied" if where == "read-only folder" else "Not a directory"
    assert code == 2 and err == f"condense export: error: cannot write {out}: {reason}\n", err
    assert listed == ([] if where == "read-only folder" else ["a_file", "synset.pt"])  # no .part left


def test_a_failed_write_is_a_write_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    from condensation import atomic

    spec = get_spec("mnist")
    old, new = make_set(spec, ipc=1), make_set(spec, ipc=1, seed=3)
    export_set(old, "npz", tmp_path / "set.npz")
    export_set(old, "tensors", tmp_path / "tensors")

    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", disk_full)
    with pytest.raises(atomic.WriteError) as e:
        export_set(new, "npz", tmp_path / "set.npz", overwrite=True)
    assert isinstance(e.value, OSError) and e.value.errno == errno.ENOSPC
    assert str(e.value) == f"cannot write {tmp_path / 'set.npz'}: No space left on device"
    with pytest.raises(atomic.WriteError, match=f"^cannot write {tmp_path / 'tensors'}: No space left on device$"):
        export_set(new, "tensors", tmp_path / "tensors", overwrite=True)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.npz", "tensors"]  # no temporary file or folder
    assert torch.equal(load_sets(tmp_path / "set.npz")[0].images, old.images)
    assert torch.equal(load_sets(tmp_path / "tensors", dataset="mnist")[0].images, old.images)


# ----------------------------------------------------------------------------- a run's accuracies
def _run_dir(tmp_path, results=None):
    run = tmp_path / "run"
    run.mkdir()
    s = make_set(get_spec("mnist"), ipc=1, model="convnet")
    s.meta["iteration"] = 10
    s.save(run / "synset.pt")
    if results is not None:
        (run / "results.json").write_text(json.dumps(results))
    return run / "synset.pt"


def test_export_to_authors_writes_the_runs_accuracies_from_results_json(capsys, tmp_path):
    results = {
        "accuracy": {
            "convnet": {"mean": 0.55, "std": 0.05, "runs": [0.5, 0.6]},
            "resnet18bn_ap": {"mean": 0.3, "std": 0.0, "runs": [0.3]},
        },
        "iteration": 10,
    }
    src = _run_dir(tmp_path, results)
    assert run_accuracies(src, 10) == {"ConvNet": [0.5, 0.6], "ResNet18BN_AP": [0.3]}
    code, _, err = run(capsys, "export", src, "--to", "authors", tmp_path / "out")
    assert code == 0, err
    out = tmp_path / "out" / "res_DSA_MNIST_ConvNet_1ipc.pt"
    raw = torch.load(out, weights_only=True)
    assert raw["accs_all_exps"] == {"ConvNet": [0.5, 0.6], "ResNet18BN_AP": [0.3]}
    sets = load_sets(out)  # read back as an authors' file: what condense evaluate prints as "reports ..."
    assert reported_accuracies(sets) == {"ConvNet": [0.5, 0.6], "ResNet18BN_AP": [0.3]}


@pytest.mark.parametrize("results", [None, {"accuracy": {}, "iteration": 10}, {"accuracy": {"convnet": {"runs": [0.5]}}, "iteration": 9}])
def test_export_to_authors_without_the_runs_accuracies_writes_none(capsys, tmp_path, results):
    """No results.json, one without accuracies, or one of another iteration (a resumed run's)."""
    src = _run_dir(tmp_path, results)
    code, _, err = run(capsys, "export", src, "--to", "authors", tmp_path / "out.pt")
    assert code == 0, err
    assert torch.load(tmp_path / "out.pt", weights_only=True)["accs_all_exps"] == {}
