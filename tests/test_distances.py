"""Gradient distances: exact values on small inputs."""

import pytest
import torch

from condensation.methods.distances import gradient_distance


def test_ours_is_a_sum_of_row_cosine_distances_and_ignores_rank_one_tensors():
    g_real = [torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([5.0, 5.0])]
    g_syn = [torch.tensor([[1.0, 0.0], [3.0, 0.0]]), torch.tensor([-1.0, 7.0])]
    # row 0: identical direction -> 1 - 1/(1+1e-6); row 1: orthogonal -> 1; the bias is ignored
    expected = (1 - 1 / (1 + 1e-6)) + 1.0
    assert gradient_distance(g_syn, g_real, "ours").item() == pytest.approx(expected, abs=1e-6)


def test_ours_reshapes_conv_weights_per_output_channel():
    real = torch.randn(4, 3, 3, 3)
    syn = real.clone()
    syn[0] = -syn[0]  # one output channel reversed: distance 2 for that row, ~0 for the others
    d = gradient_distance([syn], [real], "ours")
    assert d.item() == pytest.approx(2.0, abs=1e-4)


def test_ours_zero_rows_contribute_one():
    assert gradient_distance([torch.zeros(3, 5)], [torch.randn(3, 5)], "ours").item() == pytest.approx(3.0)


def test_layernorm_weight_rank_three_is_rows_per_channel():
    real = torch.randn(2, 4, 4)
    assert gradient_distance([real], [real], "ours").item() == pytest.approx(0.0, abs=1e-5)
    assert gradient_distance([-real], [real], "ours").item() == pytest.approx(4.0, abs=1e-4)


def test_mse_and_cos_use_all_tensors_including_biases():
    g_real = [torch.ones(2, 2), torch.tensor([1.0, 1.0])]
    g_syn = [torch.zeros(2, 2), torch.tensor([1.0, 3.0])]
    assert gradient_distance(g_syn, g_real, "mse").item() == pytest.approx(4 * 1.0 + 4.0)
    s = torch.tensor([0, 0, 0, 0, 1.0, 3.0])
    r = torch.ones(6)
    expected = 1 - (s @ r) / (s.norm() * r.norm() + 1e-6)
    assert gradient_distance(g_syn, g_real, "cos").item() == pytest.approx(expected.item(), abs=1e-6)


def test_distance_is_differentiable_wrt_the_synthetic_gradient():
    syn = torch.randn(3, 4, requires_grad=True)
    gradient_distance([syn], [torch.randn(3, 4)], "ours").backward()
    assert syn.grad is not None and syn.grad.abs().sum() > 0


def test_unknown_metric_names_the_allowed_ones():
    with pytest.raises(ValueError, match="allowed: ours, mse, cos"):
        gradient_distance([torch.ones(2, 2)], [torch.ones(2, 2)], "l1")
