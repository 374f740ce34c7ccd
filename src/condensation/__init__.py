"""condensation: learn tiny synthetic training sets, and evaluate them as the papers do.

Methods: gradient matching (DC), Differentiable Siamese Augmentation (DSA), distribution matching
(DM), and the coreset baselines (random, herding, k-center, forgetting), with the papers'
evaluation protocol, ablations, resumable reproduction grids and applications (continual
learning, architecture search). The command line, ``condense``, is a thin layer over this API.

A first run, a few minutes on a 2-core CPU (``ipc``, ``iterations`` and ``num_eval`` scale it up;
``preset="paper"`` is the authors' budget, hours per run)::

    import condensation
    from condensation import DistillConfig, distill

    config = DistillConfig(dataset="fashion-mnist", ipc=1, iterations=30, batch_real=64, num_eval=2, eval_epochs=300)
    result = distill(config, out="runs/fm1")      # DSA; the run folder: synset.pt, results.json, plots/, grids/, ...
    print(result.accuracy, result.baseline)        # {model: {"mean", "std", "runs"}}: fractions
    print(condensation.evaluate("runs/fm1/synset.pt", models=["convnet", "mlp"], num_eval=2, epochs=300))

``condensation.evaluate(set_or_path, ...)`` is ``condensation.evaluate_set``; ``condensation.evaluate``
is also the module of the protocol (``from condensation.evaluate import protocol_for`` as ever).

The public API, re-exported::

    DistillConfig, distill, DistillResult, random_real_set        # condense (or select) a set
    evaluate_set (= condensation.evaluate), evaluate_synset, protocol_for, EvalProtocol
    SyntheticSet, save_grid                                       # the product, its image grid
    load_dataset, get_spec, list_datasets, Dataset, DatasetSpec   # data
    build_model, list_models, DSA, ClassicAugment, DSAHyperParams, loops_for_ipc

and, from their modules: ``condensation.coreset.select_coreset``, ``condensation.formats``
(``load_sets``, ``export_set``), ``condensation.reproduce.run_reproduce``,
``condensation.apps.continual.run_continual``, ``condensation.apps.nas.run_nas``,
``condensation.methods.register_method`` (a method of your own), ``condensation.report.write_report``.
"""

import sys as _sys
import types as _types

from ._version import __version__  # noqa: E402

from .augment import DSA, ClassicAugment, DSAHyperParams  # noqa: E402
from .config import DistillConfig, loops_for_ipc  # noqa: E402
from .data import Dataset, DatasetSpec, get_spec, list_datasets, load_dataset  # noqa: E402
from .distill import DistillResult, distill, random_real_set  # noqa: E402
from .evaluate import EvalProtocol, evaluate_synset, protocol_for  # noqa: E402
from .assess import evaluate_set  # noqa: E402
from .models import build_model, list_models  # noqa: E402
from .synset import SyntheticSet  # noqa: E402
from .viz import save_grid  # noqa: E402


class _CallableModule(_types.ModuleType):
    """The module ``condensation.evaluate``, which can also be called: ``condensation.evaluate(x,
    ...)`` is ``evaluate_set(x, ...)``. Every name of the module stays importable."""

    def __call__(self, source, **kwargs):
        return evaluate_set(source, **kwargs)


_sys.modules[f"{__name__}.evaluate"].__class__ = _CallableModule

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
    "evaluate",
    "evaluate_set",
    "evaluate_synset",
    "protocol_for",
    "build_model",
    "list_models",
    "SyntheticSet",
    "save_grid",
]
