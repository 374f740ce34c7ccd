"""The published-figures data file: it parses, its vocabulary is closed, its keys are unique, and
the figures the project compares against read back as printed."""

import csv
import re
from importlib import resources

import pytest

from condensation.published import COLUMNS, DATASETS, METHODS, STATUSES, _parse, load_published, published

ROWS = load_published()


def test_file_parses_with_exact_columns_and_typed_values():
    text = resources.files("condensation").joinpath("published.csv").read_text(encoding="utf-8")
    header = next(csv.reader(text.splitlines()))
    assert tuple(header) == COLUMNS
    assert len(ROWS) == len(text.strip().splitlines()) - 1 >= 150
    for r in ROWS:
        assert r["ipc"] is None or (isinstance(r["ipc"], int) and r["ipc"] > 0)
        assert r["mean"] is None or isinstance(r["mean"], float)
        assert r["std"] is None or isinstance(r["std"], float)


def test_every_row_uses_the_known_vocabulary_and_names_a_source():
    for r in ROWS:
        assert r["method"] in METHODS, r
        assert r["dataset"] in DATASETS, r
        assert r["status"] in STATUSES, r
        assert r["source"], r
        assert r["model"] == r["model"].lower() and r["model"], r
        if r["status"] == "N":
            assert r["mean"] is None and r["std"] is None, r
        else:
            assert r["mean"] is not None and 0.0 < r["mean"] <= 100.0, r
            assert r["std"] is None or 0.0 <= r["std"] < 10.0, r
        if r["status"] == "V":
            assert "V:" in r["source"], r  # says where it was checked
        assert (r["ipc"] is None) == (r["method"] == "whole"), r


def test_no_duplicate_keys():
    keys = [(r["method"], r["dataset"], r["ipc"], r["model"], r["setting"]) for r in ROWS]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    "method, dataset, ipc, mean, std",
    [
        ("dsa", "fashion-mnist", 10, 84.6, 0.3),
        ("dc", "cifar10", 10, 44.9, 0.5),
        ("dc", "fashion-mnist", 10, 82.3, 0.4),
        ("dsa", "fashion-mnist", 50, 88.7, 0.2),
        ("random", "fashion-mnist", 1, 51.4, 3.8),
        ("kcenter", "fashion-mnist", 1, 66.9, 1.8),
        ("forgetting", "cifar10", 50, 23.3, 1.1),
        ("dm", "tinyimagenet", 50, 24.1, 0.3),
        ("dm", "cifar10", 1250, 80.8, 0.3),
        ("whole", "cifar10", None, 84.8, 0.1),
    ],
)
def test_spot_checks(method, dataset, ipc, mean, std):
    fig = published(method, dataset, ipc)
    assert fig is not None
    assert (fig["mean"], fig["std"]) == (mean, std)
    assert set(fig) == {"mean", "std", "source", "status", "note"}


def test_lookup_normalises_names_and_returns_none_without_a_figure():
    assert published("DSA", "FashionMNIST", 10)["mean"] == 84.6
    assert published("dc", "cifar100", 50) is None  # row with status N
    assert published("dm", "fashion-mnist", 10) is None  # N: not in the DM table
    assert published("dc", "cifar10", 7) is None  # no row at all
    assert published("dc", "cifar10", 10, model="alexnet") is None


def test_the_six_siamese_ablation_rows():
    expected = {
        "none|none|none": 45.5, "none|none|As*": 46.9, "AT|none|As*": 42.8,
        "none|As|As*": 44.6, "AT|As|As*": 44.5, "Aw|Aw|As*": 49.1,
    }
    rows = [r for r in ROWS if r["method"] == "dsa-ablation"]
    assert {r["setting"]: r["mean"] for r in rows} == expected
    assert all(r["dataset"] == "cifar10" and r["ipc"] == 10 for r in rows)
    assert published("dsa-ablation", "cifar10", 10, setting="Aw|Aw|As*")["std"] == 0.6
    assert published("dsa-ablation", "cifar10", 10) is None  # the setting is part of the key


def test_cross_architecture_rows_use_the_evaluation_model():
    fig = published("dm", "cifar10", 50, model="alexnetbn", setting="cross:alexnetbn")
    assert (fig["mean"], fig["std"]) == (60.1, 0.5)
    cross = [r for r in ROWS if r["setting"].startswith("cross:")]
    assert len(cross) == 12 and all(r["setting"] == "cross:" + r["model"] for r in cross)


def test_ld_is_an_alexnet_figure():
    assert published("ld", "cifar10", 10) is None
    assert published("ld", "cifar10", 10, model="alexnet")["mean"] == 38.3


def test_parse_rejects_bad_files():
    with pytest.raises(ValueError, match="columns"):
        _parse("method,dataset\n")
    bad = ",".join(COLUMNS) + "\ndc,mnist,ten,convnet,,1.0,,src,M,\n"
    with pytest.raises(ValueError, match="line 2"):
        _parse(bad)


def test_load_published_returns_copies():
    a = load_published()
    a[0]["mean"] = -1.0
    assert load_published()[0]["mean"] != -1.0


def test_sources_cite_papers_and_tables_not_internal_references():
    for r in ROWS:
        assert "[" not in r["source"] and "code-search" not in r["source"] and "index file" not in r["source"], r
        assert re.search(r"\b(Table|Fig\.|table|readme|ablation)\b", r["source"]), r  # names where the figure is
