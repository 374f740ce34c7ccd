"""Ctrl-C at any moment (issue #30 item 1): real SIGINT/SIGTERM sent to ``python -m condensation
distill`` on the toy data after it printed a given line. Stopped in an iteration, the run
checkpoints that iteration and ``--resume`` ends bit-identical to an uninterrupted run; stopped
before any checkpoint, nothing blocks a plain rerun; stopped during evaluation, the finished
networks are kept. The interrupt message, ``--resume`` and a new run agree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

SRC = Path(__file__).resolve().parents[1] / "src"
TINY = ["--model", "convnetw32", "--batch-real", "8", "--compile", "off", "--eval-epochs", "30"]


def _argv(toy_npz, out, *extra):
    return [sys.executable, "-u", "-m", "condensation", "distill", "--dataset", f"npz:{toy_npz}", *TINY,
            "--out", str(out), *extra]


def _env(tmp_path):
    return {**os.environ, "PYTHONPATH": str(SRC), "CONDENSATION_CACHE": str(tmp_path / "cache"),
            "CONDENSATION_OFFLINE": "1"}


def _interrupt(argv, env, after: str, sig=signal.SIGINT, again: str | None = None, timeout: float = 240):
    """Run ``argv``, send ``sig`` once a stderr line contains ``after`` (and once more when one
    contains ``again``); return (exit status, stderr)."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, deadline, waiting = [], time.monotonic() + timeout, [after] + ([again] if again else [])
    for line in proc.stderr:
        lines.append(line)
        if waiting and waiting[0] in line:
            proc.send_signal(sig)
            waiting.pop(0)
            if not waiting:
                break
        assert time.monotonic() < deadline, "".join(lines)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, "".join(lines) + err


def _run(argv, env):
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stderr + done.stdout


@pytest.fixture(scope="module")
def whole(toy_npz, tmp_path_factory):
    """The uninterrupted run every interrupted one must end identical to."""
    tmp = tmp_path_factory.mktemp("whole")
    code, text = _run(_argv(toy_npz, tmp / "run", "--iterations", "6", "--num-eval", "1"), _env(tmp))
    assert code == 0, text
    return tmp / "run"


def _same_set(a: Path, b: Path) -> None:
    x, y = torch.load(a / "synset.pt", weights_only=True), torch.load(b / "synset.pt", weights_only=True)
    assert torch.equal(x["images"], y["images"])
    ra, rb = json.loads((a / "results.json").read_text()), json.loads((b / "results.json").read_text())
    assert ra["accuracy"] == rb["accuracy"] and ra["baseline"] == rb["baseline"]


@pytest.mark.parametrize("after", ["iteration 1/6"])  # the first: no checkpoint exists yet (3/6 took the same path)
def test_sigint_in_an_iteration_checkpoints_it_and_resume_ends_identical(after, toy_npz, tmp_path, whole):
    out, env = tmp_path / "run", _env(tmp_path)
    argv = _argv(toy_npz, out, "--iterations", "6", "--num-eval", "1")
    code, text = _interrupt(argv, env, after)
    assert code == 130, text
    assert "Traceback" not in text
    saved = torch.load(out / "checkpoint.pt", weights_only=True)["iteration"]
    assert 1 <= saved < 6, text
    assert f"the checkpoint at iteration {saved}/6 is kept in {out}" in text
    assert f"'condense distill --out {out} --resume'" in text
    code, again = _run(argv, env)  # a plain rerun refuses, pointing at --resume, as the message did
    assert code == 2 and "pass --resume to continue it" in again
    code, resumed = _run(argv + ["--resume"], env)
    assert code == 0, resumed
    assert f"resuming {out} at iteration {saved}/6" in resumed
    _same_set(out, whole)


def test_sigterm_is_handled_like_ctrl_c(toy_npz, tmp_path, whole):
    out, env = tmp_path / "run", _env(tmp_path)
    argv = _argv(toy_npz, out, "--iterations", "6", "--num-eval", "1")
    code, text = _interrupt(argv, env, "iteration 2/6", sig=signal.SIGTERM)
    assert code == 143, text
    assert "--resume" in text
    assert _run(argv + ["--resume"], env)[0] == 0
    _same_set(out, whole)


def test_ctrl_c_twice_before_the_first_checkpoint_leaves_nothing_that_blocks_a_rerun(toy_npz, tmp_path, whole):
    out, env = tmp_path / "run", _env(tmp_path)
    argv = _argv(toy_npz, out, "--iterations", "6", "--num-eval", "1")
    # at the start line; the first iteration (warm-up: seconds) notes it, the second Ctrl-C stops at once
    code, text = _interrupt(argv, env, "writing", again="press Ctrl-C again")
    assert code == 130, text
    assert "nothing to resume" in text and "run the same command again" in text, text
    assert not out.exists() or not any(out.iterdir())
    code, resumed = _run(argv + ["--resume"], env)  # --resume agrees: there is nothing to resume
    assert code == 2 and "start a new run (without --resume)" in resumed
    code, rerun = _run(argv, env)
    assert code == 0, rerun
    _same_set(out, whole)


def test_ctrl_c_during_evaluation_keeps_the_finished_networks(toy_npz, tmp_path, whole):
    out, env = tmp_path / "run", _env(tmp_path)
    argv = _argv(toy_npz, out, "--iterations", "6", "--num-eval", "1")
    code, text = _interrupt(argv, env, "dsa convnetw32 #1/1")  # the set's network is done, the baseline's is not
    assert code == 130, text
    assert "interrupted during the evaluation; the set and 1 finished evaluation network(s) are kept" in text
    code, resumed = _run(argv + ["--resume"], env)
    assert code == 0, resumed
    assert "1 network(s) already evaluated, reused" in resumed
    _same_set(out, whole)


def test_without_out_the_message_names_the_folder(toy_npz, tmp_path):
    env = _env(tmp_path)
    argv = [a for a in _argv(toy_npz, "x", "--iterations", "6", "--num-eval", "0") if a not in ("--out", "x")]
    proc_dir = tmp_path / "here"
    proc_dir.mkdir()
    proc = subprocess.Popen(argv, env=env, cwd=proc_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "iteration 2/6" in line:
            proc.send_signal(signal.SIGINT)
            break
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 130
    folders = list((proc_dir / "runs").iterdir())
    assert len(folders) == 1 and f"--out {Path('runs') / folders[0].name} --resume" in err, err
