"""Differentiable Siamese Augmentation and the classic DC augmentation."""

import math

import pytest
import torch

from condensation.augment import (
    DEFAULT_STRATEGY,
    DIGIT_STRATEGY,
    DSA,
    OPS,
    AugmentParams,
    ClassicAugment,
    default_strategy,
    parse_strategy,
)
from condensation.rng import make_generator


def params_for(op: str, batch: int, size=(6, 6), **values) -> AugmentParams:
    """Hand-made parameters for one op."""
    p = AugmentParams(batch=batch, image_size=size, ops=(op,))
    p.values[op] = {k: torch.as_tensor(v) for k, v in values.items()}
    return p


def ramp(n=2, c=1, h=6, w=6, dtype=torch.float32):
    """Distinct values everywhere: x[n, c, i, j] = 1000 n + 100 c + 10 i + j + 1."""
    n_, c_, i, j = torch.meshgrid(torch.arange(n), torch.arange(c), torch.arange(h), torch.arange(w), indexing="ij")
    return (1000 * n_ + 100 * c_ + 10 * i + j + 1).to(dtype)


# ---------------------------------------------------------------- strategies
def test_parse_strategy_tokens_and_none():
    assert parse_strategy(DEFAULT_STRATEGY) == OPS
    assert parse_strategy("none") == () and parse_strategy("") == () and parse_strategy(None) == ()
    assert parse_strategy("Color_Crop") == ("color", "crop")


def test_parse_strategy_rejects_unknown_op_and_names_the_allowed_ones():
    with pytest.raises(ValueError, match="allowed ops: color, crop, cutout, flip, scale, rotate"):
        parse_strategy("color_jitter")


def test_default_strategy_drops_flip_for_digits():
    assert default_strategy(flip_ok=True) == DEFAULT_STRATEGY
    assert default_strategy(flip_ok=False) == DIGIT_STRATEGY
    assert "flip" not in parse_strategy(DIGIT_STRATEGY)


def test_bad_mode_is_rejected():
    with pytest.raises(ValueError, match="allowed: single, all"):
        DSA(mode="S")


# ---------------------------------------------------------------- exact effects of each op
def test_flip_reverses_columns_only_for_flipped_images():
    x = ramp(n=2)
    out = DSA("flip").apply(x, params_for("flip", 2, flip=[True, False]))
    assert torch.equal(out[0], x[0].flip(-1))
    assert torch.equal(out[1], x[1])


def test_crop_shifts_by_the_sampled_offset_with_zero_fill():
    x = ramp(n=1)
    out = DSA("crop").apply(x, params_for("crop", 1, shift_h=[2], shift_w=[-1]))
    expected = torch.zeros_like(x)
    # output[i, j] = x[i + 2, j - 1]
    expected[0, 0, 0:4, 1:6] = x[0, 0, 2:6, 0:5]
    assert torch.equal(out, expected)


def test_cutout_zeroes_a_square_of_the_configured_side():
    x = torch.ones(1, 2, 8, 8)
    out = DSA("cutout").apply(x, params_for("cutout", 1, size=(8, 8), centre_h=[4], centre_w=[4]))
    zeroed = out[0, 0] == 0
    assert zeroed.sum() == 16  # side round(0.5 * 8) = 4, fully inside
    assert zeroed[2:6, 2:6].all()
    assert torch.equal(out[0, 0], out[0, 1])  # same square on every channel


def test_cutout_is_clipped_at_the_border():
    x = torch.ones(1, 1, 8, 8)
    out = DSA("cutout").apply(x, params_for("cutout", 1, size=(8, 8), centre_h=[0], centre_w=[8]))
    zeroed = out[0, 0] == 0
    assert zeroed.sum() == 4  # rows 0-1 (of -2..1), columns 6-7 (of 6..9)
    assert zeroed[0:2, 6:8].all()


