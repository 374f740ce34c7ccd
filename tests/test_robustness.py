"""Nothing measured is lost: divergence, interrupts, resume rules, full disks, permissions."""

import errno
import json
import os
import stat
import sys

import pytest
import torch

from condensation import atomic, evaluate
from condensation.cli import main
from condensation.config import DistillConfig
from condensation.distill import DivergenceError, distill
from condensation.runs import RunDirError
from condensation.synset import SyntheticSet

TINY = dict(ipc=1, model="convnetw32", batch_real=16, num_eval=2, eval_epochs=4, compile="off")
quiet = dict(progress=False, log=lambda msg: None)


def _ledger(run):
    path = run / "evaluations.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_divergence_stops_with_the_iteration_and_keeps_the_last_good_files(toy_dataset, tmp_path, capsys, toy_npz):
    run = tmp_path / "run"
    # DM on an MLP (no normalisation) with lr 1e4: the images grow by orders of magnitude per
    # iteration; the first iteration stays in range, the second leaves it by far
    config = DistillConfig(method="dm", iterations=12, checkpoint_every=1, lr_img=1e4,
                           **{**TINY, "model": "mlp", "num_eval": 1})
    with pytest.raises(DivergenceError) as e:
        distill(config, run, dataset=toy_dataset, **quiet)
    message = str(e.value)
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    last_good = state["iteration"]
    assert last_good >= 1 and f"diverged at iteration {last_good + 1}" in message and "--lr-img 10000" in message
    assert "far outside the data's range" in message
    kept = SyntheticSet.load(run / "synset.pt")
    assert kept.meta["iteration"] == last_good and torch.isfinite(kept.images).all()
    assert f"last good checkpoint (iteration {last_good})" in message
    assert not (run / "results.json").exists()
    # through the CLI: one line, non-zero exit
    code = main(["distill", "--dataset", f"npz:{toy_npz}", "--method", "dm", "--lr-img", "1e10", "--iterations", "12",
                 "--model", "mlp", "--batch-real", "16", "--num-eval", "0", "--compile", "off", "--quiet",
                 "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err
    assert code == 2 and "diverged at iteration" in err and "Traceback" not in err


def test_a_finite_runaway_stops_like_a_nan_one(toy_dataset, tmp_path, capsys, toy_npz):
    """Issue #28, item 2: ``--lr-img 1e12`` with DSA keeps every value finite (about 1e12) but far
    outside the data's range: the run stops at once, through the CLI with one line and exit 2."""
    from condensation.divergence import RANGE_FACTOR, data_bound

    code = main(["distill", "--dataset", f"npz:{toy_npz}", "--method", "dsa", "--ipc", "1", "--iterations", "5",
                 "--lr-img", "1e12", "--model", "convnetw32", "--batch-real", "16", "--num-eval", "0",
                 "--compile", "off", "--quiet", "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1
    assert "diverged at iteration 1: the synthetic images reached magnitude" in err and "--lr-img 1e+12" in err
    assert not (tmp_path / "cli" / "results.json").exists() and not (tmp_path / "cli" / "synset.pt").exists()
    # the rule: more than RANGE_FACTOR times the largest magnitude a real pixel takes when normalised
    spec = toy_dataset.spec
    assert data_bound([0.5], [0.25]) == 2.0 and data_bound([0.1307], [0.3081]) == pytest.approx(2.8215, abs=1e-4)
    config = DistillConfig(method="dsa", iterations=3, checkpoint_every=1, lr_img=1e12, **{**TINY, "num_eval": 0})
    with pytest.raises(DivergenceError, match="far outside"):
        distill(config, tmp_path / "run", dataset=toy_dataset, **quiet)
    assert RANGE_FACTOR * data_bound(spec.mean, spec.std) < 1e12


def test_nan_stops_the_run_as_before_and_the_check_adds_no_host_sync(toy_dataset, tmp_path, monkeypatch):
    from condensation.methods import gradient_matching

    original = gradient_matching.GradientMatching.iteration

    def nan_at_the_third(self, syn, it):
        loss = original(self, syn, it)
        return loss * float("nan") if it == 2 else loss

    monkeypatch.setattr(gradient_matching.GradientMatching, "iteration", nan_at_the_third)
    syncs = []
    real_tolist = torch.Tensor.tolist

    def counted(t):  # the loop's host syncs: .tolist() called from distill.py
        if sys._getframe(1).f_globals.get("__name__") == "condensation.distill":
            syncs.append(tuple(t.shape))
        return real_tolist(t)

    monkeypatch.setattr(torch.Tensor, "tolist", counted)
    config = DistillConfig(method="dsa", iterations=4, checkpoint_every=1, **{**TINY, "num_eval": 0})
    with pytest.raises(DivergenceError, match="diverged at iteration 3: the loss became nan") as e:
        distill(config, tmp_path / "run", dataset=toy_dataset, **quiet)
    assert "last good checkpoint (iteration 2)" in str(e.value)
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["iteration"] == 2
    # one .tolist() per iteration (loss, the images' largest magnitude and the drift together)
    assert syncs == [(3,)] * 3


def test_an_interrupted_baseline_keeps_the_networks_already_trained(toy_dataset, tmp_path, monkeypatch):
    run = tmp_path / "run"
    config = DistillConfig(iterations=2, **TINY)
    original = evaluate.evaluate_model
    calls = []

    def dies_on_the_fourth_network(*args, **kwargs):
        calls.append(kwargs["index"])
        if len(calls) == 4:  # synset #0, #1, random real #0, then Ctrl-C during random real #1
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluate, "evaluate_model", dies_on_the_fourth_network)
    with pytest.raises(KeyboardInterrupt):
        distill(config, run, dataset=toy_dataset, **quiet)
    paid = _ledger(run)
    assert [(r["set"], r["index"]) for r in paid] == [("synset", 0), ("synset", 1), ("random_real", 0)]

    calls.clear()
    monkeypatch.setattr(evaluate, "evaluate_model", lambda *a, **k: (calls.append(k["index"]), original(*a, **k))[1])
    resumed = distill(config, run, resume=True, dataset=toy_dataset, **quiet)
    assert calls == [1]  # only the network that was interrupted
    assert resumed.accuracy["convnetw32"]["runs"] == [r["accuracy"] for r in paid[:2]]
    whole = distill(config, tmp_path / "whole", dataset=toy_dataset, **quiet)
    assert whole.accuracy == resumed.accuracy and whole.baseline == resumed.baseline


def test_resume_of_a_finished_run_evaluates_more_networks_without_redoing_any(toy_dataset, tmp_path, monkeypatch):
    run = tmp_path / "run"
    first = distill(DistillConfig(iterations=2, **TINY), run, dataset=toy_dataset, **quiet)
    original = evaluate.evaluate_model
    calls = []
    monkeypatch.setattr(evaluate, "evaluate_model", lambda *a, **k: (calls.append(k["index"]), original(*a, **k))[1])
    more = distill(DistillConfig(iterations=2, **{**TINY, "num_eval": 3}), run, resume=True, dataset=toy_dataset, **quiet)
    assert calls == [2, 2]  # network #2 for the synthetic set and for the baseline
    assert more.accuracy["convnetw32"]["runs"][:2] == first.accuracy["convnetw32"]["runs"]


def test_resume_without_a_checkpoint_refuses_and_deletes_nothing(toy_dataset, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"iteration": 1, "loss": 1.0}\n')
    with pytest.raises(RunDirError, match="nothing to resume"):
        distill(DistillConfig(iterations=2, **TINY), run, resume=True, dataset=toy_dataset, **quiet)
    assert (run / "metrics.jsonl").read_text() == '{"iteration": 1, "loss": 1.0}\n'


def test_a_new_run_refuses_a_directory_holding_a_set_or_anything(toy_dataset, tmp_path):
    for name in ("synset.pt", "notes.txt"):
        run = tmp_path / name
        run.mkdir()
        (run / name).write_text("keep me")
        with pytest.raises(RunDirError, match="--overwrite"):
            distill(DistillConfig(iterations=1, **TINY), run, dataset=toy_dataset, **quiet)
        assert sorted(p.name for p in run.iterdir()) == [name]
    # --overwrite replaces a run's files and leaves other files alone
    run = tmp_path / "synset.pt"
    (run / "notes.txt").write_text("mine")
    distill(DistillConfig(iterations=1, **{**TINY, "num_eval": 0}), run, overwrite=True, dataset=toy_dataset, **quiet)
    assert (run / "notes.txt").read_text() == "mine"
    assert SyntheticSet.load(run / "synset.pt").meta["iteration"] == 1


def test_overwrite_removes_only_the_files_the_run_wrote(toy_dataset, tmp_path):
    """Issue #28, item 5: a user's files in grids/ and plots/ (and beside them) survive --overwrite;
    the previous run's grids, plots and files (selection.json of older coreset runs too) go."""
    from condensation.runs import RunDir

    run = tmp_path / "run"
    distill(DistillConfig(iterations=3, eval_every=2, **{**TINY, "num_eval": 1, "eval_epochs": 2}), run,
            dataset=toy_dataset, **quiet)
    old_grids = sorted(p.name for p in (run / "grids").iterdir())
    assert "iter_000002.png" in old_grids and (run / "plots" / "loss.png").exists()
    mine = {run / "grids" / "my_notes.txt": "grid notes", run / "plots" / "figure_for_paper.pdf": "my figure",
            run / "grids" / "iter_best.png": "not a grid the run wrote", run / "README": "about this run"}
    for path, text in mine.items():
        path.write_text(text)
    (run / "selection.json").write_text("{}")  # what an older coreset run wrote
    assert (run / "selection.json") in RunDir(run).written_files()
    distill(DistillConfig(iterations=1, **{**TINY, "num_eval": 0}), run, overwrite=True, dataset=toy_dataset, **quiet)
    for path, text in mine.items():
        assert path.read_text() == text, path
    assert sorted(p.name for p in (run / "grids").iterdir()) == ["iter_000000.png", "iter_000001.png", "iter_best.png",
                                                                   "my_notes.txt"]
    assert not (run / "selection.json").exists() and not (run / "evaluations.jsonl").exists()
    assert not (run / "plots" / "accuracy.png").exists()  # the old run's curve: this run has no evaluation
    # folders left empty by the removal go too
    other = tmp_path / "other"
    distill(DistillConfig(iterations=1, **{**TINY, "num_eval": 0}), other, dataset=toy_dataset, **quiet)
    RunDir(other).create(overwrite=True)
    assert not (other / "grids").exists() and not (other / "plots").exists() and other.is_dir()


def test_a_full_disk_leaves_the_previous_files_intact(toy_dataset, tmp_path, monkeypatch):
    run = tmp_path / "run"
    distill(DistillConfig(iterations=2, checkpoint_every=1, **{**TINY, "num_eval": 0}), run, dataset=toy_dataset, **quiet)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    real_replace = os.replace

    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        distill(DistillConfig(iterations=4, checkpoint_every=1, **{**TINY, "num_eval": 0}), run, resume=True,
                dataset=toy_dataset, **quiet)
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    for name in ("synset.pt", "checkpoint.pt", "config.json"):
        assert (run / name).read_bytes() == before[name], name
    assert not [p for p in run.iterdir() if p.name.endswith(".part")]  # no temporary file left behind


def test_an_unwritable_out_gets_one_line(toy_npz, tmp_path, capsys):
    if os.geteuid() == 0:
        target = "/proc/condense-out"  # even root cannot create directories under /proc
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        target = str(locked / "run")
    code = main(["distill", "--dataset", f"npz:{toy_npz}", "--iterations", "1", "--num-eval", "0", "--model", "convnetw32",
                 "--compile", "off", "--quiet", "--out", target])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_files_get_the_users_normal_permissions(toy_dataset, tmp_path):
    old = os.umask(0o022)
    try:
        distill(DistillConfig(iterations=1, **{**TINY, "num_eval": 0}), tmp_path / "run", dataset=toy_dataset, **quiet)
    finally:
        os.umask(old)
    for p in (tmp_path / "run").iterdir():
        if p.is_file():
            assert stat.S_IMODE(p.stat().st_mode) == 0o644, p.name


def test_evaluation_honours_lr_net_and_batch_train(toy_dataset, monkeypatch):
    seen = []
    original = evaluate.evaluate_model
    monkeypatch.setattr(evaluate, "evaluate_model", lambda *a, **k: (seen.append(a[5]), original(*a, **k))[1])
    distill(DistillConfig(iterations=0, lr_net=0.05, batch_train=2, **{**TINY, "num_eval": 1}), dataset=toy_dataset, **quiet)
    assert seen and all(p.lr == 0.05 and p.batch_size == 2 for p in seen)


def test_piping_into_head_ends_quietly():
    import subprocess
    import sys

    done = subprocess.run(f"{sys.executable} -m condensation models --dataset mnist | head -n 2", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.count("\n") == 2 and "Error" not in done.stderr and "Traceback" not in done.stderr


def test_logs_hold_one_line_per_event_without_a_terminal(toy_npz, tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "condensation", "distill", "--dataset", f"npz:{toy_npz}", "--iterations", "3",
         "--num-eval", "0", "--model", "convnetw32", "--batch-real", "8", "--compile", "off", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr  # no progress-bar redraws in a log
    assert [line for line in done.stderr.splitlines() if line.startswith("iteration ")] == [
        line for line in done.stderr.splitlines() if line.startswith("iteration ")
    ][:3] and "iteration 3/3" in done.stderr
