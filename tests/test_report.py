"""``condense report``: one self-contained HTML page per run, ablation and reproduce grid."""

import base64
import io
import json
import shutil
import sys
from html.parser import HTMLParser

import pytest
from PIL import Image

from condensation.ablation import run_ablation
from condensation.cli import main
from condensation.config import DistillConfig
from condensation.distill import distill
from condensation.report import MAX_GRIDS, ReportError, detect_kind, render_report, write_report
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
    from condensation.report import _row_configs

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
    assert out == f"{run_dir / 'report.html'}\n" and (run_dir / "report.html").stat().st_size > 0
    assert main(["report", str(run_dir), "-o", str(tmp_path / "page.html")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'page.html'}\n"
    assert (tmp_path / "page.html").read_text() == (run_dir / "report.html").read_text()
    assert main(["report", str(run_dir), "-o", str(tmp_path)]) == 0  # a directory: report.html inside
    assert capsys.readouterr().out == f"{tmp_path / 'report.html'}\n" and (tmp_path / "report.html").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("condense report: error: ") and "ablation.json" in lines[0]
