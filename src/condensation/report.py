"""One self-contained HTML page (``report.html``) of a run, an ablation or a reproduce grid.

``write_report(directory)`` reads what ``condense distill``, ``condense ablate`` or ``condense
reproduce`` wrote there and renders it: the settings, the result table (ours beside the random-real
baseline and the paper's figure), the curves and the image grids. Every image is embedded as a
``data:image/png;base64`` URI and the stylesheet is inline, so the page opens anywhere, offline,
without JavaScript. Numbers come from the JSON files: accuracies in %, two decimals, mean ± std.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .atomic import atomic_write_text
from .errors import ReportError
from .runs import RunDir
from .tables import format_accuracy

__all__ = ["KINDS", "ReportError", "detect_kind", "render_report", "write_report"]

KINDS = ("run", "ablation", "reproduce")
REPORT_NAME = "report.html"
MAX_GRIDS = 12  # a run's grid sequence shows at most this many (evenly spaced, first and last kept)
PAGE_WIDTH = 1100  # px of content; wider images are scaled down, narrower grids magnified
HALF_WIDTH = 540  # two images side by side
GRID_WIDTH = 560  # a small grid is magnified (integer factor, up to 4) to about this width
THUMB_WIDTH = 160  # the same for the small per-row images of a grid (magnified up to 3x)


# ---------------------------------------------------------------------- reading
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportError(f"{path} is unreadable ({type(e).__name__}); re-run the command that wrote it") from None


def detect_kind(directory: str | os.PathLike) -> str:
    """``"run"`` (``condense distill --out``), ``"ablation"`` or ``"reproduce"``, from the files in
    ``directory``; ``ReportError`` (one line naming what was expected) for anything else."""
    d = Path(directory)
    if not d.is_dir():
        raise ReportError(f"{d} is not a directory; pass the --out directory of condense distill, ablate or reproduce")
    if (d / "ablation.json").is_file():
        return "ablation"
    if (d / "results.json").is_file():
        data = _read_json(d / "results.json")
        if isinstance(data, dict) and data.get("kind") == "reproduce":
            return "reproduce"
        if isinstance(data, dict) and "kind" not in data and (d / "config.json").is_file():
            return "run"
    elif (d / "config.json").is_file() and (d / "metrics.jsonl").is_file():
        return "run"  # a run still in progress: settings and log, no results yet
    raise ReportError(
        f"{d} holds no run, ablation or reproduce grid: expected config.json and results.json (condense distill --out), "
        "ablation.json (condense ablate) or results.json of kind 'reproduce' (condense reproduce)"
    )


# ---------------------------------------------------------------------- images
class _Png:
    """A PNG's bytes and size, read from its header."""

    def __init__(self, data: bytes):
        if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
            raise ValueError("not a PNG")
        self.data = data
        self.width, self.height = struct.unpack(">II", data[16:24])

    @classmethod
    def read(cls, path: Path) -> "_Png | None":
        try:
            return cls(path.read_bytes())
        except (OSError, ValueError):
            return None

    def uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.data).decode("ascii")


def _rendered_synset(path: Path) -> _Png | None:
    """A grid of the synthetic set in ``path`` (for runs that keep ``synset.pt`` but no picture,
    e.g. coreset cells), rendered in memory."""
    if not path.is_file():
        return None
    try:
        from .synset import SyntheticSet
        from .viz import grid_image

        buf = io.BytesIO()
        grid_image(SyntheticSet.load(path)).save(buf, format="PNG")
        return _Png(buf.getvalue())
    except Exception:  # an unreadable set: the page shows the rest
        return None


