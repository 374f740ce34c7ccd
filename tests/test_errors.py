"""Every row of docs/errors.md, run through the CLI: one line naming the fix, exit 2, no traceback,
nothing written. The table is parsed here, so a row without a case (or a case without a row) fails."""

import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from condensation.cli import main
from conftest import write_toy_npz
from test_data_errors import GOOD, empty_class, garbage_image, mixed_sizes, npz

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
FAST = ["--model", "convnetw32", "--iterations", "1", "--batch-real", "8", "--num-eval", "0", "--compile", "off", "--quiet"]


def _rows() -> dict[str, list[str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"[a-z][a-z0-9-]*", cells[0]) and cells[0] != "id":
            rows[cells[0]] = re.findall(r"`([^`]+)`", cells[3])
    return rows


ROWS = _rows()


def _toy_set(tmp, toy_npz):
    assert main(["distill", "--dataset", f"npz:{toy_npz}", *FAST, "--out", str(tmp / "run")]) == 0
    return tmp / "run" / "synset.pt"


def _distill(toy_npz, *extra):
    return ["distill", "--dataset", f"npz:{toy_npz}", *FAST, *extra]


def case(id_, tmp, toy_npz, monkeypatch=None):
    """(argv, the directory that must not appear, expected exit status) for row ``id_``."""
    out = tmp / "out"
    d = lambda *extra: _distill(toy_npz, "--out", str(out), *extra)  # noqa: E731
    if id_ == "unknown-dataset":
        return ["distill", "--dataset", "imagenet", "--out", str(out)], out
    if id_ == "unknown-model":
        return d("--model", "transformer"), out
    if id_ == "misspelt-model":
        return d("--model", "convnt"), out
    if id_ == "misspelt-method":
        return d("--method", "dsaa"), out
    if id_ == "unknown-method":
        return d("--method", "kip"), out
    if id_ == "unknown-op":
        return d("--strategy", "color_blur"), out
    if id_ == "unknown-eval-model":
        return d("--eval-models", "resnet50", "--num-eval", "1"), out
    if id_ == "unknown-preset":
        return d("--preset", "huge"), out
    if id_ == "unknown-grid-method":
        return ["reproduce", "--methods", "kip", "--out", str(out)], out
    if id_ == "ops-elsewhere":
        return ["ablate", "init", "--ops", "--dataset", f"npz:{toy_npz}", "--out", str(out)], out
    if id_ == "ablate-method":
        return ["ablate", "augmentation", "--method", "mtt", "--dataset", f"npz:{toy_npz}", "--out", str(out)], out
    if id_ == "ipc-zero":
        return d("--ipc", "0"), out
    if id_ == "ipc-too-large":
        return d("--ipc", "1000"), out
    if id_ == "iterations-negative":
        return d("--iterations", "-3"), out
    if id_ == "batch-zero":
        return d("--batch-real", "0"), out
    if id_ == "lr-zero":
        return d("--lr-img", "0"), out
    if id_ == "num-eval-zero":
        return ["evaluate", str(_toy_set(tmp, toy_npz)), "--num-eval", "0"], out
    if id_ == "bad-device":
        return d("--device", "tpu"), out
    if id_ == "missing-set":
        return ["evaluate", str(tmp / "missing.pt")], out
    if id_ == "truncated-set":
        good = _toy_set(tmp, toy_npz).read_bytes()
        (tmp / "cut.pt").write_bytes(good[: len(good) // 2])
        return ["evaluate", str(tmp / "cut.pt")], out
    if id_ == "foreign-set":
        torch.save(zipfile.ZipInfo("not ours"), tmp / "evil.pt")  # a pickled object of a foreign class
        return ["evaluate", str(tmp / "evil.pt")], out
    if id_ == "not-a-set":
        (tmp / "notes.txt").write_text("hello\n")
        return ["show", str(tmp / "notes.txt")], out
    if id_ == "wrong-keys-set":
        torch.save({"weight": torch.zeros(3)}, tmp / "weights.pt")
        return ["evaluate", str(tmp / "weights.pt")], out
    if id_ == "other-dataset":
        other = write_toy_npz(tmp / "other.npz", classes=4, size=12)
        return ["evaluate", str(_toy_set(tmp, toy_npz)), "--dataset", f"npz:{other}", "--num-eval", "1"], out
    if id_ == "out-not-empty":
        assert main(d()) == 0
        return d(), None
    if id_ == "out-other-files":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        return d(), None
    if id_ == "out-unstarted" or id_ == "resume-unstarted":  # what a SIGKILL before the first checkpoint leaves
        out.mkdir()
        (out / "config.json").write_text("{}")
        (out / "metrics.jsonl").write_text('{"iteration": 1, "loss": 1.0}\n')
        return d(*(("--resume",) if id_ == "resume-unstarted" else ())), None
    if id_ == "out-unwritable":
        return _distill(toy_npz, "--out", "/proc/condense-run"), Path("/proc/condense-run")
    if id_ == "resume-nothing":
        out.mkdir()
        return d("--resume"), None
    if id_ == "resume-changed":
        assert main(d()) == 0
        return d("--resume", "--ipc", "2"), None
    if id_ == "resume-overwrite":
        return d("--resume", "--overwrite"), out
    if id_ == "folder-empty-class":
        return ["distill", "--dataset", f"imagefolder:{empty_class(tmp / 'data')[0]}", "--out", str(out)], out
    if id_ == "folder-unreadable":
        return ["distill", "--dataset", f"imagefolder:{garbage_image(tmp / 'data')[0]}", "--out", str(out)], out
    if id_ == "folder-mixed-sizes":
        return ["distill", "--dataset", f"imagefolder:{mixed_sizes(tmp / 'data')[0]}", "--out", str(out)], out
    if id_ == "npz-keys":
        return ["distill", "--dataset", f"npz:{npz(tmp / 'data', x=GOOD['x_train'], y=GOOD['y_train'])}", "--out", str(out)], out
    if id_ == "npz-dtype":
        bad = npz(tmp / "data", **{**GOOD, "x_train": np.zeros((4, 8, 8), np.float32)})
        return ["distill", "--dataset", f"npz:{bad}", "--out", str(out)], out
    if id_ == "missing-dataset":
        return ["distill", "--dataset", "cifar10", "--data-dir", str(tmp / "nowhere"), "--out", str(out)], out
    if id_ == "divergence":
        return ["distill", "--dataset", f"npz:{toy_npz}", "--method", "dm", "--model", "mlp", "--lr-img", "1e10",
                "--iterations", "12", "--batch-real", "16", "--num-eval", "0", "--compile", "off", "--quiet",
                "--out", str(out)], None
    if id_ == "divergence-finite":  # issue #28: every value finite (about 1e12), far outside the data's range
        return ["distill", "--dataset", f"npz:{toy_npz}", "--method", "dsa", "--lr-img", "1e12", "--iterations", "5",
                *FAST[:2], "--batch-real", "16", "--num-eval", "0", "--compile", "off", "--quiet",
                "--out", str(out)], None
    if id_ == "log-missing":
        import importlib.util

        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
        return d("--log", "tensorboard"), out
    if id_ == "report-wrong-dir":
        (tmp / "notes").mkdir()
        return ["report", str(tmp / "notes")], None
    raise KeyError(id_)


def test_every_row_has_a_case_and_every_case_a_row():
    import inspect

    cases = set(re.findall(r'id_ == "([a-z0-9-]+)"', inspect.getsource(case))) | {"ctrl-c"}
    assert len(ROWS) >= 30
    assert set(ROWS) == cases, (set(ROWS) ^ cases)
    assert all(ROWS[i] for i in ROWS), [i for i in ROWS if not ROWS[i]]  # every row quotes what is printed


@pytest.mark.parametrize("id_", [i for i in ROWS if i != "ctrl-c"])
def test_row(id_, tmp_path, toy_npz, capsys, data_env, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv, must_not_exist = case(id_, tmp_path, toy_npz, monkeypatch)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as e:  # argparse rejects a flag while parsing
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    if id_ == "missing-dataset":  # that message lists the files and places, one per line
        line = err[err.index(f"condense {argv[0]}: error: "):]
    else:  # progress lines may come first (divergence); the error is the last line
        line = err.splitlines()[-1] + "\n"
        assert err.count(": error: ") == 1 and line.startswith(f"condense {argv[0]}: error: "), err
    for fragment in ROWS[id_]:
        assert fragment in line, (fragment, line)
    if must_not_exist is not None:
        assert not must_not_exist.exists(), f"{must_not_exist} was written"


def test_ctrl_c_stops_at_once_keeps_the_checkpoint_and_resume_continues(tmp_path, toy_npz, capsys, monkeypatch):
    from condensation.methods import gradient_matching

    original = gradient_matching.GradientMatching.iteration
    out = tmp_path / "run"
    argv = _distill(toy_npz, "--iterations", "4", "--out", str(out))
    calls = []

    def ctrl_c_in_the_third(self, syn, it):
        calls.append(it)
        if it == 2:
            raise KeyboardInterrupt
        return original(self, syn, it)

    import sys

    distill_module = sys.modules["condensation.distill"]

    monkeypatch.setattr(distill_module, "CHECKPOINT_SECONDS", 0.0)  # checkpoint after every iteration
    monkeypatch.setattr(gradient_matching.GradientMatching, "iteration", ctrl_c_in_the_third)
    assert main(argv) == 130
    err = capsys.readouterr().err
    for fragment in ROWS["ctrl-c"]:
        assert fragment in err
    assert calls == [0, 1, 2]  # it stopped in the iteration it was in
    assert torch.load(out / "checkpoint.pt", weights_only=True)["iteration"] == 2
    monkeypatch.setattr(gradient_matching.GradientMatching, "iteration", original)
    assert main(argv + ["--resume"]) == 0
    whole = tmp_path / "whole"
    assert main(_distill(toy_npz, "--iterations", "4", "--out", str(whole))) == 0
    from condensation.synset import SyntheticSet

    assert torch.equal(SyntheticSet.load(out / "synset.pt").images, SyntheticSet.load(whole / "synset.pt").images)
