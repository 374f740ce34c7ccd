"""``--init-from FILE``: a run that starts from another run's set (e.g. DM, then DSA)."""

import pytest
import torch

from condensation.config import DistillConfig
from condensation.distill import distill
from condensation.errors import ConfigError

TINY = dict(model="convnetw32", batch_real=16, num_eval=0, compile="off")
quiet = dict(progress=False, log=lambda msg: None)


def test_a_run_starts_from_the_images_of_a_set_file_and_refuses_one_that_does_not_fit(toy_dataset, tmp_path):
    dm = distill(DistillConfig(method="dm", ipc=2, iterations=2, **TINY), tmp_path / "dm", dataset=toy_dataset, **quiet)
    start = str(tmp_path / "dm" / "synset.pt")
    zero = distill(DistillConfig(method="dsa", ipc=2, iterations=0, init_from=start, **TINY), dataset=toy_dataset, **quiet)
    assert torch.equal(zero.synset.images, dm.synset.images)  # iteration 0: the file's images
    on = distill(DistillConfig(method="dsa", ipc=2, iterations=1, init_from=start, **TINY), tmp_path / "dsa",
                 dataset=toy_dataset, **quiet)
    assert not torch.equal(on.synset.images, dm.synset.images) and on.config.init_from == start
    with pytest.raises(ConfigError, match="cannot start this run: it has 2 image.s. per class, the run 1"):
        distill(DistillConfig(method="dsa", ipc=1, iterations=1, init_from=start, **TINY), tmp_path / "x",
                dataset=toy_dataset, **quiet)
    assert not (tmp_path / "x").exists()
    with pytest.raises(FileNotFoundError, match="no synthetic-set file at"):
        distill(DistillConfig(method="dsa", ipc=2, iterations=1, init_from=str(tmp_path / "none.pt"), **TINY),
                dataset=toy_dataset, **quiet)
