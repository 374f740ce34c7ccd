"""Issue #28, items 1 and 6: a multi-formation result (factor > 1) is labelled with its factor and
storage wherever it is shown (ablation and reproduce tables, continual and NAS tables,
benchmarks/time_to_accuracy.py), a paper's figure (plain sets) beside it is marked as another
setting, its random-real baseline says what it is; the augmentation ablation says that rows 3-6
also augment the inner loop, and a custom strategy reaches row 2."""

import csv
import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from condensation.ablation import augmentation_cells, write_ablation
from condensation.config import DistillConfig, resolve
from condensation.experiments import CellResult
from condensation.labels import paper_beside, per_class, random_real_text

from conftest import write_toy_npz

ROOT = Path(__file__).resolve().parents[1]
MARK = "(plain sets of 1 image/class: another setting)"
FACTOR2 = "1 stored image/class (factor 2: 4 training images/class)"
quiet = dict(log=lambda msg: None)


def test_the_shared_labels():
    assert per_class(1) == "1 image/class" and per_class(10, 1) == "10 images/class"
    assert per_class(1, 2) == FACTOR2
    assert random_real_text(1, 2) == "4 random real images shrunk into each stored image (1 stored image per class)"
    assert paper_beside("70.6 ± 0.6", 1, 1) == "70.6 ± 0.6"
    assert paper_beside("70.6 ± 0.6", 1, 2) == f"70.6 ± 0.6 {MARK}"


# ---------------------------------------------------------------------- ablation (items 1 and 6)
def _finished(cell, factor):
    accuracy = {"convnetw32": {"mean": 0.5, "std": 0.01, "runs": [0.5]}}
    return CellResult(cell, [0], accuracy, {0: accuracy}, 1.0,
                      {"seeds": 1, "networks": 1, "iterations": 2, "batch_real": 8, "factor": factor})


def test_ablation_tables_state_the_factor_and_mark_the_paper(toy_npz, tmp_path, monkeypatch):
    base = DistillConfig(dataset=f"npz:{toy_npz}", ipc=1, model="convnetw32", factor=2)
    cells = augmentation_cells(base)
    for c in cells:
        c.paper = {"mean": 49.1, "std": 0.8, "source": "a test"}
    drawn = {}
    monkeypatch.setattr("condensation.plots.bar_chart", lambda path, labels, means, stds, reference, title: drawn.update(
        reference=reference, title=title))
    write_ablation("augmentation", base, [0], [_finished(c, 2) for c in cells], tmp_path, 1.0)
    md = (tmp_path / "ablation.md").read_text()
    assert FACTOR2 in md and f"49.1 ± 0.8 {MARK}" in md and "multi-formation, factor 2" in md
    data = json.loads((tmp_path / "ablation.json").read_text())
    assert all(r["factor"] == 2 and r["training_images_per_class"] == 4 for r in data["rows"])
    assert all(r["paper_setting"].startswith("another setting") for r in data["rows"])
    rows = list(csv.DictReader(open(tmp_path / "ablation.csv")))
    assert all(r["factor"] == "2" and r["paper_setting"] == "plain sets: another setting" for r in rows)
    assert drawn["reference"] == [None] * 6 and FACTOR2 in drawn["title"]  # not drawn as if comparable
    # a plain grid keeps the paper's figure as it is, drawn, with no factor column
    plain = DistillConfig(dataset=f"npz:{toy_npz}", ipc=1, model="convnetw32")
    write_ablation("augmentation", plain, [0], [_finished(c, 1) for c in cells], tmp_path / "plain", 1.0)
    md = (tmp_path / "plain" / "ablation.md").read_text()
    assert "| 49.1 ± 0.8 |" in md and "another setting" not in md and "images/class |" not in md
    assert drawn["reference"] == [0.491] * 6


