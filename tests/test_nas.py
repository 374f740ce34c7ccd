"""Architecture search on a condensed proxy: rank correlation with ties, search spaces, the
held-out split, tables, resume and the CLI."""

import csv
import json
import math
import shutil

import pytest
import torch
from scipy.stats import spearmanr

from condensation.apps import nas, nas_space
from condensation.apps.nas import Architecture, average_ranks, candidates, rank_summary, run_nas, spearman
from condensation.apps.subsets import split_off, take
from condensation.cli import main
from condensation.data import DatasetSpec, get_spec
from condensation.models import ConvNet, build_model, registry
from condensation.rng import make_generator
from condensation.runs import RunDirError

SPACE = ["convnetw32", "convnetd1", "convnetnp", "convnetas"]
TINY = dict(iterations=1, batch_real=8, target_size=20, val_size=10, proxy_epochs=4, target_epochs=3, num_nets=1,
            compile="off", device="cpu", condense={"model": "convnetw32"}, log=lambda msg: None)


# ---------------------------------------------------------------------- rank correlation
def test_average_ranks_share_the_mean_of_tied_ranks():
    assert average_ranks([3.0, 1.0, 2.0]) == [3.0, 1.0, 2.0]
    assert average_ranks([1, 2, 2, 3]) == [1.0, 2.5, 2.5, 4.0]
    assert average_ranks([5, 5, 5]) == [2.0, 2.0, 2.0]
    assert average_ranks([0.7, 0.2, 0.7, 0.2, 0.9]) == [3.5, 1.5, 3.5, 1.5, 5.0]


def test_spearman_matches_hand_computed_examples_with_ties():
    # ranks x = (1, 2.5, 2.5, 4), y = (1, 3, 2, 4): deviations (-1.5, 0, 0, 1.5) and (-1.5, .5, -.5, 1.5);
    # covariance 4.5, variances 4.5 and 5: rho = 4.5 / sqrt(22.5) = 3 / sqrt(10)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(3 / math.sqrt(10), abs=1e-12)
    # ties on both sides: ranks (1, 2.5, 2.5, 4.5, 4.5) and (5, 3.5, 3.5, 1, 2): -9 / sqrt(9 * 9.5)
    x, y = [10, 20, 20, 30, 30], [5, 4, 4, 1, 2]
    assert spearman(x, y) == pytest.approx(-9 / math.sqrt(85.5), abs=1e-12)
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None and spearman([1], [2]) is None
    with pytest.raises(ValueError, match="pairs"):
        spearman([1, 2], [1, 2, 3])


def test_rank_summary_picks_the_proxys_best_and_reads_its_target():
    proxy = [0.50, 0.90, 0.70, 0.90, 0.10]
    target = [0.60, 0.65, 0.80, 0.70, 0.20]
    s = rank_summary(proxy, target, top_k=3)
    assert s["top1"] == 1 and s["top1_target"] == 0.65 and s["top1_rank"] == 3  # ties: the first candidate
    assert s["rho"] == pytest.approx(spearmanr(proxy, target).statistic)
    assert s["rho_top"] == pytest.approx(spearmanr([0.9, 0.9, 0.7], [0.65, 0.7, 0.8]).statistic) and s["top_k"] == 3
    assert rank_summary(proxy, target, top_k=1)["rho_top"] is None


# ---------------------------------------------------------------------- search spaces
def test_the_paper_space_has_720_convnets_and_skips_what_does_not_fit():
    fit, skipped = candidates("paper", get_spec("fashion-mnist"))
    assert len(fit) == 720 and not skipped and len({a.name for a in fit}) == 720
    assert Architecture(32, 1, "sigmoid", "none", "none") in fit
    tiny = DatasetSpec("tiny", 1, (8, 8), tuple("abc"), (0.5,), (0.5,))
    fit, skipped = candidates("paper", tiny)
    # 8 px: a 4th pooling halves 1 px to nothing, for every width, activation and norm, max or avg
    assert len(skipped) == 4 * 3 * 5 * 2 and {(a.depth, a.pooling != "none") for a, _ in skipped} == {(4, True)}
    assert len(fit) == 600 and all("does not fit" in why for _, why in skipped)


