"""ClassSampler: determinism under a seed, class purity, distinctness, small classes, balanced order."""

import pytest
import torch

from condensation.data import ClassSampler
from condensation.rng import make_generator


@pytest.fixture
def labels():
    # 4 classes of sizes 50, 30, 7, 13, shuffled
    lab = torch.cat([torch.full((k,), c) for c, k in enumerate((50, 30, 7, 13))])
    return lab[torch.randperm(lab.numel(), generator=torch.Generator().manual_seed(5))]


def test_counts_and_index(labels):
    s = ClassSampler(labels, 5)
    assert s.counts.tolist() == [50, 30, 7, 13, 0]
    for c in range(5):
        idx = s.indices(c)
        assert (labels[idx] == c).all() and idx.tolist() == sorted(idx.tolist())


def test_same_seed_same_indices_different_seed_different(labels):
    s = ClassSampler(labels, 4)
    a = s.sample(0, 10, make_generator(0, "real"))
    b = s.sample(0, 10, make_generator(0, "real"))
    c = s.sample(0, 10, make_generator(1, "real"))
    assert torch.equal(a, b) and not torch.equal(a, c)
    g = make_generator(0, "real")
    first, second = s.sample(0, 10, g), s.sample(0, 10, g)
    assert not torch.equal(first, second)  # the stream advances


def test_draws_are_pure_and_distinct(labels):
    s = ClassSampler(labels, 4)
    g = torch.Generator().manual_seed(0)
    for c in range(4):
        idx = s.sample(c, 6, g)
        assert idx.dtype == torch.int64 and idx.numel() == 6
        assert (labels[idx] == c).all()
        assert idx.unique().numel() == 6


def test_more_than_the_class_returns_all_shuffled(labels):
    s = ClassSampler(labels, 4)
    idx = s.sample(2, 100, torch.Generator().manual_seed(0))
    assert sorted(idx.tolist()) == s.indices(2).tolist()
    assert idx.tolist() != s.indices(2).tolist()  # shuffled (7! orders; this seed is not the identity)
    assert s.sample(2, 0, torch.Generator()).numel() == 0


def test_balanced_is_class_major(labels):
    s = ClassSampler(labels, 4)
    idx = s.sample_balanced(5, torch.Generator().manual_seed(3))
    assert idx.shape == (20,)
    assert labels[idx].tolist() == [c for c in range(4) for _ in range(5)]
    assert idx.unique().numel() == 20
    again = s.sample_balanced(5, torch.Generator().manual_seed(3))
    assert torch.equal(idx, again)
    assert not torch.equal(idx, s.sample_balanced(5, torch.Generator().manual_seed(4)))


def test_balanced_refuses_small_classes(labels):
    s = ClassSampler(labels, 4)
    with pytest.raises(ValueError, match="class 2 has 7"):
        s.sample_balanced(8, torch.Generator())
    with pytest.raises(ValueError, match="class 4 has 0"):
        ClassSampler(labels, 5).sample_balanced(1, torch.Generator())


def test_bad_arguments(labels):
    with pytest.raises(ValueError):
        ClassSampler(labels, 3)  # label 3 out of range
    s = ClassSampler(labels, 4)
    with pytest.raises(IndexError):
        s.sample(4, 1, torch.Generator())
    with pytest.raises(ValueError):
        s.sample(0, -1, torch.Generator())
