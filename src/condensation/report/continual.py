"""The page of a continual-learning folder (``condense continual --out``): accuracy per step for
each memory method, the plot, what each memory cost, the class order of each seed, the memories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..summary import summarize
from ..tables import format_accuracy
from .files import read_optional
from .images import HALF_WIDTH, Png
from .markup import Num, Runs, e, figure, gallery, note, settings_table, table
from ..labels import multi_formation_text
from .text import duration, pct_list, per_class, plural, value

__all__ = ["continual_page"]


def continual_page(d: Path) -> tuple[str, list[str]]:
    """Title and body parts of the page of the continual-learning folder ``d``."""
    settings = read_optional(d / "settings.json") or {}
    data = read_optional(d / "continual.json") or {}
    steps, ipc = data.get("steps", settings.get("steps")), data.get("ipc", settings.get("ipc"))
    title = (f"Continual learning: {data.get('dataset', settings.get('dataset'))} · {plural(steps, 'step')} · "
             f"{per_class(ipc)}")
    memories, seeds = list(data.get("memories") or []), list(data.get("seeds") or [])
    accuracy = data.get("accuracy") or {}
    done = sum(1 for m in memories for a in accuracy.get(m) or [] if a)
    status = (f"memories {', '.join(memories)}; seeds {', '.join(map(str, seeds))}; "
              f"{done} of {len(memories) * (steps or 0)} (method, step) results" if data
              else "no continual.json yet: the tables are written after the first step")
    body = [f"<h1>{e(title)}</h1>", note(f"{d} — {status}", "meta"), "<h2>Settings</h2>"]
    protocol = data.get("protocol") or {}
    shown = {k: v for k, v in settings.items() if k != "kind"}
    shown.update({"memories": memories, "seeds": seeds, "num_eval": data.get("num_eval")} if data else {})
    shown.update({f"eval_{k}": v for k, v in protocol.items()} if isinstance(protocol, dict) else {"eval": protocol})
    body.append(settings_table(shown))
    if not data:
        return title, body
    seen = list(data.get("classes_seen") or [])
    body.append("<h2>Accuracy per step</h2>")
    factors = {m: int((data.get("factors") or {}).get(m) or 1) for m in memories}
    body.append(_accuracy_table(memories, accuracy, seen, ipc, factors))
    body.append(note(f"Test accuracy (%) on the test images of every class seen so far, mean ± std pooled over seeds × "
                     f"networks ({plural(data.get('num_eval'), 'network')} per seed and step). Each step adds "
                     f"{plural(ipc, 'image')} per new class to the memory, made from that step's real images only; a "
                     "fresh network is trained from scratch on the whole memory."
                     + "".join(f" {m}: {multi_formation_text(ipc, f)}; the memory column counts its stored images."
                               for m, f in factors.items() if f > 1)))
    plot = Png.read(d / "plots" / "continual.png")
    if plot:
        body.append(figure(plot, "accuracy on the classes seen against the number of classes seen, one line per "
                                 "memory method", grid=False))
    body.append(_per_seed(memories, data.get("per_seed") or {}))
    body.append("<h2>Memory cost</h2>")
    body.append(_cost_table(memories, data.get("memory_seconds") or {}, seen, ipc, steps or 0))
    body.append("<h2>Class order</h2>")
    names = _class_names(d, memories, seeds)
    body.append(_order_table(data.get("classes") or {}, names))
    body.append(_memory_images(d, memories, seeds, steps or 0))
    return title, body


def _accuracy_table(memories: Sequence[str], accuracy: Mapping[str, Sequence[Any]], seen: Sequence[int], ipc: Any,
                    factors: Mapping[str, int]) -> str:
    rows = []
    for k, n in enumerate(seen):
        cells: list[Any] = [Num(k + 1), Num(n), Num(n * ipc if isinstance(ipc, int) else "–")]
        for m in memories:
            a = (accuracy.get(m) or [None] * len(seen))[k]
            cells += [Num(format_accuracy(a)), Num(len(a["runs"]) if a else 0)]
        rows.append(cells)
    headers = ["step", "classes seen", "memory (stored images)" if max(factors.values(), default=1) > 1 else "memory (images)"]
    for m in memories:
        name = m if factors.get(m, 1) <= 1 else f"{m} (factor {factors[m]})"
        headers += [f"{name} %", f"{name} networks"]
    return table(headers, rows)


def _per_seed(memories: Sequence[str], per_seed: Mapping[str, Mapping[str, Sequence[Sequence[float]]]]) -> str:
    rows = []
    for m in memories:
        for seed, steps in (per_seed.get(m) or {}).items():
            for k, runs in enumerate(steps):
                if runs:
                    rows.append([m, Num(seed), Num(k + 1), Num(format_accuracy(summarize(list(runs)))),
                                 Num(len(runs)), Runs(pct_list(runs))])
    if not rows:
        return ""
    return "<h3>Per seed</h3>" + table(["memory", "seed", "step", "accuracy %", "networks", "per network %"], rows)


def _cost_table(memories: Sequence[str], seconds: Mapping[str, Mapping[str, Sequence[float | None]]],
                seen: Sequence[int], ipc: Any, steps: int) -> str:
    """Per method: images stored after the last step, and the time spent building memories."""
    rows = []
    for m in memories:
        per_seed = {s: [v for v in x if v is not None] for s, x in (seconds.get(m) or {}).items()}
        total = sum(sum(v) for v in per_seed.values())
        built = sum(len(v) for v in per_seed.values())
        per_step = [[x[k] for x in (seconds.get(m) or {}).values() if k < len(x) and x[k] is not None] for k in range(steps)]
        stored = seen[-1] * ipc if seen and isinstance(ipc, int) else None
        rows.append([m, Num(value(stored)), Num(duration(total)), Num(built),
                     Num(duration(total / len(per_seed)) if per_seed else "–"),
                     ", ".join(f"{sum(v) / len(v):.1f}" if v else "–" for v in per_step)])
    return table(["memory", "images stored (last step)", "building time, all seeds", "memories built",
                  "per seed", "per step, mean over seeds (s)"], rows) + note(
        "Building time: condensing (dsa, dc, dm) or selecting (coresets, including their feature network) each "
        "step's memory, from memory.json.")


def _order_table(classes: Mapping[str, Sequence[Sequence[int]]], names: Sequence[str] | None) -> str:
    if not classes:
        return ""
    width = max(len(g) for g in classes.values())

    def name(c: int) -> str:
        return f"{c} ({names[c]})" if names and 0 <= c < len(names) and names[c] != str(c) else str(c)

    rows = [[Num(s), *(", ".join(name(c) for c in g) for g in groups)] for s, groups in classes.items()]
    return table(["seed", *(f"step {k + 1}" for k in range(width))], rows)


def _step_sets(d: Path, method: str, seed: int, steps: int) -> list:
    from ..synset import SyntheticSet

    out = []
    for k in range(steps):
        path = d / method / f"seed{seed}" / f"step{k}" / "synset.pt"
        try:
            out.append(SyntheticSet.load(path))
        except Exception:  # not built yet, or cut short
            break
    return out


def _class_names(d: Path, memories: Sequence[str], seeds: Sequence[int]) -> list[str] | None:
    """The dataset's class names, from the first memory on disk (memories keep global labels)."""
    for m in memories:
        for s in seeds:
            sets = _step_sets(d, m, s, 1)
            if sets:
                return list(sets[0].classes)
    return None


def _memory_images(d: Path, memories: Sequence[str], seeds: Sequence[int], steps: int) -> str:
    """Each method's memory after its last built step (first seed), one row per class."""
    import io

    import torch

    from ..synset import SyntheticSet
    from ..viz import grid_image

    if not seeds:
        return ""
    figures = []
    for m in memories:
        sets = _step_sets(d, m, seeds[0], steps)
        if not sets:
            continue
        memory = SyntheticSet(torch.cat([s.images for s in sets]), torch.cat([s.labels for s in sets]), sets[0].mean,
                              sets[0].std, sets[0].dataset, sets[0].classes, sets[0].ipc, factor=sets[0].factor)
        buf = io.BytesIO()
        grid_image(memory).save(buf, format="PNG")
        figures.append(figure(Png(buf.getvalue()), f"{m}: memory after step {len(sets)}, seed {seeds[0]}", grid=True,
                              fit=240, limit=HALF_WIDTH))
    if not figures:
        return ""
    return ("<h2>Memories</h2>" + note("Each method's memory (first seed), one row per class; a row fills when its "
                                       "class's step is built.") + gallery(figures))
