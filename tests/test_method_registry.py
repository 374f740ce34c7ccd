"""A new method is one class and one decorator (issue #26): a toy method defined here, in this
file alone, runs through every command a method goes through: ``condense distill`` with its own
flag, a kill and ``--resume`` (bit-identical, its own state included), ``condense evaluate``, a
``reproduce`` grid and ``condense report``."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass

import pytest
import torch

from condensation.cli import main
from condensation.config import DistillConfig, resolve
from condensation.errors import ConfigError
from condensation.methods import Method, find_method, get_method, list_methods, register_method, unregister_method
from condensation.methods.plugins import load_plugins
from condensation.rng import make_generator
from condensation.settings import POSITIVE_FLOAT, setting
from condensation.synset import SyntheticSet


@pytest.fixture
def pull_method():
    """``pull``: each iteration pulls every class's images towards a running mean of real images
    of that class, with one hyper-parameter of its own (``--pull``) and state of its own (the
    running mean, which a resumed run must restore to stay bit-identical)."""

    @dataclass
    class PullParams:
        pull: float = setting(0.5, kind=POSITIVE_FLOAT, help="weight of the pull towards the running mean of real images")

    @register_method("pull", params=PullParams, lr_img=0.1, protocol="dsa", init="real", augments=False,
                     presets={"quick": {"iterations": 4}, "paper": {"iterations": 8}}, summary="a toy: pull towards a running mean")
    class Pull(Method):
        name = "pull"
        die_at: int | None = None  # the test kills the run at this iteration

        def __init__(self, setup, params):
            self.pool, self.seed, self.pull = setup.pool, setup.seed, params.pull
            self.mean: torch.Tensor | None = None

        def iteration(self, syn, it):
            if it == Pull.die_at:
                raise KeyboardInterrupt
            g = make_generator(self.seed, "pull", it)
            real = torch.stack([self.pool.class_batch(c, 8, g).mean(0) for c in range(self.pool.num_classes)])
            self.mean = real if self.mean is None else 0.5 * self.mean + 0.5 * real
            mean = self.mean
            return syn.step(lambda c, x: self.pull * ((x - mean[c]) ** 2).mean()) / self.pool.num_classes

        def state_dict(self):
            return {} if self.mean is None else {"mean": self.mean.cpu()}

        def load_state_dict(self, state):
            self.mean = state.get("mean")

        def meta(self):
            return {"pull": self.pull}

    yield Pull
    unregister_method("pull")


FLAGS = ["--model", "convnetw32", "--num-eval", "1", "--eval-epochs", "3", "--compile", "off"]


def test_a_method_defined_in_one_file_goes_everywhere_a_method_goes(pull_method, toy_npz, tmp_path, monkeypatch, capsys):
    assert "pull" in list_methods("condense") and get_method("pull").protocol == "dsa"
    run = ["distill", "--method", "pull", "--pull", "0.8", "--dataset", f"npz:{toy_npz}", "--iterations", "4", *FLAGS]

    # condense distill with the method's own flag
    assert main([*run, "--out", str(tmp_path / "whole")]) == 0, capsys.readouterr().err
    whole = SyntheticSet.load(tmp_path / "whole" / "synset.pt")
    config = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert config["method"] == "pull" and config["pull"] == 0.8 and whole.meta["pull"] == 0.8
    results = json.loads((tmp_path / "whole" / "results.json").read_text())
    assert results["method"] == "pull" and len(results["accuracy"]["convnetw32"]["runs"]) == 1

    # a kill in the middle, then --resume: the same set, bit for bit (the running mean restored)
    monkeypatch.setattr(importlib.import_module("condensation.distill"), "CHECKPOINT_SECONDS", 0.0)  # a checkpoint after every iteration
    pull_method.die_at = 2
    assert main([*run, "--out", str(tmp_path / "killed")]) == 130
    pull_method.die_at = None
    assert main([*run, "--out", str(tmp_path / "killed"), "--resume"]) == 0, capsys.readouterr().err
    resumed = SyntheticSet.load(tmp_path / "killed" / "synset.pt")
    assert torch.equal(whole.images, resumed.images)
    losses = lambda d: [json.loads(line)["loss"] for line in (d / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert losses(tmp_path / "whole") == losses(tmp_path / "killed")

    # condense evaluate: the method's own protocol (DSA), the same network as the run's
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "whole" / "synset.pt"), "--models", "convnetw32", "--num-eval", "1",
                 "--epochs", "3", "--compile", "off", "--json", str(tmp_path / "eval.json")]) == 0
    evaluated = json.loads((tmp_path / "eval.json").read_text())["accuracy"]["convnetw32"]["runs"]
    assert evaluated == results["accuracy"]["convnetw32"]["runs"]

    # a reproduce grid with the method beside a coreset, its flag passed to it alone
    grid = tmp_path / "grid"
    assert main(["reproduce", "--methods", "pull,random", "--datasets", f"npz:{toy_npz}", "--ipc", "1", "--seeds", "0",
                 "--pull", "0.8", "--iterations", "2", *FLAGS, "--out", str(grid)]) == 0, capsys.readouterr().err
    rows = (grid / "results.csv").read_text().splitlines()
    assert [r.split(",")[2] for r in rows[1:]] == ["pull", "random"]

    # condense report renders the run and the grid
    for folder in (tmp_path / "whole", grid):
        assert main(["report", str(folder)]) == 0
        assert "pull" in (folder / "report.html").read_text()


def test_a_method_flag_is_ignored_with_a_warning_for_another_method_and_validated(pull_method, toy_npz, tmp_path, capsys):
    code = main(["distill", "--method", "dm", "--pull", "0.8", "--dataset", f"npz:{toy_npz}", "--iterations", "1",
                 *FLAGS[:2], "--num-eval", "0", "--out", str(tmp_path / "dm")])
    err = capsys.readouterr().err
    assert code == 0 and "warning: --pull applies to --method pull only; ignored for dm" in err
    assert "pull" not in json.loads((tmp_path / "dm" / "config.json").read_text())
    with pytest.raises(ConfigError, match="--pull applies to --method pull only"):  # from Python: an error
        resolve(DistillConfig(method="dm", pull=0.8))
    with pytest.raises(SystemExit):
        main(["distill", "--method", "pull", "--pull", "-1", *FLAGS])
    assert "argument --pull: expected a positive number" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="pull must be a positive number"):
        resolve(DistillConfig(method="pull", pull=0.0))
    c = resolve(DistillConfig(method="pull", preset="paper"))
    assert (c.iterations, c.pull, c.lr_img, c.num_eval, c.strategy) == (8, 0.5, 0.1, 20, None)


def test_the_registry_refuses_what_it_cannot_describe():
    @dataclass
    class Undocumented:
        weight: float = 1.0

    with pytest.raises(TypeError, match="declare weight with settings.setting"):
        register_method("bad", object, params=Undocumented, lr_img=0.1)
    with pytest.raises(ValueError, match="already registered"):
        register_method("dsa", object, params=get_method("dsa").params, lr_img=0.1)
    with pytest.raises(ConfigError, match=r"invalid method 'dsaa' \(did you mean 'dsa'\?\); allowed: dsa, dc, dm"):
        get_method("dsaa")
    assert find_method("bad") is None


def test_a_plugin_file_named_in_the_environment_adds_its_method_to_the_command_line(tmp_path, monkeypatch, capsys):
    plugin = tmp_path / "shrink_plugin.py"
    plugin.write_text(
        "from dataclasses import dataclass\n"
        "from condensation.methods import Method, register_method\n"
        "from condensation.settings import POSITIVE_FLOAT, setting\n\n"
        "@dataclass\nclass ShrinkParams:\n"
        "    shrink: float = setting(0.1, kind=POSITIVE_FLOAT, help='how much each step shrinks the images')\n\n"
        "@register_method('shrink', params=ShrinkParams, lr_img=0.1, augments=False, presets={'quick': {'iterations': 1}})\n"
        "class Shrink(Method):\n"
        "    def __init__(self, setup, params):\n"
        "        self.shrink = params.shrink\n"
        "    def iteration(self, syn, it):\n"
        "        return syn.step(lambda c, x: self.shrink * (x ** 2).mean())\n"
    )
    monkeypatch.setenv("CONDENSATION_PLUGINS", str(plugin))
    try:
        assert str(plugin) in load_plugins()
        with pytest.raises(SystemExit):
            main(["distill", "--help"])
        out = capsys.readouterr().out
        assert "shrink" in out and "--shrink" in out
    finally:
        unregister_method("shrink")