def test_cutout_side_follows_the_image_size():
    # 28 px -> side round(14.0) = 14; 32 px -> 16
    for side, expected in ((28, 14), (32, 16)):
        x = torch.ones(1, 1, side, side)
        p = params_for("cutout", 1, size=(side, side), centre_h=[side // 2], centre_w=[side // 2])
        assert (DSA("cutout").apply(x, p) == 0).sum() == expected * expected


def test_identity_parameters_give_the_input_back():
    x = torch.randn(3, 3, 8, 8)
    dsa = DSA(DEFAULT_STRATEGY, mode="all")
    p = AugmentParams(batch=1, image_size=(8, 8), ops=OPS)
    p.values = {
        "color": {"brightness": torch.tensor([0.5]), "saturation": torch.tensor([0.5]), "contrast": torch.tensor([0.5])},
        "crop": {"shift_h": torch.tensor([0]), "shift_w": torch.tensor([0])},
        "cutout": {"centre_h": torch.tensor([-100]), "centre_w": torch.tensor([-100])},
        "flip": {"flip": torch.tensor([False])},
        "scale": {"sx": torch.tensor([1.0]), "sy": torch.tensor([1.0])},
        "rotate": {"angle": torch.tensor([0.0])},
    }
    torch.testing.assert_close(dsa.apply(x, p), x, atol=1e-5, rtol=0)


def test_color_formulas():
    x = torch.randn(2, 3, 4, 4)
    # brightness u=1 -> +0.5; saturation u=0.25 -> factor 0.5; contrast u=0 -> factor 0.5
    p = params_for("color", 1, size=(4, 4), brightness=[1.0], saturation=[0.25], contrast=[0.0])
    y = x + 0.5
    m = y.mean(1, keepdim=True)
    y = (y - m) * 0.5 + m
    m = y.mean((1, 2, 3), keepdim=True)
    y = (y - m) * 0.5 + m
    torch.testing.assert_close(DSA("color").apply(x, p), y)


def test_saturation_is_a_no_op_on_one_channel():
    x = torch.randn(2, 1, 4, 4)
    p = params_for("color", 1, size=(4, 4), brightness=[0.5], saturation=[0.9], contrast=[0.5])
    torch.testing.assert_close(DSA("color").apply(x, p), x)


def test_rotation_by_90_degrees_permutes_pixels():
    x = ramp(n=1, h=5, w=5)
    p = params_for("rotate", 1, size=(5, 5), angle=[math.pi / 2])
    out = DSA("rotate").apply(x, p)
    # with align_corners=True the pixel grid maps onto itself: a quarter turn is exact
    assert torch.allclose(out, torch.rot90(x, k=1, dims=(2, 3)), atol=1e-3) or torch.allclose(
        out, torch.rot90(x, k=-1, dims=(2, 3)), atol=1e-3
    )


def test_scale_by_two_magnifies_the_centre():
    x = ramp(n=1, h=5, w=5)
    p = params_for("scale", 1, size=(5, 5), sx=[0.5], sy=[0.5])
    out = DSA("scale").apply(x, p)
    # sampling grid covers the central half: the centre pixel is unchanged, corners move inward
    assert out[0, 0, 2, 2] == pytest.approx(x[0, 0, 2, 2].item(), abs=1e-4)
    assert out[0, 0, 0, 0] == pytest.approx(x[0, 0, 1, 1].item(), abs=1e-4)


# ---------------------------------------------------------------- sampling ranges
def test_sampled_ranges_match_the_paper():
    g = make_generator(0)
    dsa = DSA(DEFAULT_STRATEGY, mode="all")
    p = dsa.sample(4000, (32, 32), g).values
    assert p["crop"]["shift_h"].min() == -4 and p["crop"]["shift_h"].max() == 4
    assert p["cutout"]["centre_h"].min() == 0 and p["cutout"]["centre_h"].max() == 32  # side 16 is even
    assert 1 / 1.2 - 1e-6 <= p["scale"]["sx"].min() and p["scale"]["sx"].max() <= 1.2
    assert p["rotate"]["angle"].abs().max() <= math.radians(15) + 1e-6
    assert 0.4 < p["flip"]["flip"].float().mean() < 0.6
    p28 = dsa.sample(4000, (28, 28), g).values
    assert p28["cutout"]["centre_h"].max() == 28  # side 14 is even: offsets 0..28


def test_single_mode_picks_each_op_uniformly():
    g = make_generator(1)
    dsa = DSA(DEFAULT_STRATEGY, mode="single")
    picks = [dsa.sample(1, (8, 8), g).ops for _ in range(1200)]
    assert all(len(p) == 1 for p in picks)
    counts = {op: sum(p[0] == op for p in picks) for op in OPS}
    assert all(150 < c < 250 for c in counts.values()), counts


def test_all_mode_applies_every_op_in_order():
    p = DSA("flip_color_crop", mode="all").sample(3, (8, 8), make_generator(0))
    assert p.ops == ("flip", "color", "crop")


# ---------------------------------------------------------------- Siamese invariants
@pytest.mark.parametrize("mode", ["single", "all"])
@pytest.mark.parametrize("seed", range(12))
def test_siamese_applies_identical_transform_across_batch_sizes(mode, seed):
    dsa = DSA(DEFAULT_STRATEGY, mode=mode)
    real = torch.randn(64, 3, 16, 16)
    syn = real[:1].clone()
    out_real, out_syn = dsa.siamese(real, syn, generator=make_generator(seed))
    assert out_syn.shape == (1, 3, 16, 16)
    torch.testing.assert_close(out_real[:1], out_syn, rtol=0, atol=1e-6)
    # and every real image got the same transformation as a batch holding it alone
    params = dsa.sample(1, (16, 16), make_generator(seed))
    torch.testing.assert_close(dsa.apply(real[10:13], params), out_real[10:13], rtol=0, atol=1e-6)


def test_non_siamese_draws_differ_per_image():
    dsa = DSA("crop_scale_rotate", mode="all")
    x = torch.randn(1, 1, 16, 16).expand(8, 1, 16, 16).contiguous()
    out = dsa(x, make_generator(0))
    assert not torch.allclose(out[0], out[1])


def test_ipc_one_batch_works_for_every_op():
    # the authors' code crashes here on current PyTorch (self-assignment in Siamese mode)
    for op in OPS:
        dsa = DSA(op)
        a, b = dsa.siamese(torch.randn(1, 3, 8, 8), torch.randn(1, 3, 8, 8), generator=make_generator(0))
        assert a.shape == b.shape == (1, 3, 8, 8)
        assert dsa(torch.randn(1, 1, 8, 8), make_generator(0)).shape == (1, 1, 8, 8)


def test_same_seed_same_output():
    dsa = DSA(DEFAULT_STRATEGY)
    x = torch.randn(4, 3, 8, 8)
    assert torch.equal(dsa(x, make_generator(5)), dsa(x, make_generator(5)))


def test_params_for_wrong_batch_are_rejected():
    dsa = DSA("flip")
    p = dsa.sample(3, (8, 8), make_generator(0))
    with pytest.raises(ValueError, match="batch 3"):
        dsa.apply(torch.randn(4, 1, 8, 8), p)


def test_none_strategy_is_identity():
    x = torch.randn(2, 1, 4, 4)
    dsa = DSA("none")
    assert not dsa.enabled
    assert dsa(x, make_generator(0)) is x


# ---------------------------------------------------------------- differentiability
def test_gradient_reaches_the_synthetic_pixels_for_every_op():
    for op in OPS:
        syn = torch.randn(2, 3, 8, 8, requires_grad=True)
        _, out = DSA(op).siamese(torch.randn(5, 3, 8, 8), syn, generator=make_generator(3))
        (out * torch.randn_like(out)).sum().backward()
        assert syn.grad is not None and syn.grad.abs().sum() > 0, op


@pytest.mark.parametrize("op", OPS)
def test_gradcheck_float64(op):
    dsa = DSA(op)
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    params = dsa.sample(2, (5, 5), make_generator(7))
    assert torch.autograd.gradcheck(lambda t: dsa.apply(t, params), (x,))


def test_align_corners_is_explicit_and_switchable():
    from condensation.augment import DSAHyperParams

    # Scaling/rotating about the centre of a square image is the same map under both conventions;
    # on a non-square image the pixel aspect (W-1)/(H-1) vs W/H differs, so rotations differ.
    x = torch.randn(1, 1, 6, 10)
    p = params_for("rotate", 1, size=(6, 10), angle=[0.3])
    a = DSA("rotate").apply(x, p)
    b = DSA("rotate", hyper=DSAHyperParams(align_corners=False)).apply(x, p)
    assert (a - b).abs().max() > 1e-2


# ---------------------------------------------------------------- classic DC augmentation
def test_classic_crop_shifts_within_minus4_plus3_and_fills_the_batch_mean():
    aug = ClassicAugment("crop")
    x = torch.randn(64, 1, 12, 12) + 3.0
    out = aug(x, make_generator(0))
    mean = x.mean()
    for k in range(64):
        # find the shift: out[i, j] == x[i + dh, j + dw] on the interior
        found = [
            (dh, dw)
            for dh in range(-4, 5)
            for dw in range(-4, 5)
            if torch.equal(out[k, 0, 4:8, 4:8], x[k, 0, 4 + dh : 8 + dh, 4 + dw : 8 + dw])
        ]
        assert len(found) == 1 and all(-4 <= s <= 3 for s in found[0])
        dh, dw = found[0]
        if dh < 0:
            torch.testing.assert_close(out[k, 0, 0], torch.full((12,), mean.item()))


def test_classic_noise_is_small_and_scale_is_nearest_neighbour():
    g = make_generator(0)
    x = torch.randn(16, 1, 9, 9)
    assert 0 < (ClassicAugment("noise")(x, g) - x).abs().max() < 0.01
    out = ClassicAugment("scale")(x, g)
    assert out.shape == x.shape and not torch.equal(out, x)
    for k in range(16):  # nearest neighbour with zero fill creates no new values
        values = set(x[k].flatten().tolist()) | {0.0}
        assert set(out[k].flatten().tolist()) <= values


def test_classic_rotate_changes_images_and_is_seeded():
    aug = ClassicAugment("rotate")
    x = torch.randn(8, 3, 16, 16)
    a, b = aug(x, make_generator(1)), aug(x, make_generator(1))
    assert torch.equal(a, b) and not torch.allclose(a, x)


def test_classic_rejects_unknown_op():
    with pytest.raises(ValueError, match="crop, scale, rotate, noise"):
        ClassicAugment("crop_flip")
