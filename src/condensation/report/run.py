"""The page of one run directory: a condensation (``condense distill --out``), finished or still in
progress, or a coreset selection (``condense coreset --out``, the same files without a log)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..tables import format_accuracy
from .markup import Num, Runs, e, kv_table, note, settings_table, table
from .papers import Sources, paper_cells, paper_for
from .runfiles import RunFiles, accuracy_sentence
from .runimages import curves_section, images_section
from .text import CONDENSATION_ONLY, duration, pct_list, per_class, plural, random_real_text

__all__ = ["run_page"]


def run_page(d: Path) -> tuple[str, list[str]]:
    """Title and body parts of the page of the run in ``d``."""
    f = RunFiles.read(d)
    what = "Coreset" if f.selected else "Run"
    title = f"{what}: {f.method} · {f.get('dataset')} · {per_class(f.ipc, f.factor)}"
    res = f.results or {}
    if f.selected:
        status = f"finished: selected by {f.method} in {duration(res.get('seconds'))}"
    elif f.results is not None:
        status = f"finished: {res.get('iteration', f.config.get('iterations'))} iterations"
    else:
        status = (f"in progress or interrupted: iteration {f.last_logged} of {f.config.get('iterations')} logged, "
                  "no results.json yet")
    body = [f"<h1>{e(title)}</h1>", note(f"{d} — {status}", "meta")]
    body.append("<h2>Settings</h2>")
    if f.selected:
        shown = {k: v for k, v in f.config.items() if k not in CONDENSATION_ONLY}
        body.append(settings_table(shown))
        if len(shown) < len(f.config):
            body.append(note("Settings of condensation that a selection does not use are left out."))
    else:
        body.append(settings_table(f.config))
    body.append("<h2>Result</h2>")
    body += _result(f)
    body.append(_summary(f))
    if not f.selected:
        body.append(curves_section(f))
    body.append(images_section(f))
    return title, body


def _result(f: RunFiles) -> list[str]:
    """The accuracy table beside the random-real baseline and the paper, with its notes."""
    res = f.results or {}
    accuracy = res.get("accuracy") or {}
    baseline = (res.get("baseline") or {}).get("random_real") or {}
    if not accuracy:
        return [_no_result(f)]
    sources, rows = Sources(), []
    for model, r in accuracy.items():
        b = baseline.get(model)
        paper, paper_gap = paper_cells(paper_for(f.method, f.get("dataset"), f.ipc, model), r, sources, f.ipc, f.factor)
        random_cells = [Num(format_accuracy(b)), Num(_gap(r, b))] if baseline else []
        rows.append([model, Num(format_accuracy(r)), *random_cells, paper, paper_gap, Num(len(r.get("runs", []))),
                     Runs(pct_list(r.get("runs", [])))])
    random_heads = ["random real %", "ours − random"] if baseline else []
    headers = ["model", "ours %", *random_heads, "paper %", "ours − paper", "networks", "per network %"]
    protocol = res.get("eval_protocol") or f.config.get("eval_protocol") or f.method
    text = (f"Mean ± population std over the evaluation networks, test accuracy in %. Evaluated with the {protocol} "
            f"protocol ({res.get('num_eval', f.config.get('num_eval'))} network(s) per model, "
            f"{f.config.get('eval_epochs') or 'the protocol’s'} epochs).")
    if baseline:
        text += (f" Random real: {random_real_text(f.ipc, f.factor)} — the images a real initialisation starts from; "
                 "same protocol.")
    if f.factor > 1:
        text += (f" Multi-formation: each stored image holds {f.factor}×{f.factor} tiles and networks train on the "
                 f"{plural(f.ipc * f.factor ** 2, 'decoded image')} per class. The papers' figures are for plain sets "
                 f"of {plural(f.ipc, 'image')} per class, another setting: no gap to them is given.")
    elif sources.items:
        text += (" The paper's figure is its ConvNet table (other networks: its cross-architecture table), at the "
                 "paper's budget whatever this run's.")
    return [table(headers, rows), note(text + " Gaps in points."), sources.html()]


def _gap(ours: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    return "–" if not base else f"{100 * (ours['mean'] - base['mean']):+.2f}"


def _no_result(f: RunFiles) -> str:
    if f.results is not None:
        return note("No evaluation in this run (num_eval 0).")
    curve = f.curve()
    if not curve:
        return note("No results yet: results.json is written when the run finishes.")
    last = max(p["iteration"] for p in curve)
    at_last = accuracy_sentence([p for p in curve if p["iteration"] == last])
    return note(f"No results.json yet. Latest evaluation recorded (evaluations.jsonl), iteration {last}: {at_last}.",
                "value")


def _summary(f: RunFiles) -> str:
    res = f.results or {}
    eval_seconds = sum(r.get("seconds") or 0 for r in f.ledger)
    if f.selected:
        rows: list[list[Any]] = [
            ["selected by", f.method], ["selection time", Num(duration(res.get("seconds")))],
            ["evaluation time", Num(duration(eval_seconds))],
        ]
        if f.config.get("feature_model") and f.method != "random":
            rows.append(["feature network", f"{f.config['feature_model']}, {f.config.get('feature_epochs', '?')} epochs"])
    else:
        seconds = res.get("seconds") if f.results is not None else sum(m.get("seconds", 0) for m in f.metrics)
        rows = [["iterations", Num(res.get("iteration", f.last_logged))], ["condensation time", Num(duration(seconds))],
                ["evaluation time", Num(duration(eval_seconds))]]
        if f.metrics and "loss" in f.metrics[-1]:
            rows.append(["last matching loss", Num(f"{f.metrics[-1]['loss']:.4g}")])
        learned = (res.get("meta") or {}).get("lr")
        if learned is not None:  # trajectory matching: the evaluation networks trained with it
            rows.append(["learned learning rate", Num(f"{learned:.4g}")])
    if f.results is not None:
        rows += [["seed", Num(res.get("seed"))], ["version", res.get("version", "–")]]
    return kv_table(rows)