def _img(png: _Png, alt: str, *, grid: bool, fit: int = GRID_WIDTH, limit: int = PAGE_WIDTH, most: int = 4) -> tuple[str, int]:
    """An ``<img>`` of ``png``. A grid narrower than ``fit`` is magnified by an integer factor (up to
    ``most``) and drawn with crisp pixels; anything wider than ``limit`` is scaled down to fit.
    Returns the markup and the displayed width in px."""
    scale = max(1, min(most, fit // max(1, png.width))) if grid else 1
    width = png.width * scale
    crisp = grid and width <= limit  # nearest-neighbour only when not shrinking
    if width > limit:
        width = limit
    height = round(png.height * width / png.width)
    cls = ' class="px"' if crisp else ""
    return f'<img{cls} src="{png.uri()}" width="{width}" height="{height}" alt="{_e(alt)}">', width


# ---------------------------------------------------------------------- HTML pieces
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;background:#fff;margin:0}
main{max-width:1100px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;padding-bottom:3px;border-bottom:1px solid #ddd}
h3{font-size:14px;margin:16px 0 6px}
p{margin:6px 0}
.meta,.note,footer{color:#555}
.note{font-size:12.5px;max-width:900px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid #d6d6d6;padding:3px 8px;vertical-align:top;text-align:left}
th{background:#f3f3f3;font-weight:600}
tbody tr:nth-child(even) td{background:#fafafa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.runs{font-size:12px;color:#444;max-width:360px}
tbody td:first-child{white-space:nowrap}
table.settings td.k{color:#666;white-space:nowrap}
table.settings td.v{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-word}
.gallery{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
figure{margin:4px 0;max-width:100%}
.pair{display:flex;gap:8px;align-items:flex-start}
figcaption{font-size:12.5px;color:#444;margin-top:3px}
img{max-width:100%;height:auto;border:1px solid #e3e3e3;background:#fff}
img.px{image-rendering:pixelated}
ol.sources{font-size:12px;color:#555;padding-left:22px}
footer{margin-top:32px;font-size:12px;border-top:1px solid #eee;padding-top:6px}
"""


def _e(text: Any) -> str:
    return html.escape("–" if text is None else str(text), quote=True)


class _Num(str):
    """A table cell aligned right (a number)."""


class _Runs(str):
    """A cell listing per-network accuracies (small print)."""


def _cell(value: Any) -> str:
    text = _e(value)
    cls = ' class="num"' if isinstance(value, _Num) else (' class="runs"' if isinstance(value, _Runs) else "")
    return f"<td{cls}>{text}</td>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table with a header row. Cells: text (escaped), ``_Num`` (right-aligned) or ``_Runs`` (small);
    a header is right-aligned when its column's cells are numbers."""
    rows = [list(row) for row in rows]
    numeric = {i for i in range(len(headers)) if rows and all(isinstance(row[i], _Num) for row in rows)}
    head = "".join(("<th class=\"num\">" if i in numeric else "<th>") + f"{_e(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kv_table(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of labels and values, without a header."""
    body = "".join(f'<tr><th>{_e(k)}</th>{_cell(v)}</tr>' for k, v in pairs)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _figure(png: _Png | None, caption: str, *, grid: bool, fit: int = GRID_WIDTH, limit: int = PAGE_WIDTH) -> str:
    if png is None:
        return ""
    img, width = _img(png, caption, grid=grid, fit=fit, limit=limit)
    return _captioned(img, width, caption)


def _captioned(content: str, width: int, caption: str) -> str:
    """A figure as wide as its content (at least 200 px), so the caption wraps under it."""
    return f'<figure style="width:{max(200, width)}px">{content}<figcaption>{_e(caption)}</figcaption></figure>'


def _gallery(figures: Iterable[str]) -> str:
    figures = [f for f in figures if f]
    return f'<div class="gallery">{"".join(figures)}</div>' if figures else ""


def _page(title: str, body: Sequence[str], directory: Path) -> str:
    parts = [p for p in body if p]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>\n"
        + "\n".join(parts)
        + f"\n<footer>Written by <code>condense report</code> (condensation {_e(__version__)}) from "
        f"<code>{_e(directory)}</code>. Every figure is embedded; the page needs no network.</footer>"
        "\n</main></body></html>\n"
    )


# ---------------------------------------------------------------------- formatting
def _pct_list(runs: Sequence[float]) -> str:
    return ", ".join(f"{100 * a:.2f}" for a in runs)


def _number(x: float) -> str:
    """A published figure as printed: 84.6 -> "84.6", 45.0 -> "45.0", 49.15 -> "49.15"."""
    text = f"{x:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _paper_text(paper: Mapping[str, Any] | None) -> str:
    if not paper or paper.get("mean") is None:
        return "–"
    if paper.get("std") is None:
        return f"{_number(paper['mean'])}%"
    return f"{_number(paper['mean'])} ± {_number(paper['std'])}%"


def _gap(ours: Mapping[str, Any] | None, reference_pct: float | None) -> str:
    if not ours or reference_pct is None:
        return "–"
    return f"{100 * ours['mean'] - reference_pct:+.2f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = float(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s:.0f} s ({s / 60:.0f} min)"
    return f"{s:.0f} s ({s / 3600:.1f} h)"


def _value(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) or "–"
    if isinstance(v, dict):
        return json.dumps(v) if v else "–"
    return str(v)


class _Sources:
    """Footnotes for the papers' figures: each distinct source once, numbered."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def mark(self, paper: Mapping[str, Any] | None) -> str:
        text = _paper_text(paper)
        source = (paper or {}).get("source")
        if not source or text == "–":
            return text
        if source not in self.items:
            self.items.append(source)
        return f"{text} [{self.items.index(source) + 1}]"

    def html(self) -> str:
        if not self.items:
            return ""
        items = "".join(f"<li>{_e(s)}</li>" for s in self.items)
        return f'<p class="note">Sources of the papers\' figures (published.csv):</p><ol class="sources">{items}</ol>'


def _paper_for(method: str | None, dataset: str | None, ipc: int | None, model: str) -> dict[str, Any] | None:
    """The paper's figure for a run evaluated on ``model``: the main table for ConvNet, the
    cross-architecture table otherwise; None without the published module or a figure."""
    if not method or not dataset or ipc is None:
        return None
    try:
        from .published import published
    except ImportError:
        return None
    model = str(model).lower()
    try:
        if model == "convnet":
            return published(method, dataset, ipc)
        return published(method, dataset, ipc, model=model, setting=f"cross:{model}")
    except (ValueError, OSError):
        return None


def _settings_table(config: Mapping[str, Any], per_row: int = 3) -> str:
    """The config as a compact key/value table, ``per_row`` pairs per line."""
    items = [(k, _value(v)) for k, v in config.items() if not (k == "extra" and not v)]
    rows = []
    for i in range(0, len(items), per_row):
        chunk = items[i : i + per_row] + [("", "")] * (per_row - len(items[i : i + per_row]))
        rows.append("<tr>" + "".join(f'<td class="k">{_e(k)}</td><td class="v">{_e(v)}</td>' for k, v in chunk) + "</tr>")
    return f'<table class="settings"><tbody>{"".join(rows)}</tbody></table>'


def _shared_and_differing(configs: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Settings equal in every config, and the keys that differ (in first-seen order)."""
    keys = list(dict.fromkeys(k for c in configs.values() for k in c))
    shared, differing = {}, []
    for k in keys:
        values = [json.dumps(c.get(k), sort_keys=True) for c in configs.values()]
        if len(set(values)) == 1:
            shared[k] = next(iter(configs.values())).get(k)
        else:
            differing.append(k)
    return shared, differing


# ---------------------------------------------------------------------- a run
def _evenly(items: list, most: int) -> list:
    if len(items) <= most:
        return items
    picks = sorted({round(i * (len(items) - 1) / (most - 1)) for i in range(most)})
    return [items[i] for i in picks]


def _run_page(d: Path) -> tuple[str, list[str]]:
    run = RunDir(d)
    config = _read_json(d / "config.json")
    results = _read_json(d / "results.json") if (d / "results.json").is_file() else None
    metrics = run.read_metrics()
    ledger = run.read_evaluations()
    res = results or {}
    method = res.get("method", config.get("method"))
    dataset = res.get("dataset", config.get("dataset"))
    ipc = res.get("ipc", config.get("ipc"))
    iterations = config.get("iterations")
    title = f"Run: {method} · {dataset} · {ipc} image(s)/class"
    body = [f"<h1>{_e(title)}</h1>"]
    last = metrics[-1]["iteration"] if metrics else 0
    status = (
        f"finished: {res.get('iteration', iterations)} iterations" if results is not None
        else f"in progress or interrupted: iteration {last} of {iterations} logged, no results.json yet"
    )
    body.append(f'<p class="meta">{_e(d)} — {_e(status)}</p>')

    # settings
    body.append("<h2>Settings</h2>")
    body.append(_settings_table(config))

    # results
    body.append("<h2>Result</h2>")
    sources = _Sources()
    accuracy = res.get("accuracy") or {}
    baseline = (res.get("baseline") or {}).get("random_real") or {}
    if accuracy:
        rows = []
        for model, r in accuracy.items():
            b = baseline.get(model)
            paper = _paper_for(method, dataset, ipc, model)
            rows.append([
                model, _Num(format_accuracy(r)), _Num(format_accuracy(b)), _Num(_gap(r, b and 100 * b["mean"])),
                _Num(sources.mark(paper)), _Num(_gap(r, paper and paper.get("mean"))),
                _Num(len(r.get("runs", []))), _Runs(_pct_list(r.get("runs", []))),
            ])
        body.append(_table(
            ["model", "ours %", "random real %", "ours − random", "paper %", "ours − paper", "networks", "per network %"],
            rows,
        ))
        protocol = res.get("eval_protocol") or config.get("eval_protocol") or method
        note = (
            f"Mean ± population std over the evaluation networks, test accuracy in %. Evaluated with the {protocol} "
            f"protocol ({res.get('num_eval', config.get('num_eval'))} network(s) per model, "
            f"{config.get('eval_epochs') or 'the protocol’s'} epochs)."
        )
        if baseline:
            note += (f" Random real: {ipc} random real image(s) per class (the images a real initialisation starts "
                     "from), same protocol.")
        if sources.items:
            note += (" The paper's figure is its ConvNet table (other networks: its cross-architecture table), at the "
                     "paper's budget whatever this run's.")
        body.append(f'<p class="note">{_e(note + " Gaps in points.")}</p>')
        body.append(sources.html())
    elif results is not None:
        body.append('<p class="note">No evaluation in this run (num_eval 0).</p>')
    else:
        body.append('<p class="note">No results yet: results.json is written when the run finishes.</p>')
    summary = [
        ["iterations", _Num(res.get("iteration", last))],
        ["condensation time", _Num(_duration(res.get("seconds") if results is not None else sum(m.get("seconds", 0) for m in metrics)))],
        ["evaluation time", _Num(_duration(sum(r.get("seconds") or 0 for r in ledger)))],
    ]
    if metrics and "loss" in metrics[-1]:
        summary.append(["last matching loss", _Num(f"{metrics[-1]['loss']:.4g}")])
    if results is not None:
        summary += [["seed", _Num(res.get("seed"))], ["version", res.get("version", "–")]]
    body.append(_kv_table(summary))

    # curves
    curve = res.get("curve") or []
    loss_png, acc_png = _Png.read(d / "plots" / "loss.png"), _Png.read(d / "plots" / "accuracy.png")
    if curve or loss_png or acc_png:
        body.append("<h2>Curves</h2>")
        body.append(_gallery([
            _figure(acc_png, "test accuracy of the synthetic set vs iteration (dashed: random real)", grid=False, limit=HALF_WIDTH),
            _figure(loss_png, "matching loss vs iteration", grid=False, limit=HALF_WIDTH),
        ]))
        if curve:
            body.append("<h3>Accuracy at each evaluation point</h3>" + _curve_table(curve))

    # images
    body.append(_run_images(run, config, res, curve))
    return title, body


def _curve_table(curve: Sequence[Mapping[str, Any]]) -> str:
    """One row per evaluation point, one column per model (mean ± std, networks)."""
    models = list(dict.fromkeys(p["model"] for p in curve))
    at: dict[int, dict[str, Mapping[str, Any]]] = {}
    for p in curve:
        at.setdefault(int(p["iteration"]), {})[p["model"]] = p
    rows = [[_Num(it), *(_Num(format_accuracy(pts.get(m))) for m in models),
             _Num(", ".join(str(pts[m].get("n")) for m in models if m in pts))] for it, pts in sorted(at.items())]
    return _table(["iteration", *(f"{m} %" for m in models), "networks"], rows)


def _run_images(run: RunDir, config: Mapping[str, Any], res: Mapping[str, Any], curve: list[dict]) -> str:
    final_it = res.get("iteration")
    grids = list(run.grids())
    final = _Png.read(run.file("synset.png")) if final_it is not None else None
    if final is not None:  # synset.png is the grid of the last iteration: show it once, as "final"
        grids = [(it, p) for it, p in grids if it != final_it]
    shown = _evenly(grids, MAX_GRIDS - (final is not None))
    at = {}
    for p in curve:
        at.setdefault(p["iteration"], []).append(f"{p['model']} {format_accuracy(p)}")
    figures = []
    for it, path in shown:
        what = f"initialisation ({config.get('init', '?')})" if it == 0 else "evaluation point" if it in at else "snapshot"
        accs = f" — {'; '.join(at[it])}" if it in at else ""
        figures.append(_figure(_Png.read(path), f"iteration {it}: {what}{accs}", grid=True, limit=HALF_WIDTH))
    if final is not None:
        accs = "; ".join(f"{m} {format_accuracy(r)}" for m, r in (res.get("accuracy") or {}).items())
        figures.append(_figure(final, f"final, iteration {final_it} (synset.png)" + (f" — {accs}" if accs else ""), grid=True,
                               limit=HALF_WIDTH))
    if not any(figures):
        side = _Png.read(run.file("plots") / "init_vs_result.png")
        figures.append(_figure(side, "initialisation next to result", grid=False))
    if not any(figures):
        return ""
    note = (f'<p class="note">{len(shown) + (final is not None)} of {len(grids) + (final is not None)} grids shown, evenly spaced.</p>'
            if len(shown) < len(grids) else "")
    return "<h2>Images</h2><p class=\"note\">One row per class, de-normalised to real colours.</p>" + note + _gallery(figures)


# ---------------------------------------------------------------------- grids (ablation, reproduce)
def _first_seed_dir(d: Path, key: str, seeds: Sequence[int]) -> tuple[int, Path] | None:
    for s in seeds:
        p = d / "cells" / key / f"seed{s}"
        if p.is_dir():
            return s, p
    return None


# Settings a coreset cell's config.json carries but its selection never used.
_CONDENSATION_ONLY = ("iterations", "batch_real", "lr_img", "momentum_img", "optimizer_img", "lr_schedule", "init",
                      "strategy", "dsa_mode", "dsa_sides", "outer_loop", "inner_loop", "metric", "matching", "bn_stats")


def _row_configs(d: Path, keys: Sequence[str], seeds: Sequence[int]) -> dict[str, dict]:
    out = {}
    for key in keys:
        found = _first_seed_dir(d, key, seeds)
        if found and (found[1] / "config.json").is_file():
            try:
                config = json.loads((found[1] / "config.json").read_text())
                selection = found[1] / "selection.json"
                if selection.is_file():  # a coreset cell: selected, not condensed
                    config = {**config, **dict.fromkeys(_CONDENSATION_ONLY),
                              "method": json.loads(selection.read_text()).get("method", config.get("method"))}
                out[key] = config
            except (OSError, json.JSONDecodeError):
                continue
    return out


def _grid_settings(d: Path, keys: Sequence[str], labels: Mapping[str, str], seeds: Sequence[int]) -> str:
    """Settings shared by every row, then a table of the settings that differ per row."""
    configs = _row_configs(d, keys, seeds)
    if not configs:
        return ""
    shared, differing = _shared_and_differing({k: {kk: vv for kk, vv in c.items() if kk != "seed"} for k, c in configs.items()})
    parts = ["<h2>Settings</h2>", '<p class="note">Shared by every row (seeds set per run):</p>', _settings_table(shared)]
    if differing:
        parts.append('<p class="note">Differing between rows:</p>')
        parts.append(_table(["row", *differing], [[labels.get(k, k), *(_value(c.get(x)) for x in differing)]
                                                  for k, c in configs.items()]))
    return "".join(parts)


def _row_images(d: Path, rows: Sequence[tuple[str, str]], seeds: Sequence[int]) -> str:
    """Per row, the first seed's initial and final images, small."""
    figures, borrowed = [], []
    for key, label in rows:
        found = _first_seed_dir(d, key, seeds)
        if not found:
            continue
        seed, p = found
        init = _Png.read(p / "grids" / "iter_000000.png")
        final = _Png.read(p / "synset.png") or _rendered_synset(p / "synset.pt")
        if final is None and init is None:
            source = _source_of(p)
            if source:
                borrowed.append(f"{label} evaluates the set of {source}")
            continue
        pair = []
        if init is not None:
            pair.append(_img(init, f"{label}: initialisation", grid=True, fit=THUMB_WIDTH, limit=HALF_WIDTH, most=3))
        if final is not None:
            pair.append(_img(final, f"{label}: final", grid=True, fit=THUMB_WIDTH, limit=HALF_WIDTH, most=3))
        what = "initialisation → final" if len(pair) == 2 else ("final" if final is not None else "initialisation")
        width = sum(w for _, w in pair) + 8 * (len(pair) - 1)
        figures.append(_captioned(f'<div class="pair">{"".join(m for m, _ in pair)}</div>', width,
                                  f"{label} — {what}, seed {seed}"))
    if not figures:
        return ""
    note = "Each row's synthetic set (first seed), one row per class."
    if borrowed:
        note += " No images of their own: " + "; ".join(borrowed) + "."
    return f'<h2>Images</h2><p class="note">{_e(note)}</p>' + _gallery(figures)


def _source_of(run: Path) -> str | None:
    """The grid row whose set a run of kind "evaluate" evaluated (its ``results.json`` names the file)."""
    try:
        source = json.loads((run / "results.json").read_text()).get("source")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return Path(source).parent.parent.name if source else None


def _accuracy_columns(records: Sequence[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(m for r in records for m in (r.get("accuracy") or {})))


def _per_seed_table(records: Sequence[Mapping[str, Any]], label) -> str:
    rows = []
    for r in records:
        for seed, acc in (r.get("per_seed") or {}).items():
            for model, a in acc.items():
                rows.append([label(r), _Num(seed), model, _Num(format_accuracy(a)), _Num(len(a.get("runs", []))),
                             _Runs(_pct_list(a.get("runs", [])))])
    if not rows:
        return ""
    return "<h3>Per seed</h3>" + _table(["row", "seed", "model", "accuracy %", "networks", "per network %"], rows)


def _notes_from_markdown(path: Path) -> str:
    """The paragraph under the table of ``ablation.md`` / ``results.md`` (its notes), if any."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return ""
    last_table = max((i for i, line in enumerate(lines) if line.startswith("|")), default=-1)
    text = " ".join(line.strip() for line in lines[last_table + 1 :] if line.strip())
    return f'<p class="note">{_e(text)}</p>' if text else ""


def _ablation_page(d: Path) -> tuple[str, list[str]]:
    data = _read_json(d / "ablation.json")
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise ReportError(f"{d / 'ablation.json'} has no rows; re-run condense ablate")
    records, columns, seeds = data["rows"], list(data.get("columns") or []), list(data.get("seeds") or [])
    title = f"Ablation: {data.get('ablation')} · {data.get('dataset')} · {data.get('ipc')} image(s)/class"
    body = [f"<h1>{_e(title)}</h1>", f'<p class="meta">{_e(d)} — {len(records)} row(s)</p>']
    # rows are named as in the chart: the augmentation rows by key (their labels are the columns)
    by_key = data.get("ablation") == "augmentation"
    labels = {r["key"]: r["key"] if by_key else r.get("label", r["key"]) for r in records}
    body.append(_grid_settings(d, [r["key"] for r in records], labels, seeds))
    body.append("<h2>Result</h2>")
    summary = [["ablation", data.get("ablation")], ["dataset", data.get("dataset")], ["images per class", _Num(data.get("ipc"))],
               ["model", data.get("model")], ["seeds", _value(seeds)], ["wall time", _Num(_duration(data.get("wall_seconds")))]]
    models = _accuracy_columns(records)
    sources = _Sources()
    rows = []
    for r in records:
        acc, paper, b = r.get("accuracy") or {}, r.get("paper"), r.get("budget") or {}
        main = acc.get(models[0]) if models else None
        rows.append([
            labels[r["key"]], *((r.get("info") or {}).get(c) for c in columns),
            *(_Num(format_accuracy(acc.get(m))) for m in models),
            _Num(sources.mark(paper)), _Num(_gap(main, paper and paper.get("mean"))),
            _Num(b.get("seeds")), _Num(b.get("networks")), _Num(b.get("iterations")), _Num(b.get("batch_real")),
            _Num(f"{r.get('seconds') or 0:.0f}"),
        ])
    acc_headers = [f"{m} %" if len(models) > 1 else "accuracy %" for m in models]
    body.append(_table(["row", *columns, *acc_headers, "paper %", "ours − paper", "seeds", "networks", "iterations", "batch_real",
                        "time (s)"], rows))
    body.append(_notes_from_markdown(d / "ablation.md"))
    body.append(sources.html())
    body.append(_kv_table(summary))
    body.append(_per_seed_table(records, lambda r: labels[r["key"]]))
    chart = _Png.read(d / "plots" / "ablation.png")
    if chart:
        paper = " (orange: the paper)" if any(r.get("paper") for r in records) else ""
        body.append("<h2>Chart</h2>" + _figure(chart, f"accuracy per row, mean ± std{paper}", grid=False))
    body.append(_row_images(d, list(labels.items()), seeds))
    return title, body


def _reproduce_page(d: Path) -> tuple[str, list[str]]:
    data = _read_json(d / "results.json")
    records, seeds = list(data.get("cells") or []), list(data.get("seeds") or [])
    title = "Reproduction: ours beside the papers"
    body = [f"<h1>{_e(title)}</h1>", f'<p class="meta">{_e(d)} — {len(records)} cell(s), budget {_e(data.get("budget"))}</p>']

    def label(r: Mapping[str, Any]) -> str:
        info = r.get("info") or {}
        return f"{info.get('dataset')} ipc {info.get('ipc')} {info.get('method')}"

    labels = {r["key"]: label(r) for r in records}
    body.append(_grid_settings(d, [r["key"] for r in records], labels, seeds))
    body.append("<h2>Result</h2>")
    summary = [["budget", data.get("budget")], ["seeds", _value(seeds)], ["wall time", _Num(_duration(data.get("wall_seconds")))]]
    sources = _Sources()
    rows = []
    for r in records:
        info, acc, paper, b = r.get("info") or {}, r.get("accuracy") or {}, r.get("paper"), r.get("budget") or {}
        main = next(iter(acc.values()), None)
        distill = r.get("kind") == "distill"
        rows.append([
            info.get("dataset"), _Num(info.get("ipc")), info.get("method"), next(iter(acc), "–"),
            _Num(format_accuracy(main)), _Num(sources.mark(paper)), _Num(_gap(main, paper and paper.get("mean"))),
            _Num(f"{b.get('seeds')} × {b.get('num_eval')}"), _Num(b.get("iterations") if distill else "–"),
            _Num(b.get("batch_real") if distill else "–"), r.get("init", "–"), _Num(f"{r.get('seconds') or 0:.0f}"),
        ])
    body.append(_table(["dataset", "ipc", "method", "model", "ours %", "paper %", "ours − paper", "seeds × networks",
                        "iterations", "batch_real", "init", "time (s)"], rows))
    body.append(_notes_from_markdown(d / "results.md"))
    body.append(sources.html())
    body.append(_kv_table(summary))
    body.append(_per_seed_table(records, label))
    chart = _Png.read(d / "plots" / "ours_vs_paper.png")
    if chart:
        paper = " and the paper (orange)" if any(r.get("paper") for r in records) else ""
        body.append("<h2>Chart</h2>" + _figure(chart, f"ours (blue){paper} per cell, mean ± std", grid=False))
    body.append(_row_images(d, [(r["key"], labels[r["key"]]) for r in records], seeds))
    return title, body


# ---------------------------------------------------------------------- entry points
def render_report(directory: str | os.PathLike) -> str:
    """The HTML of ``directory``'s report (see ``detect_kind`` for what it accepts)."""
    d = Path(directory)
    kind = detect_kind(d)
    title, body = {"run": _run_page, "ablation": _ablation_page, "reproduce": _reproduce_page}[kind](d)
    return _page(title, body, d)


def write_report(directory: str | os.PathLike, output: str | os.PathLike | None = None) -> Path:
    """Write ``directory``'s report to ``output`` (default ``directory/report.html``; an existing
    directory gets ``report.html`` inside), atomically; returns its path. ``ReportError`` if
    ``directory`` is not a run, ablation or reproduce grid."""
    html_text = render_report(directory)
    path = Path(output) if output is not None else Path(directory)
    if path.is_dir():
        path = path / REPORT_NAME
    return atomic_write_text(path, html_text)
