"""The divergence rule (issue #28, item 2) never stops what the presets run: every registered
condensation method, with its quick and fast presets, a few iterations on the toy data, and on the
real Fashion-MNIST when it is on this machine. The images end far inside the limit, not just under it."""

from pathlib import Path

import pytest

from condensation.config import DistillConfig
from condensation.distill import distill
from condensation.divergence import RANGE_FACTOR, image_limit
from condensation.methods import list_methods

quiet = dict(progress=False, log=lambda msg: None)
FASHION = Path("/usr/share/datasets/fashion-mnist")


def _peak_of_a_preset_run(dataset, method: str, preset: str, iterations: int) -> tuple[float, float]:
    config = DistillConfig(method=method, preset=preset, ipc=1, iterations=iterations, num_eval=0, compile="off")
    result = distill(config, dataset=dataset, **quiet)  # a DivergenceError would fail the test here
    spec = dataset.spec
    return float(result.synset.images.abs().max()), image_limit(spec.mean, spec.std)


@pytest.mark.parametrize("preset", ["quick", "fast"])
@pytest.mark.parametrize("method", list_methods("condense"))
def test_no_preset_trips_the_rule_on_the_toy_data(toy_dataset, method, preset):
    peak, limit = _peak_of_a_preset_run(toy_dataset, method, preset, iterations=4)
    assert peak < limit / RANGE_FACTOR * 10, (method, preset, peak)  # within 10x the data's range


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.is_dir(), reason="Fashion-MNIST is not in /usr/share/datasets on this machine")
@pytest.mark.parametrize("method", list_methods("condense"))
def test_no_quick_preset_trips_the_rule_on_fashion_mnist(method):
    from condensation.data import load_dataset

    dataset = load_dataset("fashion-mnist", data_dir=str(FASHION), download=False)
    peak, limit = _peak_of_a_preset_run(dataset, method, "quick", iterations=3)
    assert peak < limit / RANGE_FACTOR * 10, (method, peak)
