"""Condensation on two gloo processes (torchrun on the CPU) gives the one-process result."""

import json
import os
import subprocess
import sys

import pytest
import torch

from condensation.distributed import Context
from condensation.synset import SyntheticSet

FLAGS = ["--model", "convnetw32", "--ipc", "2", "--batch-real", "16", "--outer-loop", "2", "--inner-loop", "1",
         "--num-eval", "2", "--eval-epochs", "4", "--compile", "off", "--quiet"]


def _condense(args, nproc: int):
    done = _launch(args, nproc)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _results(run):
    return json.loads((run / "results.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dsa", "dm"])  # dc is dsa's class split without augmentation
def test_two_processes_give_the_one_process_set(method, toy_npz, tmp_path):
    args = ["distill", "--dataset", f"npz:{toy_npz}", "--method", method, "--iterations", "2", *FLAGS]
    _condense([*args, "--out", str(tmp_path / "one")], 1)
    two = _condense([*args, "--out", str(tmp_path / "two")], 2)
    a = SyntheticSet.load(tmp_path / "one" / "synset.pt")
    b = SyntheticSet.load(tmp_path / "two" / "synset.pt")
    torch.testing.assert_close(b.images, a.images, rtol=1e-5, atol=1e-6)
    # evaluation networks were spread over the two processes and gathered: the same networks
    ra, rb = _results(tmp_path / "one"), _results(tmp_path / "two")
    for model in ra["accuracy"]:
        assert len(rb["accuracy"][model]["runs"]) == 2
        for x, y in zip(ra["accuracy"][model]["runs"], rb["accuracy"][model]["runs"]):
            assert abs(x - y) <= 1.5 / 90  # same network, same data; at most a test image from float order
    # only rank 0 wrote files and printed the summary
    assert two.stdout.count("wrote") == 1
    ledger = [json.loads(line) for line in (tmp_path / "two" / "evaluations.jsonl").read_text().splitlines()]
    assert sorted((r["set"], r["index"]) for r in ledger) == [("random_real", 0), ("random_real", 1), ("synset", 0), ("synset", 1)]


def test_classes_and_networks_are_split_round_robin():
    ranks = [Context(r, 3) for r in range(3)]
    assert [c.classes(10) for c in ranks] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert [c.networks(5) for c in ranks] == [[0, 3], [1, 4], [2]]
    single = Context()
    assert single.classes(4) == [0, 1, 2, 3] and not single.active
    x = torch.arange(6.0).view(6, 1)
    single.merge_rows(x, 3)  # a single process keeps everything
    assert x.flatten().tolist() == [0, 1, 2, 3, 4, 5]


# ---------------------------------------------------------------------- issue #28: README, edge cases
import re  # noqa: E402
import shlex  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

from conftest import write_toy_npz  # noqa: E402

README = Path(__file__).resolve().parents[1] / "README.md"


def _launch(args, nproc: int, env_extra: dict | None = None):
    """``condense ARGS`` on ``nproc`` gloo processes (1: no torchrun); the finished process, whatever its status."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CONDENSATION_OFFLINE": "1", "PYTHONWARNINGS": "ignore",
           **(env_extra or {})}
    env.pop("WORLD_SIZE", None)
    if nproc == 1:
        cmd = [sys.executable, "-m", "condensation", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "condensation", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)


def readme_torchrun_command() -> list[str]:
    """The ``torchrun`` command of README.md's "Several processes and GPUs" section, as words."""
    text = README.read_text()
    section = text[text.index("### Several processes and GPUs"):]
    found = re.search(r"`(torchrun [^`]*)`", section)
    assert found, "README.md's section on several processes shows no torchrun command"
    return shlex.split(found.group(1))


@pytest.mark.slow
def test_the_readme_torchrun_command_runs_as_written(toy_npz, tmp_path):
    words = readme_torchrun_command()
    assert words[0] == "torchrun" and "N" in words and words[-1] == "..."
    # torchrun is torch.distributed.run; N processes become 2; "..." becomes the run's settings
    run_flags = ["--dataset", f"npz:{toy_npz}", "--iterations", "1", *FLAGS, "--out", str(tmp_path / "run")]
    cmd = [sys.executable, "-m", "torch.distributed.run",
           *(("2" if w == "N" else w) for w in words[1:-1]), *run_flags]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CONDENSATION_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    env.pop("WORLD_SIZE", None)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "run" / "synset.pt").exists() and done.stdout.count("wrote") == 1
    ledger = [json.loads(line) for line in (tmp_path / "run" / "evaluations.jsonl").read_text().splitlines()]
    assert sorted((r["set"], r["index"]) for r in ledger if r["set"] == "synset") == [("synset", 0), ("synset", 1)]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dm", "dsa"])