def test_the_augmentation_ablation_says_rows_3_to_6_augment_the_inner_loop(toy_npz, toy_dataset, tmp_path, monkeypatch):
    base = DistillConfig(dataset=f"npz:{toy_npz}", ipc=2, model="convnetw32")
    cells = augmentation_cells(base)
    assert [c.info["inner loop"] for c in cells] == ["–", "–", "A^s", "A^s", "A^s", "A^s"]
    assert [("inner loop" in c.label) for c in cells] == [False, False, True, True, True, True]
    monkeypatch.setattr("condensation.plots.bar_chart", lambda *a, **k: None)
    write_ablation("augmentation", base, [0], [_finished(c, 1) for c in cells], tmp_path, 1.0)
    md = (tmp_path / "ablation.md").read_text()
    assert "| real | synthetic | inner loop | evaluation |" in md
    assert "DSA's inner loop augments in rows 3–6" in md
    data = json.loads((tmp_path / "ablation.json").read_text())
    assert data["columns"] == ["real", "synthetic", "inner loop", "evaluation"]
    assert "inner loop" in data["notes"]
    # the inner loop does augment in the DSA rows and does not in DC's (what the column says)
    from condensation.methods.gradient_matching import GradientMatching
    seen = []
    monkeypatch.setattr(GradientMatching, "train_network", lambda self, *a: seen.append((self.name, self.augment is not None)))
    from condensation.distill import distill

    for c in (cells[0], cells[2]):  # DC (row 1) and DSA with real-only draws (row 3), ipc 2: an inner loop
        distill(dataclasses.replace(c.config, iterations=1, num_eval=0, batch_real=8, compile="off"),
                dataset=toy_dataset, progress=False, **quiet)
    assert seen == [("dc", False), ("dsa", True)]


def test_a_custom_strategy_reaches_row_two(toy_npz):
    base = DistillConfig(dataset=f"npz:{toy_npz}", ipc=1, model="convnetw32", strategy="crop_scale")
    cells = {c.key: c for c in augmentation_cells(base)}
    assert cells["dc-dsa-eval"].config.strategy == "crop_scale"
    for key in ("real-only", "synthetic-only", "independent", "siamese"):
        assert cells[key].config.strategy == "crop_scale"
    from condensation.ledger import eval_protocol
    from condensation.data import get_spec

    spec = get_spec(f"npz:{toy_npz}")
    resolved = resolve(cells["dc-dsa-eval"].config, flip_ok=spec.flip_ok)
    protocol = eval_protocol(resolved, spec, "convnetw32")
    assert resolved.strategy == "crop_scale" and "crop_scale" in repr(protocol.augment)
    # DC itself still refuses a strategy it would not use
    with pytest.raises(ValueError, match="--strategy applies to"):
        resolve(DistillConfig(dataset=f"npz:{toy_npz}", method="dc", strategy="crop"), flip_ok=True)


# ---------------------------------------------------------------------- reproduce, continual, nas
def test_a_reproduce_grid_states_the_factor(toy_npz, tmp_path):
    from condensation.reproduce import run_reproduce

    overrides = dict(model="convnetw32", iterations=1, batch_real=8, num_eval=1, eval_epochs=2, compile="off",
                     factor=2)
    results = run_reproduce(["dsa"], [f"npz:{toy_npz}"], [1], tmp_path, seeds=[0], overrides=overrides, **quiet)
    assert results[0].factor == 2 and results[0].budget["factor"] == 2
    md = (tmp_path / "results.md").read_text()
    assert FACTOR2 in md and "multi-formation, factor 2" in md
    cell = json.loads((tmp_path / "results.json").read_text())["cells"][0]
    assert cell["factor"] == 2 and cell["training_images_per_class"] == 4


@pytest.fixture(scope="module")
def toy8(tmp_path_factory):
    from condensation.data import load_dataset

    path = write_toy_npz(tmp_path_factory.mktemp("toy8f") / "toy8.npz", classes=4, per_class=40, test_per_class=10, size=8)
    return load_dataset(f"npz:{path}", download=False)


