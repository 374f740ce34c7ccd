"""benchmarks/time_to_accuracy.py at ipc 10 (issue #29, item 4): the target ratio and a second
stage's time (``--after``), which counts the first stage's condensation seconds."""

import json
from pathlib import Path

import pytest

from conftest import load_benchmark

from condensation.runs import RunDir


def _benchmark():
    return load_benchmark("time_to_accuracy")


def _run(folder: Path, seconds: list[float], accuracies: list[float], stage: float | None = None) -> RunDir:
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text("".join(
        json.dumps({"iteration": i + 1, "loss": 1.0, "seconds": s}) + "\n" for i, s in enumerate(seconds)))
    (folder / "evaluations.jsonl").write_text("".join(
        json.dumps({"set": "synset", "iteration": len(seconds), "model": "convnet", "index": k, "accuracy": a,
                    "seconds": 10.0}) + "\n" for k, a in enumerate(accuracies)))
    if stage is not None:
        (folder / "stage.json").write_text(json.dumps({"after": "first", "seconds": stage}) + "\n")
    return RunDir(folder)


def test_a_second_stage_counts_the_first_stages_condensation_time(tmp_path):
    tta = _benchmark()
    first = _run(tmp_path / "first", [4.0, 5.0, 6.0], [0.8])
    assert tta.condense_seconds(first) == 15.0
    second = _run(tmp_path / "second", [100.0, 50.0], [0.84, 0.86], stage=tta.condense_seconds(first))
    (point,) = tta.curve(second, 2)
    assert point["condense_seconds"] == 165.0 and point["final"] and point["networks"] == 2
    assert point["mean"] == pytest.approx(0.85) and point["eval_seconds"] == 20.0
    assert tta.curve(first, 3)[0]["condense_seconds"] == 15.0  # no stage.json: its own time only


def test_the_ipc_10_target_is_a_twentieth_and_the_paper_figure_is_ipc_10s():
    tta = _benchmark()
    assert tta.target_text(84.6, 1, 10, 0.05) == "target <= 0.05 and >= 84.6%"
    assert "(plain sets of 10 images/class" in tta.target_text(84.6, 2, 10, 0.05)
    from condensation.published import published

    assert published("dsa", "fashion-mnist", 10)["mean"] == 84.6 and published("dsa", "mnist", 10)["mean"] == 97.8