def test_the_small_space_is_the_registrys_one_factor_variants():
    fit, skipped = candidates("small", get_spec("fashion-mnist"))
    assert len(fit) == 16 and not skipped and candidates("convnet", get_spec("mnist"))[0] == fit
    default = Architecture()
    assert default in fit and default.name == "convnet"
    for a in fit:
        assert a.name in registry.list_models()
        assert sum(getattr(a, f) != getattr(default, f) for f in nas.PAPER_GRID) <= 1
    with pytest.raises(ValueError, match="unknown search space"):
        candidates("huge", get_spec("mnist"))


def test_an_architecture_outside_the_registry_is_registered_and_builds_as_asked(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # leave the real registry untouched
    arch = Architecture(width=32, depth=2, act="leakyrelu", norm="layernorm", pooling="maxpooling")
    name = nas_space.register_architecture(arch)
    assert name == "nas_w32_d2_leakyrelu_layernorm_maxpooling" and nas_space.register_architecture(arch) == name
    net = build_model(name, get_spec("fashion-mnist"), generator=torch.Generator().manual_seed(0))
    assert isinstance(net, ConvNet) and (net.width, net.depth, net.act, net.norm, net.pooling) == (
        32, 2, "leakyrelu", "layernorm", "maxpooling")


def test_the_validation_split_is_disjoint_and_class_balanced(toy_dataset):
    idx = take(toy_dataset.train, 10, 3, make_generator(0, "nas-validation"))
    rest, held = split_off(toy_dataset.train, idx)
    assert len(held) == 30 and torch.bincount(held.labels).tolist() == [10, 10, 10]
    assert len(rest) + len(held) == len(toy_dataset.train)
    together = torch.cat([rest.images, held.images]).flatten(1)
    assert torch.unique(together, dim=0).shape[0] == torch.unique(toy_dataset.train.images.flatten(1), dim=0).shape[0]
    assert torch.equal(held.images, toy_dataset.train.images[idx])


# ---------------------------------------------------------------------- a run
@pytest.fixture(scope="module")
def toy8(tmp_path_factory):
    """3 classes of 1x8x8 images, 60 training and 30 test images each."""
    from condensation.data import load_dataset

    from conftest import write_toy_npz

    return load_dataset(f"npz:{write_toy_npz(tmp_path_factory.mktemp('toy8') / 'toy8.npz', size=8)}", download=False)


@pytest.fixture(scope="module")
def nas_run(toy8, tmp_path_factory):
    out = tmp_path_factory.mktemp("nas") / "out"
    seen = []
    real = nas.make_or_resume  # what condenses (or resumes) the proxy
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(nas, "make_or_resume", lambda *a, **k: seen.append(k["dataset"]) or real(*a, **k))
        result = run_nas(toy8, 1, SPACE, out, **TINY)
    return out, result, seen


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_the_proxy_is_condensed_without_the_validation_images(nas_run, toy8):
    _, _, seen = nas_run
    (pool,) = seen
    assert len(pool.train) == len(toy8.train) - 30 and len(pool.test) == 30
    held = {tuple(x.flatten().tolist()) for x in pool.test.images}
    assert not any(tuple(x.flatten().tolist()) in held for x in pool.train.images)


def test_tables_report_correlation_top1_time_and_storage(nas_run):
    out, result, _ = nas_run
    cands = _rows(out / "candidates.csv")
    assert [r["name"] for r in cands] == SPACE
    summary = _rows(out / "nas.csv")
    assert [r["set"] for r in summary] == ["condensed", "random", "target"]
    sizes = {"condensed": (3, 3 * 64 * 4), "random": (3, 3 * 64), "target": (60, 60 * 64)}
    target = [float(r["target_mean"]) for r in cands]
    for r in summary:
        assert (int(r["images"]), int(r["bytes"])) == sizes[r["set"]] and r["candidates"] == "4"
        proxy = [float(c[f"{r['set']}_mean"]) for c in cands]
        rho = spearman(proxy, target)
        assert (r["spearman"] == "") if rho is None else float(r["spearman"]) == pytest.approx(rho, abs=1e-4)
        best = max(range(4), key=lambda i: (proxy[i], -i))
        assert r["top1"] == SPACE[best] and float(r["top1_target"]) == pytest.approx(target[best], abs=0.006)
        assert float(r["train_seconds"]) > 0
    assert float(summary[0]["condense_seconds"]) > 0 and summary[2]["spearman"] == "1.0000"
    ledger = [json.loads(line) for line in (out / "evaluations.jsonl").read_text().splitlines()]
    assert sorted((r["model"], r["set"]) for r in ledger) == sorted((m, s) for m in SPACE for s in nas.SETS)
    data = json.loads((out / "nas.json").read_text())
    assert data["kind"] == "nas" and len(data["candidates"]) == 4 and data["val_images"] == 30
    text = (out / "nas.md").read_text()
    assert "| condensed (dsa) | 3 | 768 |" in text and "## Candidates" in text and "W32 D3 relu" in text
    assert (out / "plots" / "nas.png").read_bytes()[:4] == b"\x89PNG"


def test_a_rerun_recomputes_nothing_and_other_settings_are_refused(nas_run, toy8, tmp_path, monkeypatch):
    out, result, _ = nas_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)

    def fail(*args, **kwargs):
        raise AssertionError("recomputed something finished")

    monkeypatch.setattr(nas, "make_or_resume", fail)
    monkeypatch.setattr(nas, "evaluate_synset", fail)
    again = run_nas(toy8, 1, SPACE, copy, **TINY)
    assert again.summary == result.summary and again.candidates == result.candidates
    with pytest.raises(RunDirError, match="target_size"):
        run_nas(toy8, 1, SPACE, copy, **{**TINY, "target_size": 30})


