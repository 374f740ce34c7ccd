"""Where each built-in dataset's files come from and how they may be laid out on disk.

A ``Source`` lists the folder names the dataset is commonly kept under, the accepted on-disk
``Layout``s (preferred first; each a set of required files and the reader that decodes them) and
the official downloads with their checksums.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .env import cache_dir
from .readers import (
    IDX_ROLES,
    IdxChecksum,
    RawData,
    read_cifar_archive,
    read_cifar_folder,
    read_idx_dataset,
    read_svhn,
    read_tinyimagenet_pt,
    read_tinyimagenet_tree,
)
from .readers.tinyimagenet import decoded_cache_dir
from .specs import DatasetSpec

__all__ = ["Layout", "Resource", "Source", "SOURCES"]

Reader = Callable[[dict[str, Path], DatasetSpec], RawData]


@dataclass(frozen=True)
class Layout:
    """One accepted way of storing the dataset: role -> accepted relative names (preferred first;
    a trailing "/" means a directory), the reader, and a description for messages."""

    description: str
    files: dict[str, tuple[str, ...]]
    read: Reader

    def match(self, directory: Path) -> dict[str, Path] | None:
        """role -> existing path if every role has a file (or folder) in ``directory``, else None."""
        found = {}
        for role, names in self.files.items():
            for name in names:
                p = directory / name.rstrip("/")
                if p.is_dir() if name.endswith("/") else p.is_file():
                    found[role] = p
                    break
            else:
                return None
        return found


@dataclass(frozen=True)
class Resource:
    """An official download: file name, URL and MD5 of the downloaded file (None: not known)."""

    filename: str
    url: str
    md5: str | None


@dataclass(frozen=True)
class Source:
    name: str
    folder_names: tuple[str, ...]
    layouts: tuple[Layout, ...]
    resources: tuple[Resource, ...]
    homepage: str
    install_hint: str | None = None
    # Folder names of another dataset stored under the same file names: a directory so named is
    # never taken for this dataset (MNIST and Fashion-MNIST share their IDX file names).
    conflicts: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------- IDX
def _idx_layout(checksums: dict[str, IdxChecksum]) -> Layout:
    """The four IDX files, each raw or gzipped (raw first: faster); ``checksums`` are checked on
    files of the official shape."""
    files = {}
    for role, (stem, _) in IDX_ROLES.items():
        dotted = stem.replace("-idx", ".idx")  # "train-images.idx3-ubyte", as some mirrors name them
        files[role] = (stem, f"{stem}.gz", dotted, f"{dotted}.gz")
    return Layout(
        "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz (gzipped or not)",
        files,
        lambda f, spec: read_idx_dataset(f, spec.num_classes, checksums),
    )


def _idx_resources(base: str, md5s: dict[str, str]) -> tuple[Resource, ...]:
    return tuple(Resource(f"{stem}.gz", f"{base}{stem}.gz", md5s[stem]) for stem, _ in IDX_ROLES.values())


_IDX_SHAPES = {"train_images": (60000, 28, 28), "train_labels": (60000,), "test_images": (10000, 28, 28), "test_labels": (10000,)}

# MD5 of the uncompressed files, so that re-compressed copies pass too. MNIST's are the published
# ones. Fashion-MNIST's were computed from the Debian package (dataset-fashion-mnist), whose .gz
# files are the official ones minus the file-name field of the gzip header (each exactly 23 or 24
# bytes shorter), so their content is the official content (inferred, not published).
_MNIST_RAW_MD5 = {
    "train_images": "6bbc9ace898e44ae57da46a324031adb",
    "train_labels": "a25bea736e30d166cdddb491f175f624",
    "test_images": "2646ac647ad5339dbf082846283269ea",
    "test_labels": "27ae3e4e09519cfbb04c329615203637",
}
_FASHION_RAW_MD5 = {
    "train_images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train_labels": "9018921c3c673c538a1fc5bad174d6f9",
    "test_images": "8181f5470baa50b63fa0f6fddb340f0a",
    "test_labels": "15d484375f8d13e6eb1aabb0c3f46965",
}


def _idx_checksums(own: dict[str, str], other: dict[str, str], other_name: str) -> dict[str, IdxChecksum]:
    known = {md5: f"the {other_name} {IDX_ROLES[role][0]} file" for role, md5 in other.items()}
    return {role: IdxChecksum(_IDX_SHAPES[role], md5, known) for role, md5 in own.items()}


_FASHION_NAMES = ("fashion-mnist", "FashionMNIST", "fmnist")

MNIST = Source(
    "mnist",
    ("mnist",),
    (_idx_layout(_idx_checksums(_MNIST_RAW_MD5, _FASHION_RAW_MD5, "Fashion-MNIST")),),
    _idx_resources(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        {  # MD5 of the .gz files served by the mirror
            "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    conflicts=_FASHION_NAMES,
)

FASHION_MNIST = Source(
    "fashion-mnist",
    _FASHION_NAMES,
    (_idx_layout(_idx_checksums(_FASHION_RAW_MD5, _MNIST_RAW_MD5, "MNIST")),),
    _idx_resources(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {
            "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    install_hint="apt-get install -y dataset-fashion-mnist",
    conflicts=("mnist",),
)

# ------------------------------------------------------------------------------------ SVHN
SVHN = Source(
    "svhn",
    ("svhn",),
    (Layout("train_32x32.mat, test_32x32.mat", {"train": ("train_32x32.mat",), "test": ("test_32x32.mat",)},
            lambda f, spec: read_svhn(f["train"], f["test"])),),
    (
        Resource("train_32x32.mat", "http://ufldl.stanford.edu/housenumbers/train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
        Resource("test_32x32.mat", "http://ufldl.stanford.edu/housenumbers/test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"),
    ),
    "http://ufldl.stanford.edu/housenumbers/",
)


# ----------------------------------------------------------------------------------- CIFAR
def _cifar_source(name: str, archive: str, folder: str, batches: tuple[str, ...], md5: str) -> Source:
    num_classes = 100 if name == "cifar100" else 10
    return Source(
        name,
        (name, folder, archive.removesuffix(".tar.gz")),
        (
            Layout(f"{folder}/ ({', '.join(batches)})", {b: (b,) for b in batches},
                   lambda f, spec: read_cifar_folder(next(iter(f.values())).parent, num_classes)),
            Layout(archive, {"archive": (archive,)}, lambda f, spec: read_cifar_archive(f["archive"], num_classes)),
        ),
        (Resource(archive, f"https://www.cs.toronto.edu/~kriz/{archive}", md5),),
        "https://www.cs.toronto.edu/~kriz/cifar.html",
    )


CIFAR10 = _cifar_source(
    "cifar10", "cifar-10-python.tar.gz", "cifar-10-batches-py",
    tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",), "c58f30108f718f92721af3b95e74349a",
)
CIFAR100 = _cifar_source(
    "cifar100", "cifar-100-python.tar.gz", "cifar-100-python", ("train", "test", "meta"), "eb9058c3a382ffc7106e4002c42a8d85",
)


# ---------------------------------------------------------------------------- Tiny ImageNet
def _tiny_tree(f: dict[str, Path], spec: DatasetSpec) -> RawData:
    source = f["wnids"].parent if "wnids" in f else f["zip"]
    cache = decoded_cache_dir(cache_dir() / "tinyimagenet", source)
    return read_tinyimagenet_tree(source, spec.classes, cache)


TINYIMAGENET = Source(
    "tinyimagenet",
    ("tinyimagenet", "tiny-imagenet-200"),
    (
        Layout("tinyimagenet.pt (classes, images_train, labels_train, images_val, labels_val)",
               {"pt": ("tinyimagenet.pt",)}, lambda f, spec: read_tinyimagenet_pt(f["pt"], spec.classes)),
        Layout("tiny-imagenet-200/ (wnids.txt, train/<wnid>/images/, val/images/, val/val_annotations.txt)",
               {"wnids": ("wnids.txt",), "val": ("val/val_annotations.txt",), "train": ("train/",)}, _tiny_tree),
        Layout("tiny-imagenet-200.zip", {"zip": ("tiny-imagenet-200.zip",)}, _tiny_tree),
    ),
    # MD5 as published alongside the archive by several loaders (248,100,043 bytes).
    (Resource("tiny-imagenet-200.zip", "http://cs231n.stanford.edu/tiny-imagenet-200.zip", "90528d7ca1a48142e341f4ef8d21d0de"),),
    "http://cs231n.stanford.edu/tiny-imagenet-200.zip",
)

SOURCES: dict[str, Source] = {s.name: s for s in (MNIST, FASHION_MNIST, SVHN, CIFAR10, CIFAR100, TINYIMAGENET)}
