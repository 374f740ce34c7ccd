"""Issue #29, item 3: the augmentation ablation's default strategy is the one the DSA paper's
Siamese ablation is taken to use (crop), recorded beside the six figures in published.csv;
``--method dm`` runs the rows with a DM meaning (no augmentation, real only, synthetic only,
independent, Siamese), each with DM's draw where its row says."""

import csv
import dataclasses
import json

import pytest
import torch

from condensation.ablation import PAPER_STRATEGY, augmentation_cells, run_ablation, write_ablation
from condensation.augment import DSA
from condensation.cli import main
from condensation.config import DistillConfig, resolve
from condensation.experiments import CellResult
from condensation.methods.base import RealPool, SyntheticImages
from condensation.methods.distribution_matching import DistributionMatching
from condensation.published import load_published
from condensation.rng import make_generator

quiet = dict(log=lambda msg: None)
DM_KEYS = ["dm-none", "dm-real-only", "dm-synthetic-only", "dm-independent", "dm-siamese"]
DM_SIDES = ["none", "real", "synthetic", "independent", "siamese"]


def _base(toy_npz, **kw):
    return DistillConfig(dataset=f"npz:{toy_npz}", ipc=1, model="convnetw32", **kw)


def _finished(cell):
    accuracy = {"convnetw32": {"mean": 0.5, "std": 0.01, "runs": [0.5]}}
    return CellResult(cell, [0], accuracy, {0: accuracy}, 1.0,
                      {"seeds": 1, "networks": 1, "iterations": 2, "batch_real": 8, "factor": 1})


# ---------------------------------------------------------------------- the default strategy
def test_the_default_strategy_is_the_papers_ablations_and_recorded_beside_its_figures(toy_npz, tmp_path, monkeypatch):
    assert PAPER_STRATEGY == "crop"
    cells = {c.key: c for c in augmentation_cells(_base(toy_npz))}
    assert cells["dc"].config.strategy is None  # DC condenses and evaluates without augmentation
    for key in ("dc-dsa-eval", "real-only", "synthetic-only", "independent", "siamese"):
        assert cells[key].config.strategy == "crop", key
    # --strategy still overrides it
    custom = {c.key: c for c in augmentation_cells(_base(toy_npz, strategy="color_scale"))}
    assert {custom[k].config.strategy for k in custom if k != "dc"} == {"color_scale"}
    # published.csv says which strategy the paper's ablation is taken to use, beside the six figures
    rows = [r for r in load_published() if r["method"] == "dsa-ablation"]
    assert len(rows) == 6 and all("strategy: crop" in r["note"] and "2102.08259" in r["source"] for r in rows)
    # the tables say which strategy ran and that it is the paper's ablation's
    monkeypatch.setattr("condensation.plots.bar_chart", lambda *a, **k: None)
    base = _base(toy_npz)
    write_ablation("augmentation", base, [0], [_finished(c) for c in cells.values()], tmp_path, 1.0)
    md = (tmp_path / "ablation.md").read_text()
    assert "Strategy crop" in md and "the DSA paper's Siamese ablation" in md and "--strategy overrides it" in md
    assert json.loads((tmp_path / "ablation.json").read_text())["strategy"] == "crop"
    other = _base(toy_npz, strategy="color")
    write_ablation("augmentation", other, [0], [_finished(c) for c in cells.values()], tmp_path / "o", 1.0)
    assert "Strategy color (--strategy)" in (tmp_path / "o" / "ablation.md").read_text()


def test_ops_with_the_default_strategy_add_the_other_single_ops_and_all_ops(toy_npz):
    cells = augmentation_cells(_base(toy_npz), ops=True)
    ops = [(c.key, c.config.strategy) for c in cells if c.key.startswith("op-")]
    # the toy data allows flip; crop alone is the Siamese row itself, so it is not repeated
    assert ops == [("op-color", "color"), ("op-cutout", "cutout"), ("op-flip", "flip"), ("op-scale", "scale"),
                   ("op-rotate", "rotate"), ("op-all", "color_crop_cutout_flip_scale_rotate")]


# ---------------------------------------------------------------------- DM's rows
def test_dm_has_the_five_rows_with_their_draws(toy_npz):
    cells = augmentation_cells(_base(toy_npz, method="dm"))
    assert [c.key for c in cells] == DM_KEYS
    assert all(c.config.method == "dm" and c.config.strategy == "crop" and c.paper is None for c in cells)
    assert [c.config.params["dsa_sides"] for c in cells] == DM_SIDES
    assert [(c.info["real"], c.info["synthetic"], c.info["evaluation"]) for c in cells] == [
        ("–", "–", "A^s*"), ("A^T", "–", "A^s*"), ("–", "A^s", "A^s*"), ("A^T", "A^s", "A^s*"),
        ("A^ω (shared)", "A^ω (shared)", "A^s*"),
    ]
    assert all("inner loop" not in c.info and c.label.startswith("DM: ") for c in cells)
    for c in cells:  # the setting survives resolution, and every row evaluates with DSA augmentation
        resolved = resolve(c.config)
        assert resolved.params["dsa_sides"] == c.config.params["dsa_sides"] and resolved.strategy == "crop"