def test_a_synset_file_is_the_proxy(nas_run, toy8, tmp_path, monkeypatch):
    out, _, _ = nas_run
    monkeypatch.setattr(nas, "make_or_resume", lambda *a, **k: pytest.fail("a given --synset must not be condensed"))
    result = run_nas(toy8, 1, SPACE[:2], tmp_path / "file", **{**TINY, "synset": out / "condense" / "synset.pt"})
    assert [e["images"] for e in result.summary] == [3, 3, 60] and result.summary[0]["condense_seconds"] == 0.0


def test_cli_passes_its_flags_and_reports_bad_input_in_one_line(toy_npz, tmp_path, monkeypatch, capsys):
    got = {}

    def fake(dataset, ipc, space, out, **kwargs):
        got.update(dataset=dataset, ipc=ipc, space=space, out=out, **kwargs)
        return nas.NasResult(out, [], [{"set": "condensed", "train_seconds": 1.0, "bytes": 12}])

    monkeypatch.setattr(nas, "run_nas", fake)
    args = ["nas", "--dataset", f"npz:{toy_npz}", "--ipc", "2", "--space", "paper", "--target-size", "40",
            "--proxy-epochs", "7", "--target-epochs", "5", "--num-nets", "3", "--method", "dm", "--out", str(tmp_path / "o")]
    assert main(args) == 0
    assert (got["ipc"], got["space"], got["target_size"], got["proxy_epochs"], got["target_epochs"], got["num_nets"]) == (
        2, "paper", 40, 7, 5, 3)
    assert got["condense"] == {"method": "dm", "model": "convnet"} and got["val_size"] == 100
    assert got["compile"] == "off"  # every candidate would be compiled anew
    assert main([*args[:6], "convnetw32,ConvNetBN", *args[7:]]) == 0 and got["space"] == ("convnetw32", "convnetbn")
    with pytest.raises(SystemExit):
        main([*args[:6], "convnetw32,resnet18", *args[7:]])
    assert "expected small, paper or comma-separated ConvNet variants" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(["nas", "--dataset", f"npz:{toy_npz}", "--ipc", "1", "--val-size", "50", "--target-size", "20",
                 "--device", "cpu", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("condense nas: error: --val-size 50 plus --target-size 20 need 70 training images per class")
    assert "holds 60" in err and "\n" not in err
