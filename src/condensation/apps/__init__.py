"""Applications of a condensed set: a memory for class-incremental learning and a proxy for
architecture search.

    from condensation.apps import run_continual, run_nas
    run_continual("fashion-mnist", steps=5, ipc=10, memories=("dm", "herding", "random"), out="runs/cl")
    run_nas("fashion-mnist", ipc=10, space="small", out="runs/nas")
"""

from .continual import ContinualResult, class_steps, memory_methods, run_continual
from .nas import NAS_SPACES, Architecture, NasResult, average_ranks, candidates, run_nas, spearman

__all__ = [
    "run_continual",
    "ContinualResult",
    "class_steps",
    "memory_methods",
    "run_nas",
    "NasResult",
    "Architecture",
    "candidates",
    "NAS_SPACES",
    "spearman",
    "average_ranks",
]
