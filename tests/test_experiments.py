"""Grids that resume: the Siamese ablation, the init/distance ablations and the reproduce grid."""

import csv
import json

import pytest
import torch

from condensation import experiments
from condensation.ablation import augmentation_cells, run_ablation
from condensation.cli import main
from condensation.config import DistillConfig
from condensation.distill import distill
from condensation.evaluate import expand_models
from condensation.reproduce import run_reproduce
from condensation.synset import SyntheticSet

TINY = dict(model="convnetw32", iterations=2, batch_real=16, num_eval=1, eval_epochs=5, compile="off", baseline=False)
quiet = dict(log=lambda msg: None)


def _base(toy_npz, **kw):
    return DistillConfig(dataset=f"npz:{toy_npz}", ipc=1, **{**TINY, **kw})


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def augmentation_grid(toy_npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("ablate")
    results = run_ablation("augmentation", _base(toy_npz), [0], out, **quiet)
    return out, results


def test_augmentation_ablation_has_the_six_rows_with_their_draws(augmentation_grid):
    out, results = augmentation_grid
    assert [r.cell.key for r in results] == ["dc", "dc-dsa-eval", "real-only", "synthetic-only", "independent", "siamese"]
    rows = _rows(out / "ablation.csv")
    assert [(r["real"], r["synthetic"], r["evaluation"]) for r in rows] == [
        ("–", "–", "–"), ("–", "–", "A^s*"), ("A^T", "–", "A^s*"), ("–", "A^s", "A^s*"), ("A^T", "A^s", "A^s*"),
        ("A^ω (shared)", "A^ω (shared)", "A^s*"),
    ]
    for r in rows:
        assert 0.0 <= float(r["mean"]) <= 100.0 and r["networks"] == "1"
    table = (out / "ablation.md").read_text()
    assert "A^ω (shared)" in table and "seeds 0" in table
    assert (out / "plots" / "ablation.png").stat().st_size > 0
    data = json.loads((out / "ablation.json").read_text())
    assert data["kind"] == "ablation" and len(data["rows"]) == 6


def test_rows_one_and_six_are_what_distill_makes_and_row_two_reuses_row_one(augmentation_grid, toy_npz, toy_dataset):
    out, _ = augmentation_grid
    load = lambda key: SyntheticSet.load(out / "cells" / key / "seed0" / "synset.pt")
    dc = distill(_base(toy_npz, method="dc"), dataset=toy_dataset, progress=False, **quiet)
    # row 6 runs the ablation's strategy (crop, the paper's ablation's): what distill makes with it
    dsa = distill(_base(toy_npz, method="dsa", strategy="crop"), dataset=toy_dataset, progress=False, **quiet)
    assert torch.equal(load("dc").images, dc.synset.images)
    assert torch.equal(load("siamese").images, dsa.synset.images)
    # the naive rows learn different images from the Siamese one (other draws), from the same start
    for key in ("real-only", "synthetic-only", "independent"):
        assert not torch.equal(load(key).images, dsa.synset.images), key
    # row 2 evaluates row 1's set (no second condensation) under the DSA protocol
    row2 = json.loads((out / "cells" / "dc-dsa-eval" / "seed0" / "results.json").read_text())
    assert row2["source"].endswith("cells/dc/seed0/synset.pt") and row2["eval_protocol"] == "dsa"
    assert not (out / "cells" / "dc-dsa-eval" / "seed0" / "checkpoint.pt").exists()


def test_a_rerun_recomputes_nothing_finished(augmentation_grid, toy_npz, monkeypatch):
    out, first = augmentation_grid
    monkeypatch.setattr(experiments, "make_or_resume", lambda *a, **k: pytest.fail("re-ran a finished condensation"))
    monkeypatch.setattr(experiments, "_evaluate_into", lambda *a, **k: pytest.fail("re-ran a finished evaluation"))
    results = run_ablation("augmentation", _base(toy_npz), [0], out, **quiet)
    assert [r.main() for r in results] == [r.main() for r in first]


def test_ops_adds_one_row_per_single_op(toy_npz):
    cells = augmentation_cells(_base(toy_npz, strategy="color_crop"), ops=True)
    ops = [c for c in cells if c.key.startswith("op-")]
    assert [(c.key, c.config.strategy) for c in ops] == [("op-color", "color"), ("op-crop", "crop")]


def test_init_and_distance_ablations(toy_npz, tmp_path):
    run_ablation("init", _base(toy_npz), [0], tmp_path / "init", **quiet)
    rows = _rows(tmp_path / "init" / "ablation.csv")
    assert [r["init"] for r in rows] == ["real", "noise", "herding"]
    noise = SyntheticSet.load(tmp_path / "init" / "cells" / "init-noise" / "seed0" / "synset.pt")
    assert noise.meta["config"]["init"] == "noise"
    run_ablation("distance", _base(toy_npz), [0], tmp_path / "dist", **quiet)
    assert [r["distance"] for r in _rows(tmp_path / "dist" / "ablation.csv")] == ["ours", "mse", "cos"]


def test_reproduce_grid_pools_seeds_and_resumes_at_cell_level(toy_npz, tmp_path, monkeypatch):
    overrides = {k: v for k, v in TINY.items() if k != "baseline"}
    args = (["dsa", "dc", "random"], [f"npz:{toy_npz}"], [1], tmp_path)
    results = run_reproduce(*args, seeds=[0, 1], overrides=overrides, **quiet)
    rows = _rows(tmp_path / "results.csv")
    assert [r["method"] for r in rows] == ["dsa", "dc", "random"]
    assert all(r["seeds"] == "2" and r["networks"] == "2" for r in rows)
    dc = next(r for r in results if r.cell.info["method"] == "dc")
    runs = [a for s in (0, 1) for a in dc.per_seed[s]["convnetw32"]["runs"]]
    assert dc.main()["runs"] == runs  # pooled over seeds x networks
    assert dc.cell.config.init == "noise"  # the DC paper's initialisation
    assert next(r for r in results if r.cell.info["method"] == "dsa").cell.config.init == "real"
    assert json.loads((tmp_path / "results.json").read_text())["kind"] == "reproduce"
    assert (tmp_path / "plots" / "ours_vs_paper.png").stat().st_size > 0

    # a rerun recomputes nothing; a deleted result is recomputed from its own ledger and checkpoint
    (tmp_path / "cells" / results[0].cell.key / "seed1" / "results.json").unlink()
    calls = []
    original = experiments.make_or_resume

    def run_cell(config, out, **kwargs):  # the one function that makes or resumes every cell's set
        if config.method == "random":
            pytest.fail("re-ran a finished coreset")
        calls.append(out)
        return original(config, out, **kwargs)

    monkeypatch.setattr(experiments, "make_or_resume", run_cell)
    again = run_reproduce(*args, seeds=[0, 1], overrides=overrides, **quiet)
    assert calls == [tmp_path / "cells" / results[0].cell.key / "seed1"]
    assert [r.main() for r in again] == [r.main() for r in results]


def test_models_paper_expands_to_the_six_architectures():
    assert expand_models(["paper"]) == ("mlp", "convnet", "lenet", "alexnet", "vgg11", "resnet18")
    assert expand_models(["S"], "convnetbn") == ("convnet",)
    assert expand_models(["S"], "resnet18bn_ap") == ("resnet18_ap",)
    assert expand_models(["SS", "convnet"], "convnetbn") == ("convnetbn", "convnet")
    with pytest.raises(ValueError, match="pools: paper"):
        expand_models(["resnet50"])


def test_ablate_and_reproduce_commands(toy_npz, tmp_path, capsys):
    flags = ["--model", "convnetw32", "--iterations", "1", "--batch-real", "8", "--num-eval", "1", "--compile", "off"]
    code = main(["ablate", "init", "--dataset", f"npz:{toy_npz}", "--eval-epochs", "3", "--out", str(tmp_path / "a"), *flags])
    out = capsys.readouterr().out
    assert code == 0 and "init real" in out and (tmp_path / "a" / "ablation.md").exists()
    code = main(["reproduce", "--methods", "dm,random", "--datasets", f"npz:{toy_npz}", "--ipc", "1", "--seeds", "0",
                 "--eval-epochs", "3", "--out", str(tmp_path / "r"), *flags])
    assert code == 0, capsys.readouterr().err
    assert len(_rows(tmp_path / "r" / "results.csv")) == 2
    code = main(["reproduce", "--methods", "kip", "--out", str(tmp_path / "r2")])
    assert code == 2 and "allowed: dsa, dc, dm, mtt, random" in capsys.readouterr().err
