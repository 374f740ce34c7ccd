"""Coreset baselines (random, herding, k-center, forgetting): the public names in one place.

The selections live in ``methods.selection`` (registered as methods of kind ``select``, so
``condense coreset`` and the grids run them through the same run folder as a condensation) and
their feature network in ``methods.features``.
"""

from .methods.features import DEFAULT_FEATURE_EPOCHS, FeatureNetwork, embeddings, feature_network, train_feature_network
from .methods.selection import CORESET_METHODS, check_ipc, select_coreset

__all__ = [
    "CORESET_METHODS",
    "DEFAULT_FEATURE_EPOCHS",
    "select_coreset",
    "feature_network",
    "train_feature_network",
    "FeatureNetwork",
    "embeddings",
    "check_ipc",
]
