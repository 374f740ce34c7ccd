"""Multi-formation (``--factor``): stored images decode into factor**2 training images each."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from condensation.config import ConfigError, DistillConfig
from condensation.distill import distill, random_real_set
from condensation.evaluate import evaluate_synset, protocol_for
from condensation.formation import check_factor, decode, decode_labels, encode
from condensation.methods.base import RealPool, SyntheticImages
from condensation.synset import SyntheticSet, SynsetFormatError
from condensation.rng import make_generator

TINY = dict(ipc=1, model="convnetw32", batch_real=16, num_eval=1, eval_epochs=5, compile="off", baseline=False)
quiet = dict(progress=False, log=lambda msg: None)


# ---------------------------------------------------------------------------- decode / encode
def test_decode_cuts_tiles_row_by_row_and_enlarges_each():
    stored = torch.zeros(1, 1, 4, 6)
    for k, (r, c) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        stored[0, 0, 2 * r : 2 * r + 2, 3 * c : 3 * c + 3] = k + 1  # constant tiles 1, 2 / 3, 4
    out = decode(stored, 2)
    assert out.shape == (4, 1, 4, 6)
    for k in range(4):
        assert torch.equal(out[k], torch.full((1, 4, 6), float(k + 1)))  # a constant tile stays constant


def test_decode_is_bilinear_enlargement_of_each_tile():
    g = torch.Generator().manual_seed(0)
    stored = torch.randn(2, 3, 8, 8, generator=g)
    out = decode(stored, 2)
    tile = stored[1:2, :, 4:8, 0:4]  # image 1, tile row 1, column 0 -> training image 1*4 + 2
    expected = F.interpolate(tile, size=(8, 8), mode="bilinear", align_corners=False)
    torch.testing.assert_close(out[6:7], expected, rtol=0, atol=0)
    assert decode(stored, 1) is stored
    assert decode_labels(torch.tensor([3, 5]), 2).tolist() == [3, 3, 3, 3, 5, 5, 5, 5]


def test_encode_lays_averaged_images_out_as_tiles_and_round_trips_constant_images():
    g = torch.Generator().manual_seed(1)
    images = torch.rand(8, 1, 6, 6, generator=g)
    stored = encode(images, 2)
    assert stored.shape == (2, 1, 6, 6)
    small = F.avg_pool2d(images, 2)
    torch.testing.assert_close(stored[1, :, 0:3, 3:6], small[5])  # group 1, tile (0, 1) = image 4 + 1
    torch.testing.assert_close(stored[0, :, 3:6, 3:6], small[3])
    flat = torch.arange(8.0).view(8, 1, 1, 1).expand(8, 1, 6, 6)
    assert torch.equal(decode(encode(flat, 2), 2), flat)  # constant images survive the round trip
    with pytest.raises(ValueError, match="groups"):
        encode(images[:7], 2)


def test_decoding_carries_gradients_to_every_stored_pixel():
    stored = torch.randn(2, 1, 8, 8, requires_grad=True)
    weights = torch.randn(8, 1, 8, 8)
    (decode(stored, 2) * weights).sum().backward()
    assert (stored.grad != 0).all()


def test_factor_must_divide_the_image_sides():
    check_factor(4, (28, 28))
    for bad, match in ((3, "does not divide"), (0, "positive"), (2.0, "positive")):
        with pytest.raises(ValueError, match=match):
            check_factor(bad, (28, 28))


# ---------------------------------------------------------------------------- the set and its file
def _set(factor: int) -> SyntheticSet:
    images = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    return SyntheticSet(images, torch.arange(3).repeat_interleave(2), (0.5,), (0.25,), "toy", ("a", "b", "c"), 2,
                        {"method": "dsa"}, factor=factor)


def test_a_set_keeps_its_factor_in_the_file_and_decodes_for_training(tmp_path):
    s = _set(2)
    loaded = SyntheticSet.load(s.save(tmp_path / "s.pt"))
    assert loaded.factor == 2 and torch.equal(loaded.images, s.images)
    d = loaded.decoded()
    assert (d.factor, d.ipc, tuple(d.images.shape)) == (1, 8, (24, 1, 8, 8))
    assert d.labels.tolist() == [0] * 8 + [1] * 8 + [2] * 8
    assert torch.equal(d.images, decode(s.images, 2))
    plain = _set(1)
    assert plain.decoded() is plain


def test_a_file_without_factor_loads_as_a_plain_set_and_a_bad_factor_is_refused(tmp_path):
    d = _set(1).to_dict()
    del d["factor"]  # written before multi-formation
    torch.save(d, tmp_path / "old.pt")
    assert SyntheticSet.load(tmp_path / "old.pt").factor == 1
    torch.save({**d, "factor": 3}, tmp_path / "bad.pt")
    with pytest.raises(SynsetFormatError, match="bad.pt: factor 3 does not divide the 8x8 images"):
        SyntheticSet.load(tmp_path / "bad.pt")
    torch.save({**d, "factor": "two"}, tmp_path / "text.pt")
    with pytest.raises(SynsetFormatError, match="text.pt: factor must be an integer, got 'two'"):
        SyntheticSet.load(tmp_path / "text.pt")


def test_evaluating_a_multiformation_set_trains_on_its_decoded_images(toy_dataset):
    pool = RealPool(toy_dataset.train.images, toy_dataset.train.labels, 3, toy_dataset.normalize)
    s = random_real_set(pool, 1, 0, toy_dataset, factor=2)
    protocol = dataclasses.replace(protocol_for("dsa", "toy"), epochs=5)
    test = toy_dataset.test

    def accuracy(synset):
        return evaluate_synset(synset, test.images, test.labels, toy_dataset.normalize, models=["convnetw32"],
                               num_eval=2, protocol=protocol, seed=3)["convnetw32"]["runs"]

    assert accuracy(s) == accuracy(s.decoded())
    assert accuracy(s) != accuracy(dataclasses.replace(s, factor=1))  # the stored images alone train differently


# ---------------------------------------------------------------------------- condensation
def test_synthetic_images_expose_decoded_images_and_step_the_stored_ones():
    images = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    syn = SyntheticImages(images, 1, 3, lr=0.1, momentum=0.0, factor=2)
    assert syn.of_class(1).shape == (4, 1, 8, 8)
    torch.testing.assert_close(syn.of_class(1), decode(images[1:2], 2))
    train_images, labels = syn.training_set()
    assert train_images.shape == (12, 1, 8, 8) and labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    syn.step(lambda c, x: (x ** 2).sum() if c == 1 else x.sum() * 0)
    moved = (syn.images.detach() != images).flatten(1).any(1).tolist()
    assert moved == [False, True, False]  # only class 1's stored image moved


def test_a_real_start_shrinks_factor_squared_real_images_into_each_stored_image(toy_dataset):
    run = distill(DistillConfig(iterations=0, factor=2, **TINY), dataset=toy_dataset, **quiet)
    pool = RealPool(toy_dataset.train.images, toy_dataset.train.labels, 3, toy_dataset.normalize)
    real, _ = pool.balanced(4, make_generator(0, "init"))
    assert run.synset.factor == 2 and run.synset.images.shape == (3, 1, 16, 16)
    torch.testing.assert_close(run.synset.images, encode(real, 2).cpu())


@pytest.mark.parametrize("method", ["dsa", "dm"])
def test_a_multiformation_run_learns_the_stored_images_and_is_reproducible(toy_dataset, tmp_path, method):
    config = DistillConfig(iterations=2, factor=2, method=method, **TINY)
    a = distill(config, tmp_path / "a", dataset=toy_dataset, **quiet)
    b = distill(config, dataset=toy_dataset, **quiet)
    start = distill(dataclasses.replace(config, iterations=0), dataset=toy_dataset, **quiet)
    assert torch.equal(a.synset.images, b.synset.images)
    assert not torch.equal(a.synset.images, start.synset.images)
    assert SyntheticSet.load(tmp_path / "a" / "synset.pt").factor == 2
    assert set(a.accuracy) == {"convnetw32"} and 0 <= a.accuracy["convnetw32"]["mean"] <= 1


def test_factor_one_is_the_plain_run_bit_for_bit(toy_dataset):
    plain = distill(DistillConfig(iterations=2, **TINY), dataset=toy_dataset, **quiet)
    one = distill(DistillConfig(iterations=2, factor=1, **TINY), dataset=toy_dataset, **quiet)
    assert torch.equal(plain.synset.images, one.synset.images)


def test_bad_factors_are_refused_with_one_line_errors(toy_dataset, tmp_path):
    with pytest.raises(ConfigError, match="--factor: factor 3 does not divide the 16x16 images"):
        distill(DistillConfig(iterations=1, factor=3, **TINY), dataset=toy_dataset, **quiet)
    with pytest.raises(ConfigError, match="factor must be a positive integer"):
        distill(DistillConfig(iterations=1, factor=0, **TINY), dataset=toy_dataset, **quiet)
    # the toy set has 60 images per class: ipc 4 x 16 tiles would need 64
    with pytest.raises(ValueError, match=r"--ipc 4 with --factor 4 \(64 images\) is more than"):
        distill(DistillConfig(iterations=1, factor=4, **{**TINY, "ipc": 4}), dataset=toy_dataset, **quiet)
    distill(DistillConfig(iterations=1, num_eval=0, **{k: v for k, v in TINY.items() if k != "num_eval"}),
            tmp_path, dataset=toy_dataset, **quiet)
    from condensation.distill import RunDirError

    with pytest.raises(RunDirError, match="factor"):
        distill(DistillConfig(iterations=2, factor=2, num_eval=0, **{k: v for k, v in TINY.items() if k != "num_eval"}),
                tmp_path, resume=True, dataset=toy_dataset, **quiet)


def test_foreign_readers_keep_the_factor_and_exports_for_other_tools_are_decoded(tmp_path):
    from condensation.formats import export_set, load_sets

    s = _set(2)
    [ours] = load_sets(s.save(tmp_path / "s.pt"))  # what condense evaluate / show read
    assert ours.factor == 2 and torch.equal(ours.images, s.images)
    kept = export_set(s, "synset", tmp_path / "copy.pt")
    assert SyntheticSet.load(kept).factor == 2
    torch.save({**s.to_dict(), "factor": 0}, tmp_path / "zero.pt")
    with pytest.raises(SynsetFormatError, match="zero.pt: factor must be a positive integer, got 0"):
        load_sets(tmp_path / "zero.pt")  # refused as SyntheticSet.load refuses it, not read as 1
    [npz] = load_sets(export_set(s, "npz", tmp_path / "s.npz"))
    assert npz.factor == 1 and len(npz) == 24
    torch.testing.assert_close(npz.images, s.decoded().images)
