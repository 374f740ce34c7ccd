"""What both applications share: the output directory's settings guard, logging, the evaluation kernels."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from ..kernels import Kernels, resolve_micro_batch
from ..runs import RunDirError

__all__ = ["Log", "default_log", "open_out", "kernels_for"]

Log = Callable[[str], None]


def default_log(log: Log | None) -> Log:
    return log or (lambda msg: print(msg, file=sys.stderr, flush=True))


def open_out(out: str | Path, settings: Mapping[str, Any], what: str) -> Path:
    """Make ``out`` for a ``what`` run with ``settings`` (what its saved sets depend on), or
    reuse it if it holds one with the same settings, so that a re-run continues where it stopped.

    Raises ``RunDirError`` if ``out`` is a file, holds something else, or a run with other settings.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file, not a directory")
    path = out / "settings.json"
    settings = json.loads(json.dumps({"kind": what, **settings}))  # the JSON form, as compared after a reload
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            raise RunDirError(f"cannot continue {out}: its settings.json is unreadable; choose another --out") from None
        if saved.get("kind") != what:
            raise RunDirError(f"{out} holds a {saved.get('kind', 'different')} run, not a {what} run; choose another --out")
        changed = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
        if changed:
            raise RunDirError(
                f"cannot continue {out}: settings differ from its saved run ({', '.join(changed)}); "
                "use the same flags or another --out"
            )
        return out
    if out.is_dir() and any(out.iterdir()):
        raise RunDirError(f"{out} already holds other files; choose another --out (an empty or new directory)")
    from ..atomic import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(settings, indent=2) + "\n")
    return out


def kernels_for(compile: str, epochs: int, networks: int, micro_batch: int | None, device: torch.device) -> Kernels:
    """The evaluation's kernels, chosen as ``evaluate_on`` chooses them."""
    return Kernels.for_mode(compile, networks * epochs >= 2000, resolve_micro_batch(micro_batch, device))
