"""The code makes the same sets as the code before the method registry (issue #26): small DC, DSA
and DM runs and coreset selections against ``fixtures/reference_sets.pt``, written by commit
43bab1d with ``fixtures/make_reference_sets.py``.

Bit for bit where this machine rounds as the one that wrote the file (its canary, a convolution
and a matrix product computed by torch alone, matches); on a CPU that rounds differently the old
code would not have made these bits either, and the comparison allows float rounding instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))

import make_reference_sets as ref  # noqa: E402

REFERENCE = torch.load(FIXTURES / "reference_sets.pt", weights_only=True)


def _same_machine() -> bool:
    now = ref.canary()
    return REFERENCE["threads"] == torch.get_num_threads() and all(
        torch.equal(now[k], REFERENCE["canary"][k]) for k in now
    )


@pytest.fixture(scope="module", autouse=True)
def reference_threads():
    """This module computes on the thread count the reference was written with (a parallel test
    run gives each worker one thread), so the bit-for-bit comparison still applies."""
    before = torch.get_num_threads()
    torch.set_num_threads(REFERENCE["threads"])
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def current(tmp_path_factory, reference_threads):
    folder = tmp_path_factory.mktemp("reference")
    return ref.run_all(ref.toy_dataset(folder), folder)


def _check(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if _same_machine():
        assert torch.equal(a, b), f"{what} differs from the reference written by the old code"
    else:
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4), f"{what} differs beyond float rounding"


@pytest.mark.parametrize("name", list(ref.RUNS))
def test_a_run_makes_the_set_the_old_code_made(current, name):
    old, new = REFERENCE["runs"][name], current["runs"][name]
    assert torch.equal(old["labels"], new["labels"])
    _check(new["images"], old["images"], f"{name}: images")
    _check(new["losses"], old["losses"], f"{name}: losses")
    for key in ("accuracy", "baseline"):
        assert old[key].keys() == new[key].keys()
        for model in old[key]:
            _check(new[key][model], old[key][model], f"{name}: {key} of {model}")


@pytest.mark.parametrize("method", ref.CORESETS)
def test_a_coreset_selects_what_the_old_code_selected(current, method):
    old, new = REFERENCE["coresets"][method], current["coresets"][method]
    assert torch.equal(old["labels"], new["labels"])
    _check(new["images"], old["images"], f"coreset {method}")
