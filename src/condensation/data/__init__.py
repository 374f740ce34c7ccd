"""Datasets for condensation: specs and constants, file readers, discovery/download, class sampling.

    spec = get_spec("fashion-mnist")                 # shape, classes, mean/std (reference §6)
    ds = load_dataset("fashion-mnist")               # uint8 N x C x H x W train/test splits
    x = ds.normalize(ds.train.images[:256])           # float32, (x/255 - mean)/std
    sampler = ClassSampler(ds.train.labels, spec.num_classes)
    idx = sampler.sample(3, 64, generator)           # 64 distinct images of class 3
"""

from .dataset import Dataset, Split, load_dataset
from .discovery import locate_dataset, missing_hint
from .errors import DataError, DatasetCorruptError, DatasetNotFoundError
from .sampler import ClassSampler
from .lookup import get_spec
from .specs import DatasetSpec, list_datasets

__all__ = [
    "DatasetSpec",
    "get_spec",
    "list_datasets",
    "load_dataset",
    "Dataset",
    "Split",
    "ClassSampler",
    "DataError",
    "DatasetNotFoundError",
    "DatasetCorruptError",
    "locate_dataset",
    "missing_hint",
]
