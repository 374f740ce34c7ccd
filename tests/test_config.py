"""Presets, the per-ipc loop table and validation of settings."""

import pytest

from condensation.config import ConfigError, DistillConfig, loops_for_ipc, resolve


@pytest.mark.parametrize(
    "ipc, loops", [(1, (1, 1)), (10, (10, 50)), (20, (20, 25)), (30, (30, 20)), (40, (40, 15)), (50, (50, 10))]
)
def test_the_papers_loop_table(ipc, loops):
    assert loops_for_ipc(ipc) == loops


def test_loops_for_untabulated_ipc_follow_the_documented_rule_instead_of_exiting():
    assert loops_for_ipc(5) == (5, 50)
    assert loops_for_ipc(15) == (15, 38)  # halfway between (10, 50) and (20, 25), rounded
    assert loops_for_ipc(100) == (50, 10)
    with pytest.raises(ConfigError):
        loops_for_ipc(0)


def test_resolve_fills_the_preset_and_the_strategy():
    c = resolve(DistillConfig(preset="paper", ipc=10))
    assert (c.iterations, c.batch_real, c.num_eval) == (1000, 256, 20)
    assert (c.outer_loop, c.inner_loop) == (10, 50)
    assert c.strategy == "color_crop_cutout_flip_scale_rotate"
    assert c.eval_models == ("convnet",)


def test_the_fast_preset_is_ours_a_smaller_real_batch_and_one_final_evaluation():
    fast, paper = resolve(DistillConfig(preset="fast", ipc=10)), resolve(DistillConfig(preset="paper", ipc=10))
    assert (fast.iterations, fast.batch_real, fast.num_eval, fast.eval_every, fast.factor) == (600, 64, 5, 0, 1)
    # the papers' image step is kept: only the budget differs
    assert (fast.lr_img, fast.momentum_img, fast.optimizer_img, fast.lr_schedule) == (
        paper.lr_img, paper.momentum_img, paper.optimizer_img, paper.lr_schedule)
    assert resolve(DistillConfig(preset="fast", batch_real=128)).batch_real == 128


def test_the_fast_preset_uses_multiformation_at_ipc_1_only_and_a_flag_turns_it_off():
    fast = resolve(DistillConfig(preset="fast", ipc=1))
    assert (fast.iterations, fast.batch_real, fast.num_eval, fast.factor) == (300, 64, 5, 2)
    assert resolve(DistillConfig(preset="fast", ipc=1, factor=1)).factor == 1
    assert resolve(DistillConfig(preset="fast", ipc=2)).factor == 1
    for preset in ("paper", "quick"):
        assert resolve(DistillConfig(preset=preset, ipc=1)).factor == 1  # the papers' plain sets
    dm = resolve(DistillConfig(preset="fast", method="dm"))  # DM keeps its own budget, without multi-formation
    assert (dm.iterations, dm.batch_real, dm.num_eval, dm.lr_img, dm.factor) == (300, 256, 5, 1.0, 1)


def test_digits_get_the_strategy_without_flip_and_dc_gets_none():
    assert resolve(DistillConfig(dataset="mnist"), flip_ok=False).strategy == "color_crop_cutout_scale_rotate"
    assert resolve(DistillConfig(method="dc")).strategy is None


def test_flags_override_the_preset():
    c = resolve(DistillConfig(preset="paper", iterations=3, batch_real=7, outer_loop=2, inner_loop=0))
    assert (c.iterations, c.batch_real, c.outer_loop, c.inner_loop) == (3, 7, 2, 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "kip"}, "allowed: dsa, dc"),
        ({"init": "zeros"}, "allowed: real, noise, herding"),
        ({"preset": "huge"}, "allowed: paper, quick"),
        ({"metric": "l2"}, "allowed: ours, mse, cos"),
        ({"matching": "pairs"}, "allowed: classwise, joint"),
        ({"method": "dm", "matching": "joint"}, "--method dc or dsa"),
        ({"ipc": 0}, "ipc must be a positive integer"),
        ({"strategy": "color_blur"}, "allowed ops"),
        ({"method": "dc", "strategy": "crop"}, "--method dsa, dm and mtt only"),
        ({"lr_img": 0.0}, "lr_img must be a positive number"),
    ],
)
def test_invalid_settings_name_the_allowed_values(kwargs, message):
    with pytest.raises((ConfigError, ValueError), match=message):
        resolve(DistillConfig(**kwargs))


def test_config_round_trips_through_a_dict():
    c = resolve(DistillConfig(eval_models=("convnet", "mlp")))
    assert DistillConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ConfigError, match="unknown config key"):
        DistillConfig.from_dict({"bogus": 1})


def test_learning_rate_schedules():
    from condensation.config import lr_factor

    assert [lr_factor("constant", i, 4) for i in range(4)] == [1.0] * 4
    assert [lr_factor("step", i, 4) for i in range(4)] == [1.0, 1.0, 0.1, 0.1]
    cos = [lr_factor("cosine", i, 4) for i in range(4)]
    assert cos[0] == 1.0 and abs(cos[2] - 0.5) < 1e-12 and all(a > b for a, b in zip(cos, cos[1:]))


def test_image_optimizer_defaults_and_choices():
    c = resolve(DistillConfig())
    assert (c.optimizer_img, c.lr_schedule, c.momentum_img) == ("sgd", "constant", 0.5)
    with pytest.raises(ConfigError, match="allowed: sgd, adam"):
        resolve(DistillConfig(optimizer_img="lbfgs"))
    with pytest.raises(ConfigError, match="momentum_img"):
        resolve(DistillConfig(momentum_img=1.5))
