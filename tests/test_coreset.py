"""Coreset baselines: the selection rules on hand-worked point sets, forgetting counts, seeded
tie-breaking, reproducible selection, the feature-network cache, and ``condense coreset``."""

import json

import pytest
import torch

from condensation.methods import features as coreset_module  # where the feature network is trained
from condensation.cli import main
from condensation.coreset import feature_network, select_coreset
from condensation.distill import random_real_set
from condensation.methods import RealPool
from condensation.methods.coreset import forgetting_counts, herding, kcenter, most_forgotten
from condensation.rng import make_generator
from condensation.synset import SyntheticSet

TINY = {"model": "convnetw32", "feature_epochs": 2, "device": "cpu"}


def points(*xy):
    return torch.tensor(xy, dtype=torch.float32)


# ---------------------------------------------------------------------- herding
def test_herding_balances_the_running_mean_instead_of_sorting_by_distance():
    # p0 (-3,0), p1 (1,0), p2 (2,0), p3 (0,3), p4 (0,-3); class mean (0,0).
    # Pick t+1 minimises |S + p - (t+1)*mean| = |S + p| (S = sum of the chosen):
    #   1: |p|^2 = 9, 1, 4, 9, 9                  -> p1, S = (1,0)
    #   2: |S+p|^2: p0 (-2,0) 4, p2 (3,0) 9, p3 (1,3) 10, p4 (1,-3) 10 -> p0, S = (-2,0)
    #      (sorting by distance to the mean would take p2 here)
    #   3: p2 (0,0) 0, p3 (-2,3) 13, p4 (-2,-3) 13 -> p2, S = (0,0)
    #   4: p3 9, p4 9: a tie, the lowest index wins -> p3;  5: p4
    f = points((-3, 0), (1, 0), (2, 0), (0, 3), (0, -3))
    assert herding(f, 5).tolist() == [1, 0, 2, 3, 4]
    assert herding(f, 2).tolist() == [1, 0]


def test_herding_with_an_off_centre_mean():
    # p0 (0,0), p1 (10,0), p2 (0,10), p3 (4,4), p4 (1,1); mean (3,3).
    #   1: nearest the mean: |p-(3,3)|^2 = 18, 58, 58, 2, 8 -> p3
    #   2: p should be near 2*(3,3) - p3 = (2,2): p0 8, p1 68, p2 68, p4 2 -> p4
    #   3: near 3*(3,3) - (5,5) = (4,4): p0 32, p1 52, p2 52 -> p0
    #   4: near 4*(3,3) - (5,5) = (7,7): p1 58, p2 58, a tie -> p1;  5: p2
    f = points((0, 0), (10, 0), (0, 10), (4, 4), (1, 1))
    assert herding(f, 5).tolist() == [3, 4, 0, 1, 2]


# ---------------------------------------------------------------------- k-center
def test_kcenter_takes_the_point_farthest_from_its_nearest_centre():
    # p0 (0,0), p1 (8,0), p2 (-4,0), p3 (7,3), p4 (-1,5); mean (2,1.6).
    #   1: nearest the mean: 6.56, 38.56, 38.56, 26.96, 20.56 -> p0
    #   min squared distance to {p0}: p1 64, p2 16, p3 58, p4 26 -> p1
    #   after p1: p2 min(16,144)=16, p3 min(58,10)=10, p4 min(26,106)=26 -> p4
    #      (the distance to the last centre, or the sum of distances, would take p2 here)
    #   after p4: p2 min(16,34)=16, p3 min(10,68)=10 -> p2;  then p3
    f = points((0, 0), (8, 0), (-4, 0), (7, 3), (-1, 5))
    assert kcenter(f, 5).tolist() == [0, 1, 4, 2, 3]
    assert kcenter(f, 3).tolist() == [0, 1, 4]


def test_kcenter_ties_go_to_the_lowest_index_and_nothing_repeats():
    # the corners of a square around its centre p4: every corner is at squared distance 2 from
    # p4, and stays at 2 (its distance to p4) after any other corner is chosen -> 0, 1, 2, 3
    f = points((1, 1), (-1, 1), (-1, -1), (1, -1), (0, 0))
    assert kcenter(f, 5).tolist() == [4, 0, 1, 2, 3]
    # duplicates: once every distinct point is chosen, the remaining copies (distance 0) still come once each
    dup = points((0, 0), (0, 0), (1, 0), (1, 0))
    assert sorted(kcenter(dup, 4).tolist()) == [0, 1, 2, 3]
    assert sorted(herding(dup, 4).tolist()) == [0, 1, 2, 3]


