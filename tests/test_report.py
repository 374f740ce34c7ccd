"""``condense report``: one self-contained HTML page per run, ablation and reproduce grid."""

import base64
import csv
import io
import json
import re
import shutil
import sys
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from PIL import Image

from condensation.ablation import run_ablation
from condensation.apps.continual import run_continual
from condensation.apps import nas as apps_nas
from condensation.apps.nas import run_nas
from condensation.cli import main
from condensation.config import DistillConfig
from condensation.coreset import CORESET_METHODS
from condensation.distill import distill
from condensation.plots import side_by_side
from condensation.published import published
from condensation.report import KINDS, MAX_GRIDS, ReportError, detect_kind, render_report, write_report
from condensation.report import nas as report_nas
from condensation.report.text import SELECTIONS
from condensation.reproduce import run_reproduce
from condensation.synset import SyntheticSet
from condensation.tables import format_accuracy
from condensation.viz import grid_image

quiet = dict(log=lambda msg: None)
PNG_URI = "data:image/png;base64,"


# ---------------------------------------------------------------------- the three kinds of directory
@pytest.fixture(scope="module")
def run_dir(toy_npz, toy_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    config = DistillConfig(dataset=f"npz:{toy_npz}", model="convnetw32", iterations=2, batch_real=8, num_eval=1,
                           eval_epochs=2, eval_every=1, compile="off")
    distill(config, out, dataset=toy_dataset, progress=False, **quiet)
    return out


@pytest.fixture(scope="module")
def ablation_dir(toy_npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "ablate"
    config = DistillConfig(dataset=f"npz:{toy_npz}", model="convnetw32", iterations=1, batch_real=8, num_eval=1,
                           eval_epochs=2, compile="off", baseline=False)
    run_ablation("init", config, [0], out, **quiet)
    return out


@pytest.fixture(scope="module")
def reproduce_dir(toy_npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "reproduce"
    run_reproduce(["dsa", "random"], [f"npz:{toy_npz}"], [1], out, seeds=[0], **quiet,
                  overrides=dict(model="convnetw32", iterations=1, batch_real=8, num_eval=1, eval_epochs=2, compile="off"))
    return out


# ---------------------------------------------------------------------- reading a page
class Page(HTMLParser):
    """What the checks need: every tag's attributes, the images, the text of each table cell."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.images, self.cells = [], [], []
        self._cell = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "img":
            self.images.append(attrs)
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def png_bytes(self) -> list[bytes]:
        return [base64.b64decode(img["src"][len(PNG_URI):], validate=True) for img in self.images]

    def has_cell(self, text: str) -> bool:
        return any(text in cell for cell in self.cells)


def check_self_contained(text: str) -> Page:
    """Every image an embedded, valid PNG; nothing fetched from anywhere; no script."""
    page = Page(text)
    assert page.images, "no image on the page"
    for img in page.images:
        assert img["src"].startswith(PNG_URI), img["src"][:60]
    for data in page.png_bytes():
        Image.open(io.BytesIO(data)).verify()  # raises on a broken PNG
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        assert "href" not in attrs, (tag, attrs)
        assert attrs.get("src", PNG_URI).startswith(PNG_URI), (tag, attrs)
    assert "http" not in text and "url(" not in text and "@import" not in text
    assert "image-rendering:pixelated" in text
    return page


def missing_numbers(page: Page, expected) -> list[str]:
    return [e for e in expected if not page.has_cell(e)]


def pct(x: float) -> str:
    return f"{100 * x:.2f}"


# ---------------------------------------------------------------------- a run
def test_run_report_is_self_contained_and_has_every_number_of_results_json(run_dir):
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    page = check_self_contained(path.read_text())
    res = json.loads((run_dir / "results.json").read_text())
    expected = [res["method"], res["dataset"], res["eval_protocol"], *res["eval_models"], str(res["ipc"]),
                str(res["seed"]), str(res["num_eval"]), str(res["iteration"]), f"{res['seconds']:.0f} s"]
    for model, r in res["accuracy"].items():
        expected += [format_accuracy(r), *map(pct, r["runs"])]
    for model, r in res["baseline"]["random_real"].items():
        expected += [format_accuracy(r), f"{100 * (res['accuracy'][model]['mean'] - r['mean']):+.2f}"]
    for p in res["curve"]:
        expected += [format_accuracy(p), str(p["iteration"])]
    assert len(res["curve"]) == 2  # eval_every 1: iterations 1 and 2
    assert missing_numbers(page, expected) == []
    # every picture of the run, once: the curves, the grids at iterations 0 and 1, the final set
    files = [run_dir / "plots" / "loss.png", run_dir / "plots" / "accuracy.png", run_dir / "grids" / "iter_000000.png",
             run_dir / "grids" / "iter_000001.png", run_dir / "synset.png"]
    embedded = page.png_bytes()
    assert [f.read_bytes() in embedded for f in files] == [True] * len(files)
    assert len(embedded) == len(files)
    # small grids are magnified with crisp pixels; the plots are not
    px = [img for img in page.images if img.get("class") == "px"]
    assert len(px) == 3 and all(int(img["width"]) > Image.open(run_dir / "synset.png").width for img in px)


def test_run_report_shows_the_papers_figure_beside_ours(run_dir, monkeypatch):
    import condensation.published as published_module

    asked = []

    def fake(method, dataset, ipc, model="convnet", setting=""):
        asked.append((method, ipc, model, setting))
        return {"mean": 84.6, "std": 0.3, "source": "Test paper Table 1", "status": "V", "note": ""}

    monkeypatch.setattr(published_module, "published", fake)
    text = render_report(run_dir)
    page = Page(text)
    res = json.loads((run_dir / "results.json").read_text())
    ours = res["accuracy"]["convnetw32"]["mean"]
    assert page.has_cell("84.6 ± 0.3% [1]") and page.has_cell(f"{100 * ours - 84.6:+.2f}")
    assert "Test paper Table 1" in text
    assert asked == [("dsa", 1, "convnetw32", "cross:convnetw32")]  # another network: the cross-architecture row


def test_run_report_without_the_published_module(run_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "condensation.published", None)  # importing it raises ImportError
    page = Page(render_report(run_dir))
    header = next(i for i, c in enumerate(page.cells) if c == "paper %")
    assert page.cells[header + 8] == "–"  # the first row's paper cell (8 columns)


def test_an_unfinished_run_and_missing_plots(run_dir, tmp_path):
    d = tmp_path / "run"
    shutil.copytree(run_dir, d)
    (d / "results.json").unlink()
    shutil.rmtree(d / "plots")
    (d / "synset.png").unlink()
    assert detect_kind(d) == "run"
    text = write_report(d).read_text()
    page = check_self_contained(text)
    assert "no results.json yet" in text and "iteration 2 of 2 logged" in text
    assert len(page.images) == 3  # the three grids, nothing else


def test_many_grids_are_thinned_evenly(run_dir, tmp_path):
    d = tmp_path / "run"
    shutil.copytree(run_dir, d)
    grid = (d / "grids" / "iter_000001.png").read_bytes()
    for it in range(3, 40):  # 37 more evaluation points
        (d / "grids" / f"iter_{it:06d}.png").write_bytes(grid)
    text = render_report(d)
    page = check_self_contained(text)
    assert len(page.images) == MAX_GRIDS + 2  # + loss and accuracy plots
    captions = " ".join(img["alt"] for img in page.images)
    assert "iteration 0:" in captions and "iteration 39:" in captions and "final, iteration 2" in captions
    assert f"{MAX_GRIDS} of 40 grids shown" in text


# ---------------------------------------------------------------------- an ablation
def test_ablation_report(ablation_dir):
    assert detect_kind(ablation_dir) == "ablation"
    page = check_self_contained(write_report(ablation_dir).read_text())
    data = json.loads((ablation_dir / "ablation.json").read_text())
    expected = [f"{data['wall_seconds']:.0f} s", data["model"], str(data["ipc"])]
    for row in data["rows"]:
        expected += [*row["info"].values(), row["label"], f"{row['seconds']:.0f}"]
        expected += [str(row["budget"][k]) for k in ("seeds", "networks", "iterations", "batch_real")]
        for r in row["accuracy"].values():
            expected += [format_accuracy(r), *map(pct, r["runs"])]
        for acc in row["per_seed"].values():
            expected += [format_accuracy(r) for r in acc.values()]
    assert missing_numbers(page, expected) == []
    assert page.has_cell("init") and all(page.has_cell(init) for init in ("real", "noise", "herding"))  # the differing setting
    embedded = page.png_bytes()
    files = [ablation_dir / "plots" / "ablation.png"]
    for key in ("init-real", "init-noise", "init-herding"):
        files += [ablation_dir / "cells" / key / "seed0" / "synset.png", ablation_dir / "cells" / key / "seed0" / "grids" / "iter_000000.png"]
    assert [f.read_bytes() in embedded for f in files] == [True] * len(files)
    assert len(embedded) == len(files)


# ---------------------------------------------------------------------- a reproduce grid
def test_reproduce_report(reproduce_dir):
    assert detect_kind(reproduce_dir) == "reproduce"
    page = check_self_contained(write_report(reproduce_dir).read_text())
    data = json.loads((reproduce_dir / "results.json").read_text())
    expected = [data["budget"], f"{data['wall_seconds']:.0f} s"]
    for cell in data["cells"]:
        expected += [*map(str, cell["info"].values()), f"{cell['seconds']:.0f}",
                     f"{cell['budget']['seeds']} × {cell['budget']['num_eval']}"]
        for r in cell["accuracy"].values():
            expected += [format_accuracy(r), *map(pct, r["runs"])]
        for acc in cell["per_seed"].values():
            expected += [format_accuracy(r) for r in acc.values()]
    assert missing_numbers(page, expected) == []
    embedded = page.png_bytes()
    cells = reproduce_dir / "cells"
    dsa, rnd = sorted(p.name for p in cells.iterdir())[0], sorted(p.name for p in cells.iterdir())[1]
    assert dsa.endswith("_dsa") and rnd.endswith("_random")
    files = [reproduce_dir / "plots" / "ours_vs_paper.png", cells / dsa / "seed0" / "synset.png",
             cells / dsa / "seed0" / "grids" / "iter_000000.png"]
    assert [f.read_bytes() in embedded for f in files] == [True] * len(files)
    # the random coreset keeps no picture: its set is drawn from synset.pt (the same random real images
    # as the DSA cell's initialisation, seed 0, so the same picture)
    buf = io.BytesIO()
    grid_image(SyntheticSet.load(cells / rnd / "seed0" / "synset.pt")).save(buf, format="PNG")
    assert len(embedded) == len(files) + 1 and embedded.count(buf.getvalue()) == 2


def test_a_coreset_row_shows_its_method_and_no_condensation_settings(reproduce_dir):
    from condensation.report.grid import row_configs as _row_configs

    keys = sorted(p.name for p in (reproduce_dir / "cells").iterdir())
    configs = _row_configs(reproduce_dir, keys, [0])
    dsa, rnd = configs[keys[0]], configs[keys[1]]
    assert (dsa["method"], rnd["method"]) == ("dsa", "random")  # its config.json says the evaluation's method
    assert dsa["iterations"] >= 1 and dsa["init"] == "real"
    assert rnd["iterations"] is None and rnd["init"] is None and rnd["lr_img"] is None


# ---------------------------------------------------------------------- what is not a report directory
def test_other_directories_get_a_one_line_error(tmp_path):
    with pytest.raises(ReportError, match="expected config.json and results.json .* ablation.json"):
        detect_kind(tmp_path)
    with pytest.raises(ReportError, match="not a directory"):
        detect_kind(tmp_path / "missing")
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(ReportError, match=r"results.json is unreadable"):
        write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_cli(run_dir, tmp_path, capsys):
    (run_dir / "report.html").unlink(missing_ok=True)
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert out == f"wrote {run_dir / 'report.html'}\n" and (run_dir / "report.html").stat().st_size > 0
    assert main(["report", str(run_dir), "-o", str(tmp_path / "page.html")]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'page.html'}\n"
    assert (tmp_path / "page.html").read_text() == (run_dir / "report.html").read_text()
    assert main(["report", str(run_dir), "-o", str(tmp_path)]) == 0  # a directory: report.html inside
    assert capsys.readouterr().out == f"wrote {tmp_path / 'report.html'}\n" and (tmp_path / "report.html").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("condense report: error: ") and "ablation.json" in lines[0]


# ---------------------------------------------------------------------- every kind, every state
INTERNAL = re.compile(r"\[[^\]]*(?:code-search|index file)[^\]]*\]", re.I)


def test_every_kind_is_known_and_the_error_lists_them(tmp_path):
    assert KINDS == ("run", "ablation", "reproduce", "continual", "nas")
    with pytest.raises(ReportError) as info:
        detect_kind(tmp_path)
    message = str(info.value)
    assert "\n" not in message
    for what in ("condense distill", "coreset", "ablation.json", "reproduce", "continual", "nas"):
        assert what in message
    assert SELECTIONS == CORESET_METHODS  # the page's list of selection rules is the package's


@pytest.fixture(scope="module")
def factor_run(toy_npz, toy_dataset, tmp_path_factory):
    """Multi-formation (factor 2: one stored image, four 8x8 tiles to train on, per class), evaluated
    once, at the end (eval_every 0)."""
    out = tmp_path_factory.mktemp("report") / "factor"
    config = DistillConfig(dataset=f"npz:{toy_npz}", model="convnetw32", iterations=2, batch_real=8, num_eval=1,
                           eval_epochs=2, eval_every=0, factor=2, compile="off")
    distill(config, out, dataset=toy_dataset, progress=False, **quiet)
    return out


def fake_published(monkeypatch, source="Test paper Table 1"):
    import condensation.published as published_module

    asked = []

    def fake(method, dataset, ipc, model="convnet", setting=""):
        asked.append((method, dataset, ipc, model))
        return {"mean": 70.6, "std": 0.6, "source": source, "status": "V", "note": "recalled [M]"}

    monkeypatch.setattr(published_module, "published", fake)
    return asked


def test_a_multi_formation_run_says_what_it_stores_and_trains_on(factor_run, run_dir, monkeypatch):
    fake_published(monkeypatch)
    text = render_report(factor_run)
    page = check_self_contained(text)
    assert "1 stored image/class (factor 2: 4 training images/class)" in text.split("</h1>")[0]
    paper_cell = next(c for c in page.cells if c.startswith("70.6 ± 0.6%"))
    assert paper_cell == "70.6 ± 0.6% [1] (plain sets of 1 image/class: another setting)"
    header = page.cells.index("ours − paper")
    assert page.cells[header + 8] == "–"  # no gap to a figure of another setting
    assert "4 random real images shrunk into each stored image" in text
    assert "random real image per class" not in text
    # a plain run: the paper's figure with its gap, and what its baseline is
    plain = render_report(run_dir)
    assert "another setting" not in plain and "1 random real image per class" in plain
    assert "1 image/class" in plain.split("</h1>")[0] and "stored" not in plain.split("</h1>")[0]


def test_one_evaluation_point_is_a_value_not_a_curve(factor_run):
    res = json.loads((factor_run / "results.json").read_text())
    assert len(res["curve"]) == 1 and (factor_run / "plots" / "accuracy.png").is_file()
    text = render_report(factor_run)
    page = check_self_contained(text)
    embedded = page.png_bytes()
    assert (factor_run / "plots" / "accuracy.png").read_bytes() not in embedded
    assert (factor_run / "plots" / "loss.png").read_bytes() in embedded
    point = res["curve"][0]
    assert (f"Accuracy was measured at one evaluation point, iteration {point['iteration']}: convnetw32 "
            f"{format_accuracy(point)} over 1 network.") in text
    assert "Accuracy at each evaluation point" not in text and "<svg" not in text


def test_an_interrupted_run_shows_its_log_and_its_latest_checkpoint(run_dir, tmp_path):
    """A run killed after its checkpoint at iteration 2, before the files written at the end."""
    d = tmp_path / "run"
    shutil.copytree(run_dir, d)
    for name in ("results.json", "synset.png", "grids/iter_000002.png", "report.html"):
        (d / name).unlink(missing_ok=True)
    shutil.rmtree(d / "plots")
    text = render_report(d)
    page = check_self_contained(text)
    metrics = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    # the loss curve, drawn from metrics.jsonl: one point per logged iteration
    loss_svg = next(s for s in re.findall(r"<svg.*?</svg>", text) if "matching loss" in s)
    points = re.search(r'<polyline points="([^"]+)"', loss_svg).group(1).split()
    assert len(points) == len(metrics) == 2
    assert "drawn from metrics.jsonl" in text and "drawn from evaluations.jsonl" in text
    # the grids left, then synset.pt (the latest checkpoint) drawn as grid_image draws it
    buf = io.BytesIO()
    grid_image(SyntheticSet.load(d / "synset.pt")).save(buf, format="PNG")
    embedded = page.png_bytes()
    assert embedded == [(d / "grids" / "iter_000000.png").read_bytes(), (d / "grids" / "iter_000001.png").read_bytes(),
                        buf.getvalue()]
    assert "latest checkpoint, iteration 2 (synset.pt)" in text
    # the evaluations recorded so far
    ledger = [json.loads(line) for line in (d / "evaluations.jsonl").read_text().splitlines()]
    last = [r["accuracy"] for r in ledger if r["set"] == "synset" and r["iteration"] == 2]
    assert f"Latest evaluation recorded (evaluations.jsonl), iteration 2: convnetw32 {pct(last[0])}%" in text  # one network: no ±


def test_no_internal_reference_reaches_a_page(run_dir, monkeypatch):
    fake_published(monkeypatch, source="DSA paper Table 1; V: KIP paper Table 1 text [code-search index file 61934210565]")
    text = render_report(run_dir)
    assert "DSA paper Table 1; V: KIP paper Table 1 text" in text
    assert not INTERNAL.search(text) and "code-search" not in text and "[M]" not in text


# ---------------------------------------------------------------------- a coreset
@pytest.fixture(scope="module")
def coreset_dir(tmp_path_factory):
    """A coreset folder as ``condense coreset --out`` writes it, by hand: fashion-mnist, herding, 1 image/class."""
    d = tmp_path_factory.mktemp("report") / "coreset"
    d.mkdir()
    g = torch.Generator().manual_seed(0)
    classes = tuple(f"class{k}" for k in range(10))
    synset = SyntheticSet(torch.randn(10, 1, 28, 28, generator=g), torch.arange(10), (0.2861,), (0.3530,),
                          "fashion-mnist", classes, 1, {"method": "herding", "seed": 0})
    synset.save(d / "synset.pt")
    grid_image(synset).save(d / "synset.png")
    config = {"dataset": "fashion-mnist", "method": "herding", "ipc": 1, "seed": 0, "model": "convnet",
              "feature_model": "convnet", "feature_epochs": 4, "num_eval": 2, "eval_models": ["convnet"],
              "eval_epochs": 300, "iterations": 0, "lr_img": 0.1, "init": "real", "device": "cpu"}
    accuracy = {"convnet": {"mean": 0.6748, "std": 0.0049, "runs": [0.6699, 0.6797]}}
    results = {"accuracy": accuracy, "iteration": 0, "seconds": 12.5, "baseline": {}, "curve": [],
               "dataset": "fashion-mnist", "method": "herding", "ipc": 1, "seed": 0, "num_eval": 2,
               "eval_models": ["convnet"], "eval_protocol": "dc", "memory": {}, "version": "test"}
    (d / "config.json").write_text(json.dumps(config))
    (d / "results.json").write_text(json.dumps(results))
    (d / "evaluations.jsonl").write_text("".join(
        json.dumps({"set": "synset", "iteration": 0, "model": "convnet", "index": k, "protocol": "p", "accuracy": a,
                    "seconds": 30.0}) + "\n" for k, a in enumerate(accuracy["convnet"]["runs"])))
    return d


def test_coreset_report(coreset_dir):
    assert detect_kind(coreset_dir) == "run"
    text = write_report(coreset_dir).read_text()
    page = check_self_contained(text)
    assert "Coreset: herding · fashion-mnist · 1 image/class" in text
    assert "selected by herding in 12 s" in text and "selected by herding (synset.png)" in text
    assert page.png_bytes() == [(coreset_dir / "synset.png").read_bytes()]
    assert "Curves" not in text and "loss" not in text and "iteration" not in text.lower()
    assert not page.has_cell("lr_img") and not page.has_cell("random real %")
    assert page.has_cell("feature_model") and page.has_cell("convnet, 4 epochs") and page.has_cell("60 s")
    paper = published("herding", "fashion-mnist", 1)  # the published coreset figure, from published.csv
    mean = f"{paper['mean']:.1f}"
    assert page.has_cell(f"{mean} ± {paper['std']:.1f}% [1]") and page.has_cell(f"{67.48 - paper['mean']:+.2f}")
    assert missing_numbers(page, ["67.48 ± 0.49%", "66.99, 67.97"]) == []
    assert paper["source"] in text and not INTERNAL.search(text)


# ---------------------------------------------------------------------- continual learning and architecture search
@pytest.fixture(scope="module")
def continual_dir(toy_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "continual"
    run_continual(toy_dataset, 2, 1, ("dm", "random"), (0, 1), out, iterations=1, batch_real=8, num_eval=1,
                  eval_epochs=2, model="convnetw32", compile="off", device="cpu", **quiet)
    return out


def test_continual_report(continual_dir):
    assert detect_kind(continual_dir) == "continual"
    text = write_report(continual_dir).read_text()
    page = check_self_contained(text)
    data = json.loads((continual_dir / "continual.json").read_text())
    assert "Continual learning: " in text and "2 steps · 1 image/class" in text
    expected = [data["dataset"], *map(str, data["classes_seen"])]
    for m in data["memories"]:
        expected += [f"{m} %", f"{m} networks"]
        expected += [format_accuracy(a) for a in data["accuracy"][m]]
        for seed, steps in data["per_seed"][m].items():
            expected += [pct_list_of(runs) for runs in steps]
        total = sum(v for x in data["memory_seconds"][m].values() for v in x)
        expected.append(f"{total:.0f} s")
    for seed, groups in data["classes"].items():
        expected += [", ".join(map(str, g)) for g in groups]  # the class order of each seed, per step
    assert missing_numbers(page, expected) == []
    embedded = page.png_bytes()
    assert (continual_dir / "plots" / "continual.png").read_bytes() in embedded
    assert len(embedded) == 1 + 2  # the plot and each method's memory
    assert "dm: memory after step 2, seed 0" in text


@pytest.fixture(scope="module")
def nas_dir(toy_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "nas"
    run_nas(toy_dataset, 1, ["convnetw32", "convnetd1", "convnetnp"], out, iterations=1, batch_real=8, target_size=20,
            val_size=10, proxy_epochs=2, target_epochs=2, num_nets=1, compile="off", device="cpu",
            condense={"model": "convnetw32"}, **quiet)
    return out


def test_nas_report(nas_dir):
    assert detect_kind(nas_dir) == "nas"
    text = write_report(nas_dir).read_text()
    page = check_self_contained(text)
    data = json.loads((nas_dir / "nas.json").read_text())
    assert "Architecture search: " in text and "3 candidates" in text
    expected = ["condensed (dsa)", "random real", "target (real)", "Spearman ρ (all)"]
    for s in data["summary"]:
        expected += [str(s["images"]), f"{s['rho']:.2f}", s["top1_label"], pct(s["top1_target"]), str(s["top1_rank"])]
    for c in data["candidates"]:
        expected += [c["name"], *(format_accuracy(c[s]) for s in ("condensed", "random", "target"))]
    with open(nas_dir / "candidates.csv") as f:
        expected += [row["name"] for row in csv.DictReader(f)]
    assert missing_numbers(page, expected) == []
    assert page.png_bytes() == [(nas_dir / "plots" / "nas.png").read_bytes()]
    assert report_nas.SETS == apps_nas.SETS  # the page's training sets are the search's


def test_a_folder_still_starting_gets_its_settings(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps({"kind": "nas", "dataset": "mnist", "ipc": 1}))
    assert detect_kind(tmp_path) == "nas"
    assert "no nas.json yet" in render_report(tmp_path)
    (tmp_path / "settings.json").write_text(json.dumps({"kind": "continual", "dataset": "mnist", "ipc": 1, "steps": 5}))
    assert detect_kind(tmp_path) == "continual" and "no continual.json yet" in render_report(tmp_path)


def pct_list_of(runs) -> str:
    return ", ".join(map(pct, runs))


# ---------------------------------------------------------------------- multi-formation cells in a grid
def _with_a_factor_2_cell(src, dst, records_file, key_of):
    shutil.copytree(src, dst)
    data = json.loads((dst / records_file).read_text())
    records = data["cells"] if "cells" in data else data["rows"]
    key = key_of(records)
    config_path = dst / "cells" / key / "seed0" / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "factor": 2}))
    for r in records:
        r["paper"] = {"mean": 70.6, "std": 0.6, "source": "Test paper Table 1", "status": "V", "note": ""}
    (dst / records_file).write_text(json.dumps(data))
    return key


def test_a_reproduce_cell_with_a_factor_is_labelled(reproduce_dir, tmp_path):
    d = tmp_path / "grid"
    _with_a_factor_2_cell(reproduce_dir, d, "results.json", lambda rs: next(r["key"] for r in rs if r["key"].endswith("_dsa")))
    page = Page(render_report(d))
    row = page.cells.index("1 stored image/class (factor 2: 4 training images/class)")
    assert page.cells[row + 4] == "70.6 ± 0.6% [1] (plain sets of 1 image/class: another setting)"
    assert page.cells[row + 5] == "–"
    assert page.has_cell("70.6 ± 0.6% [1]") and any(re.fullmatch(r"[+-]\d+\.\d\d", c) for c in page.cells)  # the plain cell


def test_an_ablation_row_with_a_factor_is_labelled(ablation_dir, tmp_path):
    d = tmp_path / "ablate"
    _with_a_factor_2_cell(ablation_dir, d, "ablation.json", lambda rs: rs[0]["key"])
    text = render_report(d)
    page = Page(text)
    assert sum("(plain sets of 1 image/class: another setting)" in c for c in page.cells) == 1
    assert any("(1 stored image/class (factor 2: 4 training images/class))" in c for c in page.cells)


def test_init_vs_result_has_no_empty_gap(run_dir, tmp_path):
    """The two grids side by side, each panel as wide as its image: no blank band between them."""
    path = side_by_side(tmp_path / "pair.png", [("iteration 0", run_dir / "grids" / "iter_000000.png"),
                                                ("iteration 2", run_dir / "synset.png")])
    pixels = np.asarray(Image.open(path).convert("L"))
    blank = (pixels > 250).all(axis=0)  # columns with nothing drawn
    longest, run = 0, 0
    for b in blank:
        run = run + 1 if b else 0
        longest = max(longest, run)
    assert longest < 0.08 * pixels.shape[1], (longest, pixels.shape)