def test_more_processes_than_classes(method, tmp_path):
    """Three processes, two classes: rank 2 owns no class and must neither crash nor change the set."""
    data = write_toy_npz(tmp_path / "two.npz", classes=2)
    args = ["distill", "--dataset", f"npz:{data}", "--method", method, "--iterations", "2", *FLAGS, "--num-eval", "0"]
    one = _launch([*args, "--out", str(tmp_path / "one")], 1)
    three = _launch([*args, "--out", str(tmp_path / "three")], 3)
    assert one.returncode == 0 and three.returncode == 0, three.stderr[-3000:]
    a = SyntheticSet.load(tmp_path / "one" / "synset.pt")
    b = SyntheticSet.load(tmp_path / "three" / "synset.pt")
    torch.testing.assert_close(b.images, a.images, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_a_distributed_adam_run_resumes_to_the_uninterrupted_one(toy_npz, tmp_path):
    """A 2-process run cut and resumed ends bit-identical to the uninterrupted one: the checkpoint
    holds every class's optimiser state (Adam's exp_avg, exp_avg_sq) from the rank that owns it.
    (SGD's momentum goes the same way; the one-process equality is the test above.)"""
    base = ["distill", "--dataset", f"npz:{toy_npz}", "--method", "dsa", *FLAGS, "--num-eval", "0",
            "--optimizer-img", "adam", "--lr-img", "0.01"]
    whole = _launch([*base, "--iterations", "3", "--out", str(tmp_path / "whole")], 2)
    part = _launch([*base, "--iterations", "2", "--out", str(tmp_path / "cut")], 2)
    rest = _launch([*base, "--iterations", "3", "--out", str(tmp_path / "cut"), "--resume"], 2)
    assert whole.returncode == part.returncode == rest.returncode == 0, (whole.stderr + rest.stderr)[-3000:]
    a = SyntheticSet.load(tmp_path / "whole" / "synset.pt")
    b = SyntheticSet.load(tmp_path / "cut" / "synset.pt")
    assert torch.equal(b.images, a.images)
    state = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["synthetic"]["optimizer"]["state"][0]
    assert {"exp_avg", "exp_avg_sq", "step"} <= set(state)
    assert [r["iteration"] for r in map(json.loads, (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines())] == [1, 2, 3]


COUNTED_SELECTION = textwrap.dedent('''
    """A selection that leaves a mark per call (rank and process), then picks random real images."""
    import os
    from pathlib import Path

    from condensation.coreset import select_coreset
    from condensation.methods import register_method
    from condensation.methods.selection import RandomParams


    def counted(dataset, ipc, seed, params, *, model="convnet", device="auto", cache_dir=None, log=None):
        marks = Path(os.environ["SELECTION_MARKS"])
        marks.mkdir(exist_ok=True)
        (marks / f"rank{os.environ.get('RANK', '0')}-pid{os.getpid()}").write_text("selected")
        return select_coreset("random", dataset, ipc, seed, device=device)


    register_method("counted", counted, params=RandomParams, kind="select", protocol="dc", augments=False,
                    summary="random real images, counting its calls")
''')


@pytest.mark.slow
def test_a_coreset_cell_is_selected_once_and_its_evaluation_split(toy_npz, tmp_path):
    plugin = tmp_path / "counted.py"
    plugin.write_text(COUNTED_SELECTION)
    args = ["reproduce", "--methods", "counted", "--datasets", f"npz:{toy_npz}", "--ipc", "1", "--seeds", "0",
            "--model", "convnetw32", "--num-eval", "2", "--eval-epochs", "4", "--compile", "off"]
    env = lambda name: {"CONDENSATION_PLUGINS": str(plugin), "SELECTION_MARKS": str(tmp_path / name)}  # noqa: E731
    one = _launch([*args, "--out", str(tmp_path / "one")], 1, env("marks1"))
    two = _launch([*args, "--out", str(tmp_path / "two")], 2, env("marks2"))
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-3000:]
    marks = sorted(p.name for p in (tmp_path / "marks2").iterdir())
    assert len(marks) == 1 and marks[0].startswith("rank0-"), marks  # selected once, by rank 0
    cell = lambda out: next((tmp_path / out / "cells").iterdir()) / "seed0"  # noqa: E731
    a, b = SyntheticSet.load(cell("one") / "synset.pt"), SyntheticSet.load(cell("two") / "synset.pt")
    assert torch.equal(a.images, b.images)
    # one network per rank, gathered: the same networks as the single process trained
    ra, rb = _results(cell("one")), _results(cell("two"))
    for x, y in zip(ra["accuracy"]["convnetw32"]["runs"], rb["accuracy"]["convnetw32"]["runs"]):
        assert abs(x - y) <= 1.5 / 90
    assert len(rb["accuracy"]["convnetw32"]["runs"]) == 2


DRIFTING_METHOD = textwrap.dedent('''
    """DSA whose inner loop, on rank 1 only, nudges one weight: a fake of non-deterministic kernels."""
    import os

    import torch

    from condensation.methods import register_method
    from condensation.methods.gradient_matching import GM_PRESETS, DSAMatching, DSAParams


    @register_method("drifting", params=DSAParams, lr_img=0.1, protocol="dsa", init="real", augments=True,
                     presets=GM_PRESETS, summary="DSA with a drifting rank 1")
    class Drifting(DSAMatching):
        name = "drifting"

        def train_network(self, net, optimizer, syn, it, ol):
            super().train_network(net, optimizer, syn, it, ol)
            if os.environ.get("RANK") == "1" and it >= 10:
                with torch.no_grad():
                    next(net.parameters()).view(-1)[0] += 1e-6
''')


@pytest.mark.slow
def test_ranks_whose_networks_drift_apart_stop_with_one_line(toy_npz, tmp_path):
    plugin = tmp_path / "drifting.py"
    plugin.write_text(DRIFTING_METHOD)
    args = ["distill", "--dataset", f"npz:{toy_npz}", "--method", "drifting", "--iterations", "12", *FLAGS,
            "--num-eval", "0", "--out", str(tmp_path / "run")]
    done = _launch(args, 2, {"CONDENSATION_PLUGINS": str(plugin)})
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and "processes disagree at iteration 11" in lines[0], done.stderr[-3000:]
    assert "last good checkpoint (iteration 10)" in lines[0]
    # no traceback of ours (torchrun itself reports a failed rank with one of its own)
    assert not re.search(r'File ".*/condensation/', done.stderr), done.stderr[-3000:]
    # the checkpoint before the drift stays; nothing after it was written
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["iteration"] == 10
    assert SyntheticSet.load(tmp_path / "run" / "synset.pt").meta["iteration"] == 10
    assert not (tmp_path / "run" / "results.json").exists()


class _FakeGroup(Context):
    """Two ranks whose gathered rows are given (no process group): the drift logic on its own."""

    def __init__(self, other_fingerprint: float):
        super().__init__(0, 2)
        self.other = other_fingerprint

    def reduce_iteration(self, loss, fingerprint=None):
        fps = torch.tensor([float(fingerprint), self.other], dtype=torch.float64)
        return loss * 2, fps.max() - fps.min()


def test_the_drift_check_on_faked_ranks():
    loss, fp = torch.tensor(0.5), torch.tensor(3.0, dtype=torch.float64)
    total, spread = _FakeGroup(3.0).reduce_iteration(loss, fp)
    assert float(total) == 1.0 and float(spread) == 0.0
    assert float(_FakeGroup(3.0 + 1e-9).reduce_iteration(loss, fp)[1]) > 0
    total, spread = Context().reduce_iteration(loss, fp)  # one process: nothing to compare
    assert total is loss and float(spread) == 0.0


def test_the_backend_follows_the_device_and_grids_join_with_it(monkeypatch, toy_npz):
    from condensation import distributed, experiments
    from condensation.config import DistillConfig
    from condensation.experiments import Cell

    assert distributed.backend_for(torch.device("cuda", 0)) == "nccl" and distributed.backend_for("cpu") == "gloo"
    assert distributed.backend_for(None) == "gloo"
    seen = []

    class Stop(Exception):
        pass

    def joined(device=None):
        seen.append(device)
        raise Stop

    monkeypatch.setattr(experiments, "context", joined)
    monkeypatch.setattr(experiments, "device_from_flag", lambda flag: torch.device("cuda", 0) if flag == "cuda" else torch.device("cpu"))
    cells = [Cell("random", "random", DistillConfig(dataset=f"npz:{toy_npz}", ipc=1, device="cuda").for_method("random"),
                  kind="coreset")]
    with pytest.raises(Stop):  # the group is joined before any cell runs, or is skipped, with the device's backend
        experiments.run_grid(cells, [0], "unused")
    assert seen == [torch.device("cuda", 0)]