def test_rules_reject_impossible_k_and_allow_zero():
    f = points((0, 0), (1, 1))
    assert herding(f, 0).numel() == 0 and kcenter(f, 0).numel() == 0
    for rule in (herding, kcenter):
        with pytest.raises(ValueError, match="cannot pick 3 of 2"):
            rule(f, 3)


# ---------------------------------------------------------------------- forgetting
def test_forgetting_counts_match_a_scripted_history():
    T, F = True, False
    history = torch.tensor([
        # ex0 ex1 ex2 ex3 ex4
        [T, F, T, F, T],
        [F, F, T, T, T],
        [T, F, T, F, T],
        [F, F, T, T, T],
        [T, F, F, T, T],
    ])
    # ex0: T->F twice (0->1, 2->3); ex1 never learned: ranked above every learned example (as
    # Toneva et al.: forgotten infinitely often), here the number of recordings, 5; ex2 forgotten
    # at the end: 1; ex3 learned, forgotten (1->2), learned again: 1; ex4 never forgotten: 0
    assert forgetting_counts(history).tolist() == [2, 5, 1, 1, 0]
    # one recording: nothing to compare, but the examples wrong at it were never learned
    assert forgetting_counts(history[:1]).tolist() == [0, 1, 0, 1, 0]


def test_a_never_learned_example_is_the_most_forgotten_of_its_class():
    T, F = True, False
    # ex0 forgotten as often as 4 recordings allow (T F T F), ex1 never learned, ex2 never forgotten
    history = torch.tensor([[T, F, T], [F, F, T], [T, F, T], [F, F, T]])
    counts = forgetting_counts(history)
    assert counts.tolist() == [2, 4, 0] and counts[1] > counts[0]
    labels = torch.zeros(3, dtype=torch.long)
    for seed in range(5):  # no tie to break: the same order for every seed
        assert most_forgotten(counts, labels, 2, torch.Generator().manual_seed(seed)).tolist() == [1, 0]


def test_most_forgotten_is_per_class_and_ties_are_broken_by_the_seed():
    counts = torch.tensor([3, 1, 1, 0, 2, 2, 2, 0])
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])

    def pick(seed):
        return tuple(most_forgotten(counts, labels, 2, make_generator(seed, "t")).tolist())

    results = {seed: pick(seed) for seed in range(30)}
    for r in results.values():
        assert r[0] == 0 and r[1] in (1, 2)  # class 0: the most forgotten, then one of the two tied
        assert set(r[2:]) <= {4, 5, 6} and r[2] != r[3]  # class 1: two of the three tied
    assert pick(7) == pick(7)
    assert {r[1] for r in results.values()} == {1, 2}  # either tied example can win: not the lowest index
    assert len(set(results.values())) > 2
    with pytest.raises(ValueError, match="class 0 has 4"):
        most_forgotten(counts, labels, 5, make_generator(0, "t"))


# ---------------------------------------------------------------------- selection on a dataset
def _is_real_selection(synset: SyntheticSet, dataset, ipc: int) -> None:
    """Every image is a distinct training image of its class, ipc per class, class-major."""
    real = dataset.normalize(dataset.train.images).flatten(1)
    match = (synset.images.flatten(1)[:, None] == real[None]).all(-1)  # the very same pixels
    assert bool(match.any(1).all())
    idx = match.float().argmax(1)
    assert len(set(idx.tolist())) == len(idx)
    assert torch.equal(dataset.train.labels[idx], synset.labels)
    assert synset.labels.tolist() == [c for c in range(dataset.spec.num_classes) for _ in range(ipc)]


@pytest.mark.parametrize("method", ["random", "herding", "kcenter", "forgetting"])
def test_every_coreset_is_identical_for_identical_seeds(toy_dataset, tmp_path, method):
    # separate caches: the second selection trains its own feature network from scratch
    a = select_coreset(method, toy_dataset, 3, 5, cache_dir=tmp_path / "a", **TINY)
    b = select_coreset(method, toy_dataset, 3, 5, cache_dir=tmp_path / "b", **TINY)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    _is_real_selection(a, toy_dataset, 3)
    assert a.meta["method"] == method and a.meta["seed"] == 5 and a.ipc == 3 and "version" in a.meta
    assert a.meta["feature_model"] == (None if method == "random" else "convnetw32")
    other = select_coreset(method, toy_dataset, 3, 6, cache_dir=tmp_path / "a", **TINY)
    assert not torch.equal(a.images, other.images)


