"""The synthetic-set file contract and the run directory's crash-safe writes."""

import numpy as np
import pytest
import torch

from condensation.errors import WriteError
from condensation.runs import RunDir
from condensation.synset import SynsetFormatError, SyntheticSet
from condensation.viz import grid_image


def make_set(n_classes=3, ipc=2, c=3):
    return SyntheticSet(
        images=torch.randn(n_classes * ipc, c, 8, 8),
        labels=torch.arange(n_classes).repeat_interleave(ipc),
        mean=(0.5,) * c,
        std=(0.25,) * c,
        dataset="cifar10",
        classes=tuple(f"class{k}" for k in range(n_classes)),
        ipc=ipc,
        meta={"method": "dsa", "seed": 3},
    )


def test_file_round_trip_with_weights_only_load(tmp_path):
    s = make_set()
    path = s.save(tmp_path / "synset.pt")
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"images", "labels", "mean", "std", "dataset", "classes", "ipc", "meta", "factor"}
    assert raw["images"].dtype == torch.float32 and raw["labels"].dtype == torch.int64
    back = SyntheticSet.load(path)
    assert torch.equal(back.images, s.images) and torch.equal(back.labels, s.labels)
    assert back.classes == s.classes and back.meta == s.meta and back.mean == s.mean


def test_a_failed_save_names_the_file_not_a_temporary_one(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    target = tmp_path / "a_file" / "run" / "synset.pt"
    with pytest.raises(WriteError) as e:
        make_set().save(target)
    assert isinstance(e.value, OSError) and str(e.value) == f"cannot write {target}: Not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
    run = RunDir(tmp_path / "run")  # a run's files too: a folder where the file should be
    (tmp_path / "run" / "config.json").mkdir(parents=True)
    with pytest.raises(WriteError, match=f"^cannot write {tmp_path / 'run' / 'config.json'}: "):
        run.write_json("config.json", {})
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json"]


def test_pixels_are_denormalised_and_clipped():
    s = make_set()
    s.images[0] = 0.0  # the mean colour
    s.images[1] = 100.0
    px = s.pixels()
    assert torch.allclose(px[0], torch.full_like(px[0], 0.5))
    assert px[1].max() == 1.0 and px.min() >= 0.0


def test_bad_files_get_one_line_errors_naming_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="no synthetic-set file"):
        SyntheticSet.load(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(SynsetFormatError, match="junk.pt"):
        SyntheticSet.load(junk)
    partial = tmp_path / "partial.pt"
    torch.save({"images": torch.zeros(1, 1, 2, 2)}, partial)
    with pytest.raises(SynsetFormatError, match="missing key"):
        SyntheticSet.load(partial)


def test_shape_mismatches_are_rejected():
    with pytest.raises(SynsetFormatError):
        SyntheticSet(torch.zeros(2, 1, 4, 4), torch.zeros(3, dtype=torch.long), (0.0,), (1.0,), "x", ("a",), 1)
    with pytest.raises(SynsetFormatError, match="one per channel"):
        SyntheticSet(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.long), (0.0,), (1.0,), "x", ("a",), 1)


def test_grid_has_one_row_per_class():
    s = make_set(n_classes=4, ipc=3, c=1)
    img = grid_image(s, scale=1, pad=2, class_names=False)
    assert img.size == (3 * (8 + 2) + 2, 4 * (8 + 2) + 2)
    # the first image of class 1 sits in row 1, column 0
    expected = (s.pixels()[3, 0] * 255 + 0.5).clamp(0, 255).to(torch.uint8)
    got = torch.from_numpy(np.asarray(img.crop((2, 12, 10, 20)).convert("L")).copy())
    assert torch.equal(got, expected)


def test_metrics_survive_a_cut_line_and_truncate_after_a_checkpoint(tmp_path):
    run = RunDir(tmp_path)
    for it in range(1, 6):
        run.append_metrics({"iteration": it, "loss": float(it)})
    with open(run.metrics_path, "a") as f:
        f.write('{"iteration": 6, "lo')  # a kill in the middle of a write
    assert [r["iteration"] for r in run.read_metrics()] == [1, 2, 3, 4, 5]
    run.truncate_metrics(3)
    assert [r["iteration"] for r in run.read_metrics()] == [1, 2, 3]
