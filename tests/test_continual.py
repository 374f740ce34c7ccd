"""Continual learning with condensed memories: seeded class order, per-step memories made from
that step's images only, evaluation on the classes seen, tables, resume."""

import csv
import json
import shutil

import pytest
import torch

from condensation.apps import continual
from condensation.apps.continual import class_steps, run_continual
from condensation.apps.subsets import class_subset
from condensation.cli import main
from condensation.data import load_dataset
from condensation.runs import RunDirError
from condensation.synset import SyntheticSet

from conftest import write_toy_npz

METHODS = ("dsa", "dm", "herding", "random")
SEEDS = (0, 1)
TINY = dict(iterations=1, batch_real=8, num_eval=1, eval_epochs=3, model="convnetw32", feature_epochs=2,
            compile="off", device="cpu", condense={"outer_loop": 1, "inner_loop": 1}, log=lambda msg: None)


@pytest.fixture(scope="module")
def toy6(tmp_path_factory):
    path = write_toy_npz(tmp_path_factory.mktemp("toy6") / "toy6.npz", classes=6, per_class=30, test_per_class=10, size=8)
    return path, load_dataset(f"npz:{path}", download=False)


def _spy(mp, name, calls):
    real = getattr(continual, name)

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    mp.setattr(continual, name, spy)


@pytest.fixture(scope="module")
def cl_run(toy6, tmp_path_factory):
    """One run of 4 memories x 2 seeds x 3 steps of 2 classes, with every condensation, selection
    and evaluation call recorded."""
    _, dataset = toy6
    out = tmp_path_factory.mktemp("cl") / "out"
    calls = {"make_or_resume": [], "evaluate_synset": []}  # every memory is made (or resumed) by one function
    with pytest.MonkeyPatch.context() as mp:
        for name, record in calls.items():
            _spy(mp, name, record)
        result = run_continual(dataset, 3, 2, METHODS, SEEDS, out, **TINY)
    return out, result, calls


def test_class_order_is_the_seeded_one_split_into_steps():
    a, b = class_steps(6, 3, 0), class_steps(6, 3, 0)
    assert a == b and [len(g) for g in a] == [2, 2, 2] and sorted(c for g in a for c in g) == list(range(6))
    assert a != class_steps(6, 3, 1)
    order = torch.randperm(6, generator=continual.make_generator(0, "class-order")).tolist()
    assert [c for g in a for c in g] == order
    assert [len(g) for g in class_steps(10, 3, 0)] == [4, 3, 3]
    with pytest.raises(ValueError, match="--steps"):
        class_steps(6, 7, 0)


def test_class_subset_relabels_and_keeps_only_those_classes(toy6):
    _, dataset = toy6
    sub = class_subset(dataset, [4, 1])
    mask = (dataset.train.labels == 4) | (dataset.train.labels == 1)
    assert torch.equal(sub.train.images, dataset.train.images[mask])
    assert torch.equal(sub.train.labels, (dataset.train.labels[mask] == 1).long())  # class 4 -> 0, class 1 -> 1
    assert sub.spec.classes == (dataset.spec.classes[4], dataset.spec.classes[1])
    assert set(sub.test.labels.tolist()) == {0, 1} and len(sub.test) == 20


def test_memories_hold_their_steps_classes_only_and_coresets_are_that_steps_images(cl_run, toy6):
    out, result, _ = cl_run
    _, dataset = toy6
    train = dataset.normalize(dataset.train.images)
    for seed in SEEDS:
        steps = class_steps(6, 3, seed)
        assert result.classes[seed] == steps
        for method in METHODS:
            for k, classes in enumerate(steps):
                memory = SyntheticSet.load(out / method / f"seed{seed}" / f"step{k}" / "synset.pt")
                assert memory.num_classes == 6 and memory.images.shape == (4, 1, 8, 8)
                assert sorted(memory.labels.tolist()) == sorted(c for c in classes for _ in range(2))
                if method in ("herding", "random"):  # real images: rows of their own class, in this step
                    for image, label in zip(memory.images, memory.labels):
                        rows = train[dataset.train.labels == label]
                        assert (rows == image).flatten(1).all(1).any()


def test_each_step_condenses_and_selects_from_its_own_classes_only(cl_run, toy6):
    _, _, calls = cl_run
    _, dataset = toy6
    made = [(args[0].method, args[0].seed, kwargs["dataset"]) for args, kwargs in calls["make_or_resume"]]
    assert len(made) == len(METHODS) * len(SEEDS) * 3
    expected = {}
    for seed in SEEDS:
        for k, classes in enumerate(class_steps(6, 3, seed)):
            expected[continual.step_seed(seed, k)] = classes
    for method, step_seed, sub in made:
        classes = expected[step_seed]
        mask = (dataset.train.labels == classes[0]) | (dataset.train.labels == classes[1])
        assert torch.equal(sub.train.images, dataset.train.images[mask]), method
        assert sub.spec.num_classes == 2 and set(sub.train.labels.tolist()) == {0, 1}