def test_random_coreset_is_the_random_real_baseline(toy_dataset):
    pool = RealPool(toy_dataset.train.images, toy_dataset.train.labels, 3, toy_dataset.normalize)
    for seed in (0, 3):
        ours = select_coreset("random", toy_dataset, 4, seed, device="cpu")
        baseline = random_real_set(pool, 4, seed, toy_dataset)
        assert torch.equal(ours.images, baseline.images) and torch.equal(ours.labels, baseline.labels)


def test_herding_and_kcenter_pick_by_the_feature_networks_embeddings(toy_dataset, tmp_path):
    fn = feature_network(toy_dataset, 1, model="convnetw32", epochs=2, device="cpu", cache_dir=tmp_path)
    labels = toy_dataset.train.labels
    for method, rule in (("herding", herding), ("kcenter", kcenter)):
        synset = select_coreset(method, toy_dataset, 2, 1, cache_dir=tmp_path, **TINY)
        members = torch.nonzero(labels == 1).flatten()
        with torch.no_grad():
            feats = fn.net.embed(toy_dataset.normalize(toy_dataset.train.images[members]))
        expected = toy_dataset.normalize(toy_dataset.train.images[members[rule(feats, 2)]])
        assert torch.allclose(synset.images[2:4], expected)


def test_forgetting_keeps_the_most_forgotten_of_each_class(toy_dataset, tmp_path, monkeypatch):
    # a scripted record (6 recordings) in place of the trained network's: in every class, member 5
    # is forgotten 3 times (T F T F T F), member 17 twice, member 30 once, all others never
    labels = toy_dataset.train.labels
    members = [torch.nonzero(labels == c).flatten() for c in range(3)]
    real_training = coreset_module.train_feature_network

    def scripted(dataset, seed, *, model, epochs, device, log):
        net, _ = real_training(dataset, seed, model=model, epochs=1, device=device, log=log)
        record = torch.ones(epochs, len(dataset.train), dtype=torch.bool)
        for m in members:
            for j, events in ((5, 3), (17, 2), (30, 1)):
                record[1 : 2 * events : 2, m[j]] = False
        return net, record

    monkeypatch.setattr(coreset_module, "train_feature_network", scripted)
    fn = feature_network(toy_dataset, 2, model="convnetw32", epochs=6, cache=False)
    counts = forgetting_counts(fn.correct)
    assert [counts[m[[5, 17, 30]]].tolist() for m in members] == [[3, 2, 1]] * 3 and int(counts.sum()) == 18
    synset = select_coreset("forgetting", toy_dataset, 3, 2, cache_dir=tmp_path, **{**TINY, "feature_epochs": 6})
    expected = torch.cat([m[[5, 17, 30]] for m in members])  # most forgotten first, class-major
    assert torch.equal(synset.images, toy_dataset.normalize(toy_dataset.train.images[expected]))


def test_feature_network_is_cached_and_reused(toy_dataset, tmp_path, monkeypatch):
    first = select_coreset("herding", toy_dataset, 2, 4, cache_dir=tmp_path, **TINY)
    files = list(tmp_path.glob("*.pt"))
    assert len(files) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("the feature network was trained again")

    monkeypatch.setattr(coreset_module, "train_feature_network", no_training)
    again = select_coreset("herding", toy_dataset, 2, 4, cache_dir=tmp_path, **TINY)
    assert torch.equal(first.images, again.images)
    select_coreset("kcenter", toy_dataset, 1, 4, cache_dir=tmp_path, **TINY)  # the same network serves every rule
    select_coreset("forgetting", toy_dataset, 1, 4, cache_dir=tmp_path, **TINY)
    with pytest.raises(AssertionError, match="trained again"):  # another seed is another network
        select_coreset("herding", toy_dataset, 2, 5, cache_dir=tmp_path, **TINY)
    with pytest.raises(AssertionError, match="trained again"):  # and so is another budget
        select_coreset("herding", toy_dataset, 2, 4, cache_dir=tmp_path, **{**TINY, "feature_epochs": 3})


