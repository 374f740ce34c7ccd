"""A new user's first hour (issue #30): what a run says, the one-call API, the small things users
notice, live metrics and the compile policy. Ctrl-C is tested in test_interrupts.py, the error
lines in test_errors.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

import condensation
from condensation.cli import main
from condensation.config import DistillConfig
from condensation.distill import distill

TINY = dict(model="convnetw32", batch_real=8, compile="off")
FLAGS = ["--model", "convnetw32", "--batch-real", "8", "--compile", "off"]


# ---------------------------------------------------------------------- item 2: say what is happening
def test_a_run_says_what_it_does_from_start_to_end(toy_npz, tmp_path, capsys, data_env):
    out = tmp_path / "run"
    assert main(["distill", "--dataset", f"npz:{toy_npz}", *FLAGS, "--iterations", "3", "--num-eval", "1",
                 "--eval-epochs", "5", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    err, stdout = captured.err, captured.out
    start = err.splitlines()[0]
    for fragment in (f"DSA on npz:{toy_npz} (read from {toy_npz})", "1 image/class", "preset quick: 3 iterations",
                     "1 evaluation network(s) of 5 epochs", "the paper's budget: 1000 iterations, 20 networks",
                     "cpu, ", " threads", f"writing {out}"):
        assert fragment in start, (fragment, start)
    assert "iteration 1/3" in err and "the first iteration includes warm-up" in err  # no estimate from it
    later = next(line for line in err.splitlines() if line.startswith("iteration 2/3"))
    assert "left (" in later and "for 2 evaluation networks" in later, later  # the set's and the baseline's
    assert "of evaluation left" in err  # after the first evaluation network
    assert f"wrote {out}/: " in stdout and "grids/ (" in stdout and "plots/ (" in stdout
    assert f"condense report {out}" in stdout
    assert "over 1 network " in stdout and "±" not in stdout.split("wrote")[0]  # one network: no spread


def test_the_estimate_counts_the_evaluation_still_to_come(toy_dataset):
    from condensation.config import resolve
    from condensation.ledger import eval_protocol
    from condensation.progress import RunProgress

    config = resolve(DistillConfig(dataset="npz:x", iterations=10, num_eval=3, eval_every=5, **TINY))
    protocols = {m: eval_protocol(config, toy_dataset.spec, m) for m in config.eval_models}
    lines: list[str] = []
    progress = RunProgress(config, toy_dataset, torch.device("cpu"), lines.append, "lines", protocols, [0, 1, 2],
                           estimate=lambda model: 60.0)
    progress.iteration(1, 1.0, 30.0)  # the first: compilation, no estimate
    assert "first iteration includes" in lines[-1] and "left" not in lines[-1]
    progress.iteration(2, 1.0, 2.0)
    # 8 iterations of 2 s; 3 networks at iteration 5, 3 at the end, 3 for the baseline: 9 x 60 s
    assert progress.left(2) == "about 9 min left (16 s of iterations, 9 min for 9 evaluation networks)"
    progress.forget([{"set": "random_real", "iteration": 0, "model": config.eval_models[0], "index": 0}])
    assert "for 8 evaluation networks" in progress.left(2)


def test_evaluation_networks_get_a_bar_over_their_epochs_on_a_terminal(toy_dataset):
    from condensation.config import resolve
    from condensation.ledger import eval_protocol
    from condensation.progress import RunProgress

    config = resolve(DistillConfig(dataset="npz:x", iterations=2, num_eval=2, eval_epochs=7, **TINY))
    protocols = {m: eval_protocol(config, toy_dataset.spec, m) for m in config.eval_models}
    progress = RunProgress(config, toy_dataset, torch.device("cpu"), lambda m: None, "bar", protocols, [0, 1],
                           estimate=lambda model: 1.0)
    watch = progress.evaluation("dsa", "synset", 2, list(config.eval_models))
    assert watch.bar is not None and watch.bar.total == 14  # 2 networks x 7 epochs
    for _ in range(7):
        watch.epoch()
    watch.network(config.eval_models[0], 0, 2, 0.5, 1.0)
    assert watch.bar.n == 7
    watch.close()


# ---------------------------------------------------------------------- item 4: one call
def test_evaluate_is_one_call_on_a_path_or_a_set_and_still_the_module(toy_dataset, tmp_path):
    from condensation.evaluate import protocol_for  # noqa: F401  (the module's names as before)
    from condensation.synset import SyntheticSet

    distill(DistillConfig(iterations=1, num_eval=0, **TINY), tmp_path / "run", dataset=toy_dataset, progress=False,
            log=lambda m: None)
    path = tmp_path / "run" / "synset.pt"
    by_path = condensation.evaluate(path, dataset=toy_dataset, models=["convnetw32"], num_eval=2, epochs=3)
    by_set = condensation.evaluate_set(SyntheticSet.load(path), dataset=toy_dataset, models=["convnetw32"], num_eval=2,
                                       epochs=3)
    assert set(by_path) == {"convnetw32"} and len(by_path["convnetw32"]["runs"]) == 2
    assert by_path == by_set
    assert callable(condensation.evaluate) and hasattr(condensation.evaluate, "evaluate_synset")
    assert "evaluate_set" in condensation.__all__ and "evaluate" in condensation.__all__


def test_the_package_docstring_is_current():
    doc = condensation.__doc__
    assert "to come" not in doc
    for name in ("DM", "coreset", "condensation.evaluate(", "evaluate_set", "DistillConfig("):
        assert name in doc, name


def test_the_readme_example_is_the_cpu_sized_one():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert 'DistillConfig(dataset="fashion-mnist", ipc=1, iterations=30, batch_real=64, num_eval=2, eval_epochs=300)' in readme
    assert "ipc=10, iterations=100" not in readme
    assert "To scale it" in readme
    assert 'ipc=1, iterations=30, batch_real=64, num_eval=2, eval_epochs=300)' in condensation.__doc__


# ---------------------------------------------------------------------- item 7: small things
def test_a_single_network_has_no_spread():
    from condensation.tables import format_accuracy, networks

    assert format_accuracy({"mean": 0.5, "std": 0.0, "runs": [0.5]}) == "50.00%"
    assert format_accuracy({"mean": 0.5, "std": 0.01, "runs": [0.49, 0.51]}) == "50.00 ± 1.00%"
    assert format_accuracy({"mean": 0.5, "std": 0.0, "n": 1}) == "50.00%"
    assert (networks(1), networks(3)) == ("1 network", "3 networks")


@pytest.mark.parametrize("argv, suggestion", [
    (["distill", "--model", "convnt"], "did you mean 'convnet'?"),
    (["distill", "--dataset", "fashion_mnst"], "did you mean 'fashion-mnist'?"),
    (["distill", "--method", "dsaa"], "did you mean 'dsa'?"),
    (["distill", "--eval-models", "papr"], "did you mean 'paper'?"),
    (["reproduce", "--methods", "herdin"], "did you mean 'herding'?"),
])
def test_an_unknown_name_suggests_the_closest(argv, suggestion, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    assert code == 2
    assert suggestion in capsys.readouterr().err


def test_models_explains_the_suffixes_and_both_listings_have_a_description(capsys):
    assert main(["models", "--dataset", "mnist"]) == 0
    out = capsys.readouterr().out
    for key in ("D1 .. D4", "W32 .. W256", "AS AR AL", "NN BN LN IN GN", "NP MP AP", "_ap (resnet18)"):
        assert key in out
    for command in ("models", "datasets"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        help_text = capsys.readouterr().out
        assert "List every network" in help_text or "List the built-in datasets" in help_text


def test_report_says_what_it_wrote(toy_dataset, tmp_path, capsys):
    distill(DistillConfig(iterations=1, num_eval=0, **TINY), tmp_path / "run", dataset=toy_dataset, progress=False,
            log=lambda m: None)
    assert main(["report", str(tmp_path / "run")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'run' / 'report.html'}"


# ---------------------------------------------------------------------- item 8: live metrics
class Recorder:
    def __init__(self, folder, config):
        Recorder.last = self
        self.folder, self.config, self.scalars, self.grids, self.closed = folder, config, [], [], False

    def scalar(self, tag, value, step):
        self.scalars.append((tag, step))

    def images(self, tag, synset, step):
        self.grids.append(step)

    def accuracy(self, prefix, results, step):
        for model, r in results.items():
            self.scalar(f"{prefix}/{model}", r["mean"], step)

    def close(self):
        self.closed = True


def test_log_streams_loss_accuracy_and_images_through_the_chosen_backend(toy_npz, tmp_path, monkeypatch, capsys):
    from condensation import live

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "tensorboard" else real(name, *a))
    monkeypatch.setitem(live._BACKENDS, "tensorboard", Recorder)
    out = tmp_path / "run"
    argv = ["distill", "--dataset", f"npz:{toy_npz}", *FLAGS, "--iterations", "3", "--num-eval", "1", "--eval-epochs", "2",
            "--log", "tensorboard", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    r = Recorder.last
    assert r.folder == out and r.config["live_log"] == "tensorboard" and r.closed
    assert [s for t, s in r.scalars if t == "loss"] == [1, 2, 3]
    assert ("accuracy/convnetw32", 3) in r.scalars and ("random real accuracy/convnetw32", 3) in r.scalars
    assert r.grids == [0, 3]
    assert main([*argv[:-1], "--resume"]) == 0  # --log is a resumable setting: it may change on --resume
    assert main([*[a for a in argv if a not in ("--log", "tensorboard")], "--resume"]) == 0


def test_the_live_log_is_off_by_default_and_imports_nothing(toy_dataset, tmp_path):
    distill(DistillConfig(iterations=1, num_eval=0, **TINY), tmp_path / "run", dataset=toy_dataset, progress=False,
            log=lambda m: None)
    assert "torch.utils.tensorboard" not in sys.modules and "wandb" not in sys.modules


# ---------------------------------------------------------------------- item 3: compilation paid once
def test_the_compile_cache_is_in_the_user_cache_unless_set(tmp_path, monkeypatch):
    from condensation.kernels import compile_cache_dir

    monkeypatch.setenv("CONDENSATION_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    assert compile_cache_dir() == tmp_path / "cache" / "torch-compile"
    import os

    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "cache" / "torch-compile")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache_dir() == tmp_path / "mine"
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", default_cache_dir())  # what PyTorch sets once imported
    assert compile_cache_dir() == tmp_path / "cache" / "torch-compile"


def test_evaluation_compiles_only_where_it_pays_back():
    from condensation.evaluate import EvalProtocol, eval_kernels

    paper = EvalProtocol(epochs=1000)
    ipc1 = eval_kernels("auto", 3, paper, 10, 10_000, 32)  # 10 images: a compiled step is no faster
    assert not ipc1.compile and ipc1.compile_test  # 3 test passes: that path pays back
    one = eval_kernels("auto", 1, EvalProtocol(epochs=2), 10, 10_000, 32)  # a single short network: eager
    assert not one.compile and not one.compile_test
    assert eval_kernels("auto", 3, paper, 100, 10_000, 32).compile  # ipc 10: 100-image batches
    short = eval_kernels("auto", 5, EvalProtocol(epochs=2), 500, 10_000, 32)
    assert not short.compile
    forced = eval_kernels("on", 1, EvalProtocol(epochs=2), 10, 10_000, 32)
    assert forced.compile and forced.compile_test
    assert not eval_kernels("off", 50, paper, 500, 10_000, 32).compile
