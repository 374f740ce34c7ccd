"""What a dataset is, independent of where its files live: shape, classes and normalisation.

The six built-in specs carry the constants of the reference implementation (§6) exactly;
``imagefolder:PATH`` and ``npz:PATH`` specs are computed from the data the first time they are
asked for; ``imagefolder:PATH@N`` is the folder with every image resized to N x N (shorter side
resized to N, centre crop), and that resolution is part of the name. ``DatasetSpec.normalize`` / ``denormalize`` are the one implementation of the pixel
mapping (``Dataset`` delegates to them).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..suggest import did_you_mean

__all__ = [
    "DatasetSpec",
    "list_datasets",
    "builtin_spec",
    "parse_name",
    "resolution_of",
    "custom_name",
    "with_resolution",
    "CUSTOM_KINDS",
]

CUSTOM_KINDS = ("imagefolder", "npz")


@dataclass(frozen=True)
class DatasetSpec:
    """Shape, class names and per-channel normalisation of a dataset.

    name: canonical name (``"cifar10"``, ``"imagefolder:/abs/path"``, ...); image_size: (H, W);
    classes: human-readable class names, label ``i`` is ``classes[i]``; mean/std: per-channel
    constants of ``(x/255 - mean) / std``; flip_ok: horizontal flips are a valid augmentation
    (False for the digit datasets).
    """

    name: str
    channels: int
    image_size: tuple[int, int]
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    flip_ok: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", tuple(int(s) for s in self.image_size))
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if self.channels not in (1, 3):
            raise ValueError(f"{self.name}: channels must be 1 or 3, got {self.channels}")
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(f"{self.name}: mean/std need {self.channels} values each, got {self.mean} / {self.std}")
        if min(self.std) <= 0:
            raise ValueError(f"{self.name}: std must be positive, got {self.std}")
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ValueError(f"{self.name}: image_size must be (H, W), got {self.image_size}")
        if not self.classes:
            raise ValueError(f"{self.name}: no classes")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return (self.channels, *self.image_size)

    def normalize(self, images: Tensor) -> Tensor:
        """uint8 images (... x C x H x W, 0..255) -> float32 ``(x/255 - mean) / std`` on the same device.

        Computed in place on the float copy as ``x * a + b`` (a = 1/(255 std), b = -mean/std), which
        differs from the two-step formula by float32 rounding only.
        """
        if images.dtype != torch.uint8:
            raise TypeError(f"normalize expects uint8 images (0..255), got {images.dtype} (already normalised?)")
        self._check_channels(images)
        scale, shift = _affine(self.mean, self.std, images.device)
        return images.to(torch.float32).mul_(scale).add_(shift)

    def denormalize(self, x: Tensor) -> Tensor:
        """Normalised images (... x C x H x W) -> float32 pixels ``x * std + mean`` clipped to [0, 1]."""
        self._check_channels(x)
        mean, std = _mean_std(self.mean, self.std, x.device)
        return torch.addcmul(mean, x.to(torch.float32), std).clamp_(0.0, 1.0)

    def _check_channels(self, x: Tensor) -> None:
        if x.dim() < 3 or x.shape[-3] != self.channels:
            raise ValueError(f"{self.name}: expected ... x {self.channels} x H x W images, got shape {tuple(x.shape)}")


@functools.lru_cache(maxsize=64)
def _affine(mean: tuple[float, ...], std: tuple[float, ...], device: torch.device) -> tuple[Tensor, Tensor]:
    """(scale, shift), C x 1 x 1 float32 on ``device``, so that (x/255 - mean)/std = x*scale + shift."""
    m = torch.tensor(mean, dtype=torch.float64)
    s = torch.tensor(std, dtype=torch.float64)
    scale = (1.0 / (255.0 * s)).to(torch.float32).view(-1, 1, 1).to(device)
    shift = (-m / s).to(torch.float32).view(-1, 1, 1).to(device)
    return scale, shift


@functools.lru_cache(maxsize=64)
def _mean_std(mean: tuple[float, ...], std: tuple[float, ...], device: torch.device) -> tuple[Tensor, Tensor]:
    """(mean, std) as C x 1 x 1 float32 tensors on ``device``."""
    return (
        torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1).to(device),
        torch.tensor(std, dtype=torch.float32).view(-1, 1, 1).to(device),
    )


# ----------------------------------------------------------------------------- built-in specs
_DIGITS = tuple(str(d) for d in range(10))

_FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# The CIFAR-100 fine labels, in label order (alphabetical, as in the archive's ``meta``).
_CIFAR100 = tuple(
    """
    apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly
    camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup
    dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower
    leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid
    otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road
    rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower
    sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale
    willow_tree wolf woman worm
    """.split()
)

# The 200 WordNet ids of Tiny ImageNet (its wnids.txt), sorted: label i is the i-th id.
_TINY_WNIDS = tuple(
    """
    n01443537 n01629819 n01641577 n01644900 n01698640 n01742172 n01768244 n01770393 n01774384 n01774750
    n01784675 n01855672 n01882714 n01910747 n01917289 n01944390 n01945685 n01950731 n01983481 n01984695
    n02002724 n02056570 n02058221 n02074367 n02085620 n02094433 n02099601 n02099712 n02106662 n02113799
    n02123045 n02123394 n02124075 n02125311 n02129165 n02132136 n02165456 n02190166 n02206856 n02226429
    n02231487 n02233338 n02236044 n02268443 n02279972 n02281406 n02321529 n02364673 n02395406 n02403003
    n02410509 n02415577 n02423022 n02437312 n02480495 n02481823 n02486410 n02504458 n02509815 n02666196
    n02669723 n02699494 n02730930 n02769748 n02788148 n02791270 n02793495 n02795169 n02802426 n02808440
    n02814533 n02814860 n02815834 n02823428 n02837789 n02841315 n02843684 n02883205 n02892201 n02906734
    n02909870 n02917067 n02927161 n02948072 n02950826 n02963159 n02977058 n02988304 n02999410 n03014705
    n03026506 n03042490 n03085013 n03089624 n03100240 n03126707 n03160309 n03179701 n03201208 n03250847
    n03255030 n03355925 n03388043 n03393912 n03400231 n03404251 n03424325 n03444034 n03447447 n03544143
    n03584254 n03599486 n03617480 n03637318 n03649909 n03662601 n03670208 n03706229 n03733131 n03763968
    n03770439 n03796401 n03804744 n03814639 n03837869 n03838899 n03854065 n03891332 n03902125 n03930313
    n03937543 n03970156 n03976657 n03977966 n03980874 n03983396 n03992509 n04008634 n04023962 n04067472
    n04070727 n04074963 n04099969 n04118538 n04133789 n04146614 n04149813 n04179913 n04251144 n04254777
    n04259630 n04265275 n04275548 n04285008 n04311004 n04328186 n04356056 n04366367 n04371430 n04376876
    n04398044 n04399382 n04417672 n04456115 n04465501 n04486054 n04487081 n04501370 n04507155 n04532106
    n04532670 n04540053 n04560804 n04562935 n04596742 n04597913 n06596364 n07579787 n07583066 n07614500
    n07615774 n07695742 n07711569 n07715103 n07720875 n07734744 n07747607 n07749582 n07753592 n07768694
    n07871810 n07873807 n07875152 n07920052 n09193705 n09246464 n09256479 n09332890 n09428293 n12267677
    """.split()
)

_BUILTIN: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        DatasetSpec("mnist", 1, (28, 28), _DIGITS, (0.1307,), (0.3081,), flip_ok=False),
        DatasetSpec("fashion-mnist", 1, (28, 28), _FASHION, (0.2861,), (0.3530,)),
        DatasetSpec("svhn", 3, (32, 32), _DIGITS, (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970), flip_ok=False),
        DatasetSpec("cifar10", 3, (32, 32), _CIFAR10, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
        DatasetSpec("cifar100", 3, (32, 32), _CIFAR100, (0.5071, 0.4866, 0.4409), (0.2673, 0.2564, 0.2762)),
        DatasetSpec("tinyimagenet", 3, (64, 64), _TINY_WNIDS, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    )
}

# Alternative spellings, compared after lower-casing and dropping "-", "_", " " and ".".
_ALIASES = {
    "mnist": "mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "svhn": "svhn",
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "tinyimagenet": "tinyimagenet",
    "tinyimagenet200": "tinyimagenet",
}


def _squash(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in "-_ .")


def list_datasets() -> list[str]:
    """The canonical names of the built-in datasets."""
    return list(_BUILTIN)


def builtin_spec(name: str) -> DatasetSpec:
    """The spec of built-in dataset ``name`` (canonical, as ``parse_name`` returns it)."""
    return _BUILTIN[name]


_AT_RESOLUTION = re.compile(r"(?s)(.*\S)@(\d+)")  # "imagefolder:PATH@64"


def _split_resolution(text: str) -> tuple[str, int | None]:
    """``"imagefolder:PATH@64"`` -> ``("imagefolder:PATH", 64)``; a name without ``@N`` -> ``(name, None)``."""
    m = _AT_RESOLUTION.fullmatch(text)
    if m is None:
        return text, None
    return m.group(1), int(m.group(2))


def parse_name(name: str) -> tuple[str, Path | None]:
    """``(canonical_name, None)`` for a built-in dataset, ``(kind, absolute_path)`` for ``imagefolder:PATH``
    (optionally ``@N``, see ``resolution_of``) / ``npz:PATH``. Raises ``ValueError`` listing the valid
    names for anything else."""
    text = str(name).strip()
    body, resolution = _split_resolution(text)
    kind, sep, rest = body.partition(":")
    kind = kind.strip().lower()
    if sep and kind in CUSTOM_KINDS:
        if not rest.strip():
            raise ValueError(f"{text!r}: give a path after '{kind}:'")
        if resolution is not None and kind != "imagefolder":
            raise ValueError(f"{text!r}: a resolution (@N, --resolution) applies to imagefolder:PATH only; resize the arrays before saving the .npz")
        if resolution is not None and resolution < 1:
            raise ValueError(f"{text!r}: the resolution must be a positive number of pixels, e.g. @64")
        return kind, Path(rest.strip()).expanduser().resolve()
    canonical = _ALIASES.get(_squash(body if resolution is not None else text))
    if canonical is not None and resolution is not None:
        raise ValueError(f"{text!r}: a resolution (@N, --resolution) applies to imagefolder:PATH only; {canonical} has a fixed size")
    if canonical is None:
        raise ValueError(
            f"unknown dataset {text!r}{did_you_mean(_squash(text), {**_ALIASES, **{_squash(n): n for n in list_datasets()}})}; "
            f"valid names: {', '.join(list_datasets())}, "
            "or imagefolder:PATH (one sub-folder of images per class; imagefolder:PATH@N resizes them to N x N) "
            "or npz:PATH (x_train, y_train, x_test, y_test)"
        )
    return canonical, None


def resolution_of(name: str) -> int | None:
    """The ``N`` of ``imagefolder:PATH@N`` (images resized to N x N), or None (images used at their size)."""
    parse_name(name)  # validates
    return _split_resolution(str(name).strip())[1]


def custom_name(kind: str, path: Path, resolution: int | None = None) -> str:
    """The canonical name of a user dataset, which ``parse_name`` reads back: ``kind:PATH[@N]``."""
    text = f"{kind}:{path}"
    if resolution is None and _AT_RESOLUTION.fullmatch(text):
        text += "/"  # a folder whose own name ends in "@digits": not a resolution
    return text if resolution is None else f"{text}@{int(resolution)}"


def with_resolution(name: str | None, resolution: int | None) -> str | None:
    """``name`` with its images resized to ``resolution`` (``--resolution``): ``imagefolder:PATH@N``.

    ``resolution=None`` returns ``name`` unchanged; any other dataset (or none) raises ``ValueError``."""
    if resolution is None:
        return name
    if name is None:
        raise ValueError("--resolution needs --dataset imagefolder:PATH (the image folder to resize)")
    kind, path = parse_name(name)
    if kind != "imagefolder":
        raise ValueError(f"--resolution applies to imagefolder:PATH datasets only, not {name!r}")
    if resolution < 1:
        raise ValueError(f"--resolution must be a positive number of pixels, got {resolution}")
    return custom_name(kind, path, resolution)
