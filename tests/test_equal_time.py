"""benchmarks/equal_time.py (issue #27): the calibration times the kernels the long run uses."""

import json

from conftest import load_benchmark


def _benchmark():
    return load_benchmark("equal_time")


def test_every_method_gets_one_kernel_choice_never_auto():
    et = _benchmark()
    bases = et.base_configs("fashion-mnist", ["dsa", "dm", "mtt"], 1, 5, {"factor": 1}, {"mtt": {"max_start_epoch": 3}})
    assert {b.compile for b in bases.values()} <= {"on", "off"}
    assert bases["mtt"].params["max_start_epoch"] == 3 and "max_start_epoch" not in bases["dm"].params
    off = et.base_configs("fashion-mnist", ["dsa"], 1, 5, {"compile": "off"}, {})
    assert off["dsa"].compile == "off"


def test_a_calibration_made_with_other_kernels_is_timed_again(toy_dataset, tmp_path):
    et = _benchmark()
    config = et.base_configs(toy_dataset.spec.name, ["dm"], 1, 0, {"compile": "off", "model": "convnetw32"}, {})["dm"]
    folder = tmp_path / "calibration"
    folder.mkdir()
    (folder / "calibration.json").write_text(json.dumps({"seconds_per_iteration": 99.0, "timed": [99.0], "compile": "on"}))
    value = et.calibrate(config, toy_dataset, folder, iterations=2)
    cached = json.loads((folder / "calibration.json").read_text())
    assert value != 99.0 and cached["compile"] == "off" and len(cached["timed"]) == 2
    assert et.calibrate(config, toy_dataset, folder, iterations=2) == value  # same kernels: the cache serves


def test_the_iterations_a_run_already_holds_are_read_from_its_log(tmp_path):
    et = _benchmark()
    assert et.iterations_done(tmp_path / "none") == 0
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(
        json.dumps({"iteration": i, "loss": 1.0, "seconds": 2.0}) + "\n" for i in range(1, 144)))
    assert et.iterations_done(run) == 143
