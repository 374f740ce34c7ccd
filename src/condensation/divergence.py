"""When a run has diverged, and what it says then.

After every iteration the loop stops the run (``DivergenceError``: one message naming the
iteration and the likely cause, the last good checkpoint and ``synset.pt`` kept, a non-zero exit
from the CLI) if

* the loss or a synthetic image value is NaN or infinite, or
* a synthetic image value lies far outside the data's range: its magnitude is more than
  ``RANGE_FACTOR`` (1000) times the largest magnitude a real image takes in the normalised space
  the images live in. A pixel p in [0, 1] of a channel with mean m and std s is (p - m) / s, so a
  real image stays within ``max(m, 1 - m) / s`` (2.8 for MNIST, 2.0 for CIFAR-10); the limit is
  1000 times that. No network has seen anything like such images, and a learning rate far too high
  gets there in an iteration or two while every value is still finite (``--lr-img 1e12`` on MNIST
  with DSA: 3.9e12). The runs of every preset stay within a few times the data's range.

The check costs no host synchronisation of its own: the loop reads the images' largest magnitude
in the same ``.tolist()`` as the loss, once per iteration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from .errors import DivergenceError

__all__ = ["RANGE_FACTOR", "data_bound", "image_limit", "check_iteration", "DivergenceError"]

RANGE_FACTOR = 1000.0


def data_bound(mean: Sequence[float], std: Sequence[float]) -> float:
    """The largest magnitude a real image (pixels in [0, 1]) takes after normalisation."""
    return max(max(abs(m), abs(1.0 - m)) / s for m, s in zip(mean, std))


def image_limit(mean: Sequence[float], std: Sequence[float]) -> float:
    """The largest magnitude a synthetic image value may reach before the run counts as diverged."""
    return RANGE_FACTOR * data_bound(mean, std)


def check_iteration(iteration: int, loss: float, peak: float, limit: float, lr_img: float, last_saved: int,
                    run_path: Path | None) -> None:
    """Raise ``DivergenceError`` if iteration ``iteration`` (1-based, just finished) diverged:
    ``loss`` or ``peak`` (the images' largest magnitude) is not finite, or ``peak`` > ``limit``."""
    if math.isfinite(loss) and math.isfinite(peak) and peak <= limit:
        return
    if not math.isfinite(loss):
        what = f"the loss became {'inf' if math.isinf(loss) else 'nan'}"
    elif not math.isfinite(peak):
        what = "the synthetic images became nan/inf"
    else:
        what = (f"the synthetic images reached magnitude {peak:.3g}, far outside the data's range (more than "
                f"{RANGE_FACTOR:g} x the {limit / RANGE_FACTOR:.3g} a real image reaches in the normalised space)")
    kept = (f"; the last good checkpoint (iteration {last_saved}) and synset.pt in {run_path} are kept"
            if run_path is not None and last_saved > 0 else "")
    raise DivergenceError(
        f"diverged at iteration {iteration}: {what}. Likely cause: the image learning rate --lr-img {lr_img:g} is "
        f"too high for this setting (try {lr_img / 10:g}){kept}"
    )