def test_continual_tables_state_each_memory_factor(toy8, tmp_path):
    from condensation.apps.continual import run_continual

    result = run_continual(toy8, 2, 1, ("dsa", "random"), (0,), tmp_path, iterations=1, batch_real=8, num_eval=1,
                           eval_epochs=2, model="convnetw32", compile="off", device="cpu",
                           condense={"factor": 2, "inner_loop": 1}, **quiet)
    assert result.factors == {"dsa": 2, "random": 1}
    md = (tmp_path / "continual.md").read_text()
    assert "| step | classes seen | memory (stored images) | dsa (factor 2) | random |" in md
    assert "dsa (factor 2): multi-formation, factor 2" in md
    data = json.loads((tmp_path / "continual.json").read_text())
    assert data["factors"] == {"dsa": 2, "random": 1} and data["training_images_per_class"] == {"dsa": 4, "random": 1}
    rows = list(csv.DictReader(open(tmp_path / "continual.csv")))
    assert {(r["method"], r["factor"]) for r in rows} == {("dsa", "2"), ("random", "1")}
    from condensation.report import write_report

    page = write_report(tmp_path).read_text()
    assert "dsa (factor 2) %" in page and "multi-formation, factor 2" in page


def test_nas_tables_state_the_proxy_factor_and_its_random_proxy_has_the_same_storage(toy8, tmp_path):
    from condensation.apps.nas import run_nas

    result = run_nas(toy8, 1, ["convnetw32", "convnetd1"], tmp_path, iterations=1, batch_real=8, target_size=10,
                     val_size=5, proxy_epochs=2, target_epochs=2, num_nets=1, compile="off", device="cpu",
                     condense={"model": "convnetw32", "factor": 2}, **quiet)
    condensed, random, target = result.summary
    assert (condensed["images"], condensed["training_images"]) == (4, 16)
    assert (random["images"], random["training_images"], random["bytes"]) == (4, 16, 4 * 64 * 4)
    assert (target["images"], target["training_images"]) == (40, 40)
    md = (tmp_path / "nas.md").read_text()
    assert f"condensed (dsa, {FACTOR2})" in md
    assert "random real (4 random real images shrunk into each stored image (1 stored image per class))" in md
    assert "| training images |" in md and "the random proxy has the same storage" in md
    data = json.loads((tmp_path / "nas.json").read_text())
    assert data["factor"] == 2 and data["labels"]["random"].startswith("random real (4 random")


# ---------------------------------------------------------------------- benchmarks/time_to_accuracy.py
def _benchmark():
    spec = importlib.util.spec_from_file_location("time_to_accuracy", ROOT / "benchmarks" / "time_to_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_time_to_accuracy_labels_a_multi_formation_label(tmp_path, monkeypatch):
    tta = _benchmark()
    assert tta.describe("fast", 1) == "fast" and tta.describe("fast", 2) == f"fast ({FACTOR2})"
    assert tta.target_text(70.6, 1) == "target <= 0.2 and >= 70.6%"
    assert tta.target_text(70.6, 2) == f"target <= 0.2; the paper's 70.6% {MARK}"
    assert tta.paper_line_label(70.6, 1) == "paper 70.6" and tta.paper_line_label(70.6, 2) == f"paper 70.6 {MARK}"
    drawn = {}
    monkeypatch.setattr(tta, "line_plot", lambda path, series, **kw: drawn.update(kw) or path)
    rows = [["fast", 0, 300, 10.0, 75.3, 0.2, 5, 3.0, 13.0, 2]]
    tta.plot(tmp_path / "p.png", {0: rows}, "fashion-mnist", "fast", 70.6, 2, [])
    assert FACTOR2 in drawn["title"] and drawn["hlines"] == [(f"paper 70.6 {MARK}", pytest.approx(0.706))]