def test_a_damaged_cache_file_is_replaced(toy_dataset, tmp_path):
    first = select_coreset("kcenter", toy_dataset, 2, 4, cache_dir=tmp_path, **TINY)
    (path,) = tmp_path.glob("*.pt")
    path.write_bytes(b"not a checkpoint")
    lines = []
    again = select_coreset("kcenter", toy_dataset, 2, 4, cache_dir=tmp_path, log=lines.append, **TINY)
    assert torch.equal(first.images, again.images)
    assert any("ignoring the cached feature network" in line for line in lines)
    assert feature_network(toy_dataset, 4, model="convnetw32", epochs=2, cache_dir=tmp_path).trained is False


def test_bad_requests_are_refused_with_the_fix(toy_dataset):
    with pytest.raises(ValueError, match="use --ipc 60 or less"):
        select_coreset("herding", toy_dataset, 61, 0, **TINY)
    with pytest.raises(ValueError, match="allowed: random, herding, kcenter, forgetting"):
        select_coreset("kmeans", toy_dataset, 1, 0)
    with pytest.raises(ValueError, match="--feature-epochs 2 or more"):
        select_coreset("forgetting", toy_dataset, 1, 0, **{**TINY, "feature_epochs": 1})


# ---------------------------------------------------------------------- the command
def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_a_set_that_evaluate_and_show_accept(capsys, toy_npz, tmp_path):
    out_dir = tmp_path / "herding"
    common = ["--dataset", f"npz:{toy_npz}", "--ipc", "2", "--seed", "1", "--model", "convnetw32",
              "--feature-epochs", "2", "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"]
    code, out, err = run(capsys, "coreset", "--method", "herding", *common, "--out", str(out_dir))
    assert code == 0, err
    synset = SyntheticSet.load(out_dir / "synset.pt")
    assert synset.meta["method"] == "herding" and synset.meta["feature_epochs"] == 2 and synset.ipc == 2
    assert (out_dir / "synset.png").stat().st_size > 0

    code, out, err = run(capsys, "evaluate", str(out_dir / "synset.pt"), "--models", "convnetw32", "--num-eval", "1",
                         "--epochs", "5", "--compile", "off", "--json", str(tmp_path / "eval.json"))
    assert code == 0, err
    acc = json.loads((tmp_path / "eval.json").read_text())["accuracy"]["convnetw32"]
    assert len(acc["runs"]) == 1 and 0.0 <= acc["mean"] <= 1.0
    code, out, err = run(capsys, "show", str(out_dir / "synset.pt"), "-o", str(tmp_path / "grid.png"))
    assert code == 0 and (tmp_path / "grid.png").stat().st_size > 0

    # evaluation inside the command: the same network as `condense evaluate --seed 1`
    code, out, err = run(capsys, "coreset", "--method", "herding", *common, "--out", str(out_dir), "--overwrite",
                         "--num-eval", "1", "--eval-models", "convnetw32", "--eval-epochs", "5", "--compile", "off")
    assert code == 0, err
    results = json.loads((out_dir / "results.json").read_text())
    assert results["meta"]["method"] == "herding" and "convnetw32" in out
    code, _, err = run(capsys, "evaluate", str(out_dir / "synset.pt"), "--models", "convnetw32", "--num-eval", "1",
                       "--epochs", "5", "--compile", "off", "--seed", "1", "--json", str(tmp_path / "eval1.json"))
    assert code == 0, err
    separate = json.loads((tmp_path / "eval1.json").read_text())["accuracy"]["convnetw32"]["runs"]
    assert separate == results["accuracy"]["convnetw32"]["runs"]


def test_cli_refuses_a_used_directory_and_a_too_large_ipc(capsys, toy_npz, tmp_path):
    out_dir = tmp_path / "used"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("keep me")
    code, _, err = run(capsys, "coreset", "--method", "random", "--dataset", f"npz:{toy_npz}", "--out", str(out_dir))
    assert code == 2 and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out_dir.iterdir()) == ["notes.txt"]

    code, _, err = run(capsys, "coreset", "--method", "random", "--dataset", f"npz:{toy_npz}", "--ipc", "100",
                       "--out", str(tmp_path / "new"))
    assert code == 2 and "use --ipc 60 or less" in err and "Traceback" not in err
    assert not (tmp_path / "new").exists()

    code, out, err = run(capsys, "coreset", "--method", "random", "--dataset", f"npz:{toy_npz}", "--ipc", "3",
                         "--out", str(tmp_path / "random"))
    assert code == 0, err
    assert SyntheticSet.load(tmp_path / "random" / "synset.pt").meta["method"] == "random"
