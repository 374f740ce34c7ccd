"""Image folders at a chosen resolution: exact resize + centre crop, the name/spec/cache key, --resolution."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from condensation.cli import build_parser
from condensation.cli.distill import config_from_args
from condensation.data import get_spec, load_dataset
from condensation.data.readers._decode import Target, _pixels, fit_square
from condensation.data.specs import custom_name, parse_name, resolution_of, with_resolution


def bands(vertical: bool = False) -> np.ndarray:
    """A 4 x 16 gray image: 255 | 100 (columns 4..11) | 0, or its transpose (16 x 4)."""
    img = np.zeros((4, 16), np.uint8)
    img[:, :4], img[:, 4:12] = 255, 100
    return img.T.copy() if vertical else img


@pytest.mark.parametrize("vertical", [False, True])
def test_shorter_side_resized_and_centre_cropped(vertical):
    # the centre 4 x 4 square (columns/rows 6..9) shrunk to 2 x 2: the bilinear filter's reach
    # (2 pixels each side when halving) stays inside the 100 band, so every pixel is exactly 100;
    # a crop at the edge would see 255 or 0
    out = np.asarray(fit_square(Image.fromarray(bands(vertical), "L"), 2))
    assert out.shape == (2, 2) and (out == 100).all()


def test_upscale_is_bilinear_and_same_size_is_untouched():
    two = Image.fromarray(np.array([[0, 200], [0, 200]], np.uint8), "L")
    out = np.asarray(fit_square(two, 4))
    assert out.tolist() == [[0, 50, 150, 200]] * 4  # pixel centres at 1/4 and 3/4 between the two columns
    pixels = np.random.default_rng(0).integers(0, 256, (5, 5, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(fit_square(Image.fromarray(pixels), 5)), pixels)


def test_large_jpeg_decoded_at_reduced_scale(tmp_path):
    path = tmp_path / "big.jpg"
    Image.new("RGB", (512, 384), (30, 120, 200)).save(path, quality=95)
    full = np.asarray(Image.open(path).convert("RGB"))
    out = _pixels(str(path), Target("RGB", (16, 16), square=True))  # libjpeg at 1/8 scale, then resized
    assert out.shape == (3, 16, 16)
    assert np.abs(out.astype(int) - full[0, 0].astype(int)[:, None, None]).max() <= 1


def test_imagefolder_at_a_resolution(tmp_path, data_env):
    for cls, vertical in (("wide", False), ("tall", True)):
        (tmp_path / cls).mkdir()
        for k in range(3):
            Image.fromarray(bands(vertical), "L").save(tmp_path / cls / f"{k}.png")
    ds = load_dataset(f"imagefolder:{tmp_path}@2")
    assert ds.spec.name == f"imagefolder:{tmp_path.resolve()}@2" and ds.spec.image_size == (2, 2) and ds.spec.channels == 1
    assert (ds.train.images == 100).all() and (ds.test.images == 100).all()
    assert ds.spec.mean == pytest.approx((100 / 255,)) and get_spec(ds.spec.name) == ds.spec
    other = load_dataset(f"imagefolder:{tmp_path}@3")  # another resolution: another dataset
    assert other.spec.image_size == (3, 3) and other.spec.name.endswith("@3")


def test_names_with_a_resolution(tmp_path):
    assert parse_name("imagefolder:/data/x@64") == ("imagefolder", Path("/data/x"))
    assert resolution_of("imagefolder:/data/x@64") == 64 and resolution_of("imagefolder:/data/x") is None
    assert resolution_of("cifar10") is None
    odd = Path("/data/shots@128")  # a folder whose own name ends in @digits
    name = custom_name("imagefolder", odd)
    assert name == "imagefolder:/data/shots@128/" and parse_name(name) == ("imagefolder", odd) and resolution_of(name) is None
    assert custom_name("imagefolder", odd, 32) == "imagefolder:/data/shots@128@32"
    assert parse_name("imagefolder:/data/shots@128@32")[1] == odd
    assert with_resolution("imagefolder:/data/x@32", 64) == "imagefolder:/data/x@64"
    assert with_resolution("npz:/d.npz", None) == "npz:/d.npz"
    for bad, message in (("npz:/d.npz@64", "imagefolder:PATH only"), ("cifar10@64", "fixed size"),
                         ("imagefolder:/data/x@0", "positive")):
        with pytest.raises(ValueError, match=message):
            parse_name(bad)
    with pytest.raises(ValueError, match="needs --dataset"):
        with_resolution(None, 64)
    with pytest.raises(ValueError, match="imagefolder:PATH datasets only"):
        with_resolution("mnist", 64)


def test_resolution_flag_rewrites_the_dataset(tmp_path):
    args = build_parser().parse_args(["distill", "--dataset", f"imagefolder:{tmp_path}", "--resolution", "64"])
    assert config_from_args(args).dataset == f"imagefolder:{tmp_path.resolve()}@64"
    args = build_parser().parse_args(["distill", "--dataset", f"imagefolder:{tmp_path}"])
    assert config_from_args(args).dataset == f"imagefolder:{tmp_path}"
    args = build_parser().parse_args(["evaluate", "x.pt", "--dataset", f"imagefolder:{tmp_path}", "--resolution", "32"])
    assert args.resolution == 32