def test_networks_train_on_the_union_and_test_on_the_classes_seen(cl_run):
    _, _, calls = cl_run
    evaluations = calls["evaluate_synset"]
    assert len(evaluations) == len(METHODS) * len(SEEDS) * 3
    for i, (args, kwargs) in enumerate(evaluations):
        memory, _, test_labels = args[0], args[1], args[2]
        seed = SEEDS[i // (len(METHODS) * 3)]
        k = i % 3
        seen = sorted(c for g in class_steps(6, 3, seed)[: k + 1] for c in g)
        assert sorted(set(memory.labels.tolist())) == seen and len(memory) == 2 * len(seen)
        assert sorted(set(test_labels.tolist())) == seen and len(test_labels) == 10 * len(seen)
        assert memory.num_classes == 6 and kwargs["seed"] == seed and kwargs["num_eval"] == 1


def test_tables_json_and_plot_are_well_formed(cl_run):
    out, result, _ = cl_run
    assert result.classes_seen == [2, 4, 6]
    with open(out / "continual.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["method"], r["step"]) for r in rows] == [(m, str(k)) for m in METHODS for k in (1, 2, 3)]
    data = json.loads((out / "continual.json").read_text())
    for r in rows:
        acc = data["accuracy"][r["method"]][int(r["step"]) - 1]
        assert r["networks"] == "2" and r["seeds"] == "2" and r["memory_images"] == str(2 * int(r["classes_seen"]))
        assert float(r["mean"]) == pytest.approx(100 * acc["mean"], abs=0.006)
        runs = [data["per_seed"][r["method"]][str(s)][int(r["step"]) - 1][0] for s in SEEDS]
        assert acc["runs"] == runs and 0.0 <= min(runs) and max(runs) <= 1.0
    table = (out / "continual.md").read_text()
    assert "| step | classes seen | memory (images) | dsa | dm | herding | random |" in table
    body = [line for line in table.splitlines() if line.startswith(("| 1 |", "| 2 |", "| 3 |"))]
    assert len(body) == 3 and all(line.count("±") == 4 for line in body)
    assert "Classes per step: seed 0:" in table
    assert (out / "plots" / "continual.png").read_bytes()[:4] == b"\x89PNG"


def test_a_rerun_recomputes_nothing_and_more_networks_train_only_the_new_ones(cl_run, toy6, tmp_path, monkeypatch):
    out, result, _ = cl_run
    _, dataset = toy6
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    real_evaluate = continual.evaluate_synset

    def fail(*args, **kwargs):
        raise AssertionError("recomputed something finished")

    for name in ("make_or_resume", "evaluate_synset"):
        monkeypatch.setattr(continual, name, fail)
    again = run_continual(dataset, 3, 2, METHODS, SEEDS, copy, **TINY)
    assert again.accuracy == result.accuracy

    monkeypatch.setattr(continual, "evaluate_synset", real_evaluate)
    trained = []
    more = dict(TINY, num_eval=2, log=lambda msg: trained.append(msg) if ": network " in msg else None)
    bigger = run_continual(dataset, 3, 2, METHODS, SEEDS, copy, **more)
    assert len(trained) == len(METHODS) * len(SEEDS) * 3 and all("network 2/2" in m for m in trained)
    for m in METHODS:
        for k in range(3):
            assert len(bigger.accuracy[m][k]["runs"]) == 4
            assert bigger.accuracy[m][k]["runs"][::2] == result.accuracy[m][k]["runs"]  # seed-major, network 1 kept


def test_other_settings_are_refused_and_bad_input_fails_early(cl_run, toy6, tmp_path):
    out, _, _ = cl_run
    _, dataset = toy6
    with pytest.raises(RunDirError, match="ipc"):
        run_continual(dataset, 3, 1, METHODS, SEEDS, out, **TINY)
    with pytest.raises(ValueError, match="unknown memory method 'gdumb'"):
        run_continual(dataset, 3, 2, ("gdumb",), SEEDS, tmp_path / "a", **TINY)
    with pytest.raises(ValueError, match="--steps"):
        run_continual(dataset, 7, 2, ("random",), SEEDS, tmp_path / "b", **TINY)
    with pytest.raises(ValueError, match="--ipc 31 is more than"):
        run_continual(dataset, 3, 31, ("random",), SEEDS, tmp_path / "c", **TINY)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_cli_runs_and_reports_bad_input_in_one_line(toy6, tmp_path, capsys):
    path, _ = toy6
    args = ["continual", "--dataset", f"npz:{path}", "--steps", "2", "--ipc", "1", "--memory", "random,herding",
            "--seeds", "3", "--num-eval", "1", "--eval-epochs", "2", "--model", "convnetw32", "--feature-epochs", "1",
            "--feature-model", "convnetd1",
            "--compile", "off", "--device", "cpu", "--out", str(tmp_path / "cli")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and len(printed.splitlines()) == 4  # header, 2 steps, wrote
    data = json.loads((tmp_path / "cli" / "continual.json").read_text())
    assert data["memories"] == ["random", "herding"] and data["classes_seen"] == [3, 6]
    assert data["classes"]["3"] == class_steps(6, 2, 3)
    features = sorted(p.name for p in (tmp_path / "cli" / "feature-networks").iterdir())
    assert len(features) == 2 and all("_convnetd1_e1_" in name for name in features)  # herding, one per step
    assert main([*args[:8], "random,dsm", *args[9:-1], str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("condense continual: error: unknown memory method 'dsm'") and "\n" not in err
