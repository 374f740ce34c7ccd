"""Flags generated from the settings' own descriptions (``condensation.settings``).

Every command that takes a run setting (``DistillConfig``'s fields) or a method's hyper-parameter
(the fields of the method's dataclass, see ``methods.registry``) adds it here, so the flag has
one name, type, default and help everywhere. Flags a command does not set stay ``None`` (the
preset's or the method's default) and are not passed on.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterable
from typing import Any

from ..config import DistillConfig, config_fields, param_fields
from ..data.specs import with_resolution
from ..methods import get_method, list_methods
from ..settings import SWITCH_OFF, allowed, meta_of, positive_int

__all__ = ["add_settings", "settings_from_args", "changed_from_args", "config_from_args", "flag_of"]

_ADDED = "_setting_flags"  # the parser default that lists the settings add_settings gave flags


def _added(parser: Any) -> list[str]:
    """The (mutable) list of setting names ``parser`` has flags for (argument groups share it)."""
    owner = getattr(parser, "_owner", parser)
    names = owner.get_default(_ADDED)
    if names is None:
        names = []
        owner.set_defaults(**{_ADDED: names})
    return names


def flag_of(f: dataclasses.Field) -> str:
    """The flag of a setting: ``--batch-real`` for ``batch_real``, ``--no-baseline`` for a switch."""
    meta = meta_of(f)
    if meta.get("flag"):
        return meta["flag"]
    dashed = f.name.replace("_", "-")
    return f"--no-{dashed}" if meta.get("kind") is SWITCH_OFF else f"--{dashed}"


def _add(group: Any, f: dataclasses.Field, default: Any, choices: Iterable[str] | None, takers: list[str] | None,
         aliases: Iterable[str] = (), note: str = "") -> None:
    _added(group).append(f.name)
    meta = meta_of(f)
    help_text = meta["help"] + (f"; here: {note}" if note else "")
    if f.name == "method" and choices is not None:
        help_text += ": " + "; ".join(f"{n} ({get_method(n).summary})" if get_method(n).summary else n for n in choices)
        help_text += " (default: dsa)" if "dsa" in choices else ""
    if takers is not None and set(takers) != set(list_methods("condense")):
        help_text += f" [--method {', '.join(takers)}]"
    if meta["kind"] is SWITCH_OFF:
        group.add_argument(flag_of(f), *aliases, dest=f.name, action="store_false", default=True, help=help_text)
        return
    options = tuple(choices) if choices is not None else allowed(meta)
    kwargs: dict[str, Any] = {"dest": f.name, "default": default, "help": help_text.replace("%", "%%")}
    if options is not None:
        kwargs["choices"] = options
        kwargs["type"] = str.lower
    elif meta["kind"].parse is not None and meta["kind"].parse is not str:
        kwargs["type"] = meta["kind"].parse
    if meta.get("metavar"):
        kwargs["metavar"] = meta["metavar"]
    group.add_argument(flag_of(f), *aliases, **kwargs)


def add_settings(
    parser: argparse.ArgumentParser,
    *,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    kind: str | None = "condense",
    choices: dict[str, Iterable[str]] | None = None,
    defaults: dict[str, Any] | None = None,
    params: bool | Iterable[str] = True,
    aliases: dict[str, Iterable[str]] | None = None,
    notes: dict[str, str] | None = None,
) -> None:
    """Add a flag for each run setting (``only`` those named, none of ``exclude``) and, with
    ``params``, for each hyper-parameter of the registered methods of ``kind`` (condense, select,
    or None for all; none of ``exclude``; ``params`` may name the ones to take). ``choices`` narrows a setting's allowed values (e.g. ``method``);
    ``defaults`` gives a command its own default (argparse's ``set_defaults`` can do the same);
    ``aliases`` more flag names for a setting (e.g. ``--models`` for ``--eval-models``); ``notes``
    what a setting means for this command, appended to its help."""
    only = set(only) if only is not None else None
    exclude, choices, defaults, aliases, notes = set(exclude), dict(choices or {}), dict(defaults or {}), dict(aliases or {}), dict(notes or {})
    if "method" not in choices and kind is not None:
        choices["method"] = list_methods(kind)
    wanted = lambda name: (only is None or name in only) and name not in exclude  # noqa: E731
    for f in config_fields():
        if not meta_of(f).get("cli") or not wanted(f.name):
            continue
        if f.name == "dataset":
            _added(parser).append("dataset")
            parser.add_argument("--dataset", default=defaults.get("dataset", f.default), help=meta_of(f)["help"])
            parser.add_argument("--resolution", type=positive_int, default=None, metavar="N",
                                help="imagefolder datasets: resize every image to N x N (shorter side to N, centre "
                                     "crop); the same as --dataset imagefolder:PATH@N")
            continue
        _add(parser, f, defaults.get(f.name, f.default), choices.get(f.name), None, aliases.get(f.name, ()),
             notes.get(f.name, ""))
    if not params:
        return
    chosen = None if params is True else set(params)
    names = list_methods(kind)
    group = parser.add_argument_group("method settings", "hyper-parameters of the methods (default: the method's own)")
    group._owner = parser  # type: ignore[attr-defined]
    for name, (f, takers) in param_fields().items():
        takers = [t for t in takers if t in names]
        if takers and meta_of(f).get("cli") and name not in exclude and (chosen is None or name in chosen):
            _add(group, f, defaults.get(name), choices.get(name), takers)


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the parsed flags set (``None`` and absent flags left out), by setting name:
    only flags ``add_settings`` made (a command's own ``--ipc 1,10`` grid axis is not the setting)."""
    names = set(getattr(args, _ADDED, None) or ())
    values = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if "dataset" in values:
        values["dataset"] = with_resolution(values["dataset"], getattr(args, "resolution", None))
    return values


def changed_from_args(args: argparse.Namespace, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The settings the flags set to something else than their default (what an application
    passes on as extra condensation settings), leaving out ``exclude``."""
    defaults = {f.name: f.default for f in config_fields()}
    defaults.update({name: f.default for name, (f, _) in param_fields().items()})
    skip = set(exclude)
    return {k: v for k, v in settings_from_args(args).items() if k not in skip and v != defaults.get(k)}


def config_from_args(args: argparse.Namespace, **fixed: Any) -> DistillConfig:
    """The ``DistillConfig`` the flags ask for, with ``fixed`` settings on top. A method's
    hyper-parameter given for a method that does not take it is left out with a warning naming
    the methods that do (a script may pass one set of flags to several methods)."""
    values = {**settings_from_args(args), **fixed}
    spec = get_method(values.get("method", "dsa"))
    own = set(spec.param_names())
    for name, (f, takers) in param_fields().items():
        if name in values and name not in own:
            del values[name]
            print(f"warning: {flag_of(f)} applies to --method {', '.join(takers)} only; ignored for {spec.name}",
                  file=sys.stderr)
    return DistillConfig(**values)
