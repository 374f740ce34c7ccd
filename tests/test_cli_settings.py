"""Every command takes a setting with one flag, type and default (issue #26, item 3): the flags of
run settings and of methods' hyper-parameters are generated from the dataclasses, never declared
by hand."""

from __future__ import annotations

import argparse

import pytest

from condensation.cli import build_parser
from condensation.cli.settings import flag_of
from condensation.config import DistillConfig, config_fields, param_fields, resolve
from condensation.methods import list_methods

SETTINGS = {f.name for f in config_fields()} | set(param_fields())
# Flags with a setting's name that mean something else in that command, and why.
OWN_MEANING = {
    ("evaluate", "dataset"): "the dataset of a file that does not name one (default: the file's)",
    ("show", "dataset"): "the dataset of a file that does not name one",
    ("export", "dataset"): "the dataset of a file that does not name one",
    ("reproduce", "ipc"): "a grid axis: a list of ipc values",
    ("models", "dataset"): "the input size and classes to count parameters for (default cifar10)",
}
# Commands that give a setting another default, and why.
OWN_DEFAULT = {("nas", "compile"): "off: every candidate is a new architecture, which torch.compile would compile anew",
               ("coreset", "method"): "none: the command needs one of the coreset methods"}
# ``--method`` lists the methods of the kind the command runs (condensation or selection).


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _actions(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if a.dest in SETTINGS]


def test_no_command_declares_a_setting_by_hand():
    for name, p in _commands().items():
        generated = set(p.get_default("_setting_flags") or ())
        for action in _actions(p):
            if action.dest not in generated:
                assert (name, action.dest) in OWN_MEANING, f"condense {name} declares {action.option_strings} by hand"


def test_every_command_takes_a_setting_with_the_same_flag_type_and_default():
    seen: dict[str, tuple] = {}
    for name, p in _commands().items():
        generated = set(p.get_default("_setting_flags") or ())
        for action in _actions(p):
            if action.dest not in generated:
                continue
            default = p.get_default(action.dest)
            choices = tuple(action.choices or ()) or None
            if action.dest == "method":
                assert set(choices) <= set(list_methods()), name
                choices = "registered"
            shape = (action.option_strings[0], action.type, choices, type(action).__name__)
            first = seen.setdefault(action.dest, (*shape, default, name))
            assert shape == first[:4], f"--{action.dest}: condense {name} differs from condense {first[5]}"
            if (name, action.dest) not in OWN_DEFAULT and (first[5], action.dest) not in OWN_DEFAULT:
                assert default == first[4], f"--{action.dest}: default {default!r} in {name}, {first[4]!r} in {first[5]}"
    for dest in ("num_eval", "iterations", "batch_real", "model", "device", "seed"):
        assert dest in seen, dest  # taken by several commands, so the check above compared them


@pytest.mark.parametrize("flag, setting", [("--batch-real", "batch_real"), ("--no-baseline", "baseline"),
                                           ("--lr-img", "lr_img"), ("--bn-stats", "bn_stats")])
def test_a_flag_is_named_after_its_setting(flag, setting):
    fields = {f.name: f for f in config_fields()} | {n: f for n, (f, _) in param_fields().items()}
    assert flag_of(fields[setting]) == flag


def test_the_flags_of_a_command_build_the_config_the_python_api_builds():
    from condensation.cli.settings import config_from_args

    p = _commands()["distill"]
    args = p.parse_args(["--method", "dc", "--ipc", "10", "--batch-real", "64", "--inner-loop", "5", "--no-baseline",
                         "--eval-models", "convnet,mlp", "--preset", "fast"])
    from_flags = resolve(config_from_args(args))
    from_api = resolve(DistillConfig(method="dc", ipc=10, batch_real=64, inner_loop=5, baseline=False,
                                     eval_models=("convnet", "mlp"), preset="fast"))
    assert from_flags == from_api
    assert (from_api.outer_loop, from_api.inner_loop, from_api.iterations) == (10, 5, 600)
