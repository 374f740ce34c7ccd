"""Decoders of the official dataset formats and of custom image folders / npz files.

Each reader turns files into ``RawData`` (uint8 N x C x H x W images, int64 labels) or raises
``DatasetCorruptError`` naming the file and what is wrong with it.
"""

from ._common import RawData
from .cifar import read_cifar_archive, read_cifar_folder
from .idx import IDX_ROLES, IdxChecksum, read_idx, read_idx_dataset
from .imagefolder import DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION, read_image_folder
from .npz import read_npz
from .svhn import read_svhn, read_svhn_mat
from .tinyimagenet import read_tinyimagenet_pt, read_tinyimagenet_tree

__all__ = [
    "RawData",
    "IDX_ROLES",
    "IdxChecksum",
    "read_idx",
    "read_idx_dataset",
    "read_cifar_folder",
    "read_cifar_archive",
    "read_svhn",
    "read_svhn_mat",
    "read_tinyimagenet_pt",
    "read_tinyimagenet_tree",
    "read_image_folder",
    "read_npz",
    "DEFAULT_TEST_FRACTION",
    "DEFAULT_SPLIT_SEED",
]