@pytest.mark.parametrize("method", ["dc", "mtt", "random"])
def test_a_method_without_an_augmentation_ablation_is_refused_in_one_line(toy_npz, tmp_path, method):
    with pytest.raises(ValueError, match=rf"--method {method} has no augmentation ablation; allowed: dsa, dm"):
        run_ablation("augmentation", _base(toy_npz, method=method), [0], tmp_path / "x", **quiet)
    assert not (tmp_path / "x").exists()


def _dm(toy_dataset, sides):
    pool = RealPool(toy_dataset.train.images, toy_dataset.train.labels, 3, toy_dataset.normalize)
    return DistributionMatching(pool, model="convnetw32", channels=1, image_size=(16, 16), seed=0, batch_real=8,
                                augment=DSA("color"), sides=sides)


def test_each_sides_augments_exactly_the_batches_its_row_says(toy_dataset):
    syn = SyntheticImages(torch.randn(6, 1, 16, 16), 2, 3, lr=1.0, momentum=0.5)
    plain_dm = _dm(toy_dataset, "none")
    plain_real, plain_syn, _ = plain_dm._batches(syn, [0, 1, 2], 3)
    out = {sides: _dm(toy_dataset, sides)._batches(syn, [0, 1, 2], 3)[:2] for sides in DM_SIDES}
    same = lambda a, b: torch.equal(a, b)  # noqa: E731
    assert same(out["none"][0], plain_real) and same(out["none"][1], plain_syn)
    # real only: the synthetic batch is exactly the unaugmented one, the real batch is not
    assert same(out["real"][1], plain_syn) and not same(out["real"][0], plain_real)
    # synthetic only: the reverse
    assert same(out["synthetic"][0], plain_real) and not same(out["synthetic"][1], plain_syn)
    # independent: both, each with the draw its one-sided row uses
    assert same(out["independent"][0], out["real"][0]) and same(out["independent"][1], out["synthetic"][1])
    # Siamese (DM's own): one draw per class shared by the class's real and synthetic batches
    counts = [8, 8, 8]
    for c, (real, images) in enumerate(zip(plain_real.split(counts), plain_syn.split(2))):
        r, s = DSA("color").siamese(real, images, generator=make_generator(0, "dsa", 3, 0, c))
        assert same(out["siamese"][0].split(counts)[c], r) and same(out["siamese"][1].split(2)[c], s)
    assert not same(out["siamese"][0], out["real"][0])  # a shared draw is not a per-image one
    with pytest.raises(ValueError, match="unknown DSA sides 'both'"):
        _dm(toy_dataset, "both")


def test_the_rows_reach_dm_through_distill(toy_npz, toy_dataset, monkeypatch):
    from condensation.distill import distill

    seen = []
    original = DistributionMatching._batches
    monkeypatch.setattr(DistributionMatching, "_batches",
                        lambda self, *a: (seen.append((self.sides, self.augment is not None)), original(self, *a))[1])
    for c in augmentation_cells(_base(toy_npz, method="dm")):
        seen.clear()
        distill(dataclasses.replace(c.config, iterations=1, num_eval=0, batch_real=8, compile="off", baseline=False),
                dataset=toy_dataset, progress=False, **quiet)
        assert seen and set(seen) == {(c.config.params["dsa_sides"], True)}, c.key


def test_condense_ablate_augmentation_method_dm_end_to_end(toy_npz, tmp_path, capsys):
    out = tmp_path / "dm"
    code = main(["ablate", "augmentation", "--method", "dm", "--dataset", f"npz:{toy_npz}", "--model", "convnetw32",
                 "--iterations", "2", "--batch-real", "8", "--num-eval", "1", "--eval-epochs", "1", "--compile", "off",
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and printed.count("DM: ") == 5
    with open(out / "ablation.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["real"], r["synthetic"], r["evaluation"]) for r in rows] == [
        ("–", "–", "A^s*"), ("A^T", "–", "A^s*"), ("–", "A^s", "A^s*"), ("A^T", "A^s", "A^s*"),
        ("A^ω (shared)", "A^ω (shared)", "A^s*"),
    ]
    assert "inner loop" not in rows[0] and all(r["networks"] == "1" and r["paper_mean"] == "" for r in rows)
    data = json.loads((out / "ablation.json").read_text())
    assert (data["method"], data["strategy"], [r["key"] for r in data["rows"]]) == ("dm", "crop", DM_KEYS)
    md = (out / "ablation.md").read_text()
    assert "Ablation: augmentation (DM)" in md and "Strategy crop" in md and "no inner loop" in md
    for key, sides in zip(DM_KEYS, DM_SIDES):
        config = json.loads((out / "cells" / key / "seed0" / "config.json").read_text())
        assert (config["method"], config["dsa_sides"], config["strategy"]) == ("dm", sides, "crop"), key
    from condensation.report import write_report

    page = write_report(out).read_text()  # the HTML page of the grid names DM's rows
    assert all(key in page for key in DM_KEYS)
