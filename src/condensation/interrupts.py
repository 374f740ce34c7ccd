"""Ctrl-C (SIGINT) and SIGTERM during a run: stop at the next safe point, keep what was done.

While a condensation iteration runs, the first signal is only noted (``StopRequest.requested``);
the loop finishes the iteration, writes a checkpoint (atomically) and stops, so ``--resume``
continues exactly there. A second signal stops at once, as does any signal outside an iteration:
evaluation keeps every finished network in its ledger, and a run that has no checkpoint yet is
cleared again (``StopRequest.interrupted``), so a plain rerun of the same command starts it afresh.
Either way the run ends with ``RunInterrupted`` (a ``KeyboardInterrupt``) whose message says what
is kept and the command that continues.

Handlers are installed only in the main thread (Python delivers signals there) and the previous
ones are restored on exit, so a notebook's or a caller's own handling is untouched afterwards.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from .errors import RunInterrupted
from .live import LiveLog
from .runs import RUN_FILES, RunDir

__all__ = ["StopRequest", "RunInterrupted", "SIGNALS"]

SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None)


class StopRequest:
    """Signal handling and what an interrupted run has kept, for one run.

    ``with StopRequest(out, resume) as stop:``; ``stop.enter(phase)`` as the run goes on; in the
    "iterations" phase ``stop.requested`` is the signal that waits for the iteration's end (0: none).
    The run keeps ``run``, ``checkpoint`` (the iteration of its last checkpoint, None before
    one), ``phase`` and ``owns_files`` (this call wrote the folder's run files) up to date."""

    def __init__(self, out: str | Path | None, resume: bool = False, command: str = "distill",
                 say: Callable[[str], None] = lambda msg: None) -> None:
        self.run = RunDir(out) if out is not None else None
        self.folder_is_new = out is not None and not Path(out).exists()
        self.command, self.say = command, say
        self.checkpoint: int | None = None
        self.iterations = 0
        self.phase = "setup"
        self.owns_files = False
        self.writes = True  # False on the processes of a distributed run that write nothing
        self.requested = 0
        self.live: Any = LiveLog()  # the run's live log, closed however the run ends
        self._finishing = False
        self._previous: dict[int, Any] = {}

    # ------------------------------------------------------------------ signals
    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                try:
                    self._previous[sig] = signal.signal(sig, self._handle)
                except (ValueError, OSError):  # not allowed here (e.g. an embedded interpreter)
                    pass
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._finishing:  # already stopping: let the clean-up and the message finish
            return
        if self.phase == "iterations" and not self.requested:
            self.requested = signum
            after = ("nothing is kept then" if self.checkpoint is None
                     else f"--resume continues from iteration {self.checkpoint}")
            self.say(f"\n{signal.Signals(signum).name}: finishing this iteration to save a checkpoint; "
                     f"press Ctrl-C again to stop at once ({after})")
            return
        self.requested = self.requested or signum
        raise KeyboardInterrupt

    def enter(self, phase: str) -> None:
        """The run enters ``phase``: in "iterations" the first signal waits for the end of the
        iteration (the loop checks ``requested``); in any other phase a signal stops at once, and
        one that is still waiting stops the run here."""
        self.phase = phase
        if phase != "iterations" and self.requested:
            raise KeyboardInterrupt

    @property
    def status(self) -> int:
        """The exit status: 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM)."""
        return 128 + int(self.requested or signal.SIGINT)

    # ------------------------------------------------------------------ the outcome
    def interrupted(self) -> RunInterrupted:
        """Clear a run that never reached a checkpoint (what this call wrote), and say what is kept
        and what continues it."""
        self._finishing = True
        run = self.run
        if run is not None and self.checkpoint is None and self.owns_files and self.writes:
            _discard(run, self.folder_is_new)
        return RunInterrupted(self.message(), self.status)

    def message(self) -> str:
        run, what = self.run, {"setup": "set-up"}.get(self.phase, self.phase)
        if run is None:
            return f"interrupted during the {what}; nothing was written (no output folder)"
        if self.checkpoint is None:
            if not self.owns_files:
                return f"interrupted during the {what}, before the run wrote anything"
            return (f"interrupted before the first checkpoint, so there is nothing to resume and {run.path} "
                    "was cleared: run the same command again to start afresh")
        if self.phase == "evaluation":
            networks = len(run.read_evaluations())
            kept = f"the set and {networks} finished evaluation network(s) are kept"
        elif self.checkpoint >= self.iterations:
            kept = "every iteration is kept"
        else:
            kept = f"the checkpoint at iteration {self.checkpoint}/{self.iterations} is kept"
        return (f"interrupted during the {what}; {kept} in {run.path}: continue with "
                f"'condense {self.command} --out {run.path} --resume' and the same settings "
                "(from Python: distill(config, out, resume=True))")


def _discard(run: RunDir, folder_is_new: bool) -> None:
    """Remove what a run that never reached a checkpoint wrote, so that a plain rerun can start:
    the files a run writes (nothing else) and, if the run made the folder and it is now empty,
    the folder."""
    run.remove_run_files()
    for tmp in run.path.glob(".*.part"):  # the temporary file of a write cut short
        if any(tmp.name.startswith(f".{name}.") for name in RUN_FILES):
            tmp.unlink(missing_ok=True)
    if folder_is_new and run.path.is_dir() and not any(run.path.iterdir()):
        run.path.rmdir()
