"""condensation: learn tiny synthetic training sets (DC, DSA; DM and coresets to come).

The public API, re-exported::

    from condensation import DistillConfig, distill, SyntheticSet, evaluate_synset, protocol_for
    from condensation import load_dataset, get_spec, build_model, DSA
"""

from ._version import __version__  # noqa: E402

from .augment import DSA, ClassicAugment, DSAHyperParams  # noqa: E402
from .config import DistillConfig, loops_for_ipc  # noqa: E402
from .data import Dataset, DatasetSpec, get_spec, list_datasets, load_dataset  # noqa: E402
from .distill import DistillResult, distill, random_real_set  # noqa: E402
from .evaluate import EvalProtocol, evaluate_synset, protocol_for  # noqa: E402
from .models import build_model, list_models  # noqa: E402
from .synset import SyntheticSet  # noqa: E402
from .viz import save_grid  # noqa: E402

__all__ = [
    "__version__",
    "DSA",
    "ClassicAugment",
    "DSAHyperParams",
    "DistillConfig",
    "loops_for_ipc",
    "Dataset",
    "DatasetSpec",
    "get_spec",
    "list_datasets",
    "load_dataset",
    "DistillResult",
    "distill",
    "random_real_set",
    "EvalProtocol",
    "evaluate_synset",
    "protocol_for",
    "build_model",
    "list_models",
    "SyntheticSet",
    "save_grid",
]
