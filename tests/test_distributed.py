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
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CONDENSATION_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    env.pop("WORLD_SIZE", None)
    if nproc == 1:
        cmd = [sys.executable, "-m", "condensation", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "condensation", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _results(run):
    return json.loads((run / "results.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dsa", "dc", "dm"])
def test_two_processes_give_the_one_process_set(method, toy_npz, tmp_path):
    args = ["distill", "--dataset", f"npz:{toy_npz}", "--method", method, "--iterations", "2", *FLAGS]
    one = _condense([*args, "--out", str(tmp_path / "one")], 1)
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


@pytest.mark.slow
def test_a_distributed_run_resumes_to_the_one_process_result(toy_npz, tmp_path):
    base = ["distill", "--dataset", f"npz:{toy_npz}", "--method", "dsa", *FLAGS, "--num-eval", "0"]
    _condense([*base, "--iterations", "3", "--out", str(tmp_path / "one")], 1)
    _condense([*base, "--iterations", "2", "--out", str(tmp_path / "two")], 2)
    _condense([*base, "--iterations", "3", "--out", str(tmp_path / "two"), "--resume"], 2)
    a = SyntheticSet.load(tmp_path / "one" / "synset.pt")
    b = SyntheticSet.load(tmp_path / "two" / "synset.pt")
    torch.testing.assert_close(b.images, a.images, rtol=1e-5, atol=1e-6)
    assert [r["iteration"] for r in map(json.loads, (tmp_path / "two" / "metrics.jsonl").read_text().splitlines())] == [1, 2, 3]


def test_classes_and_networks_are_split_round_robin():
    ranks = [Context(r, 3) for r in range(3)]
    assert [c.classes(10) for c in ranks] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert [c.networks(5) for c in ranks] == [[0, 3], [1, 4], [2]]
    single = Context()
    assert single.classes(4) == [0, 1, 2, 3] and not single.active
    x = torch.arange(6.0).view(6, 1)
    single.merge_rows(x, 3)  # a single process keeps everything
    assert x.flatten().tolist() == [0, 1, 2, 3, 4, 5]
