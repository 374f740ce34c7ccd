"""The network zoo: ConvNet and its variants, MLP, LeNet, AlexNet, VGG11 and ResNet-18.

>>> from condensation.models import build_model, list_models, count_parameters
>>> net = build_model("ConvNet", channels=3, image_size=(32, 32), num_classes=10,
...                   generator=torch.Generator().manual_seed(0))
>>> count_parameters(net), net.embed(x).shape, net.classifier   # 320010, (N, 2048), Linear

Every network is an :class:`ImageClassifier`: ``forward(x)`` → ``(N, classes)`` logits,
``embed(x)`` → ``(N, D)`` penultimate features, ``classifier`` = the final ``nn.Linear``.
Networks are built on the CPU and contain no device-specific code.
"""

from .base import ImageClassifier, ModelShape, count_parameters, has_batchnorm
from .init import init_parameters
from .registry import build_model, canonical_name, display_name, list_models, register_model, strip_batchnorm

# Importing the architecture modules registers their networks, in display order.
from .convnet import CONVNET_VARIANTS, ConvNet  # noqa: E402  (isort: skip)
from .mlp import MLP  # noqa: E402
from .lenet import LeNet  # noqa: E402
from .alexnet import AlexNet  # noqa: E402
from .vgg import VGG  # noqa: E402
from .resnet import ResNet  # noqa: E402

__all__ = [
    "build_model",
    "list_models",
    "count_parameters",
    "init_parameters",
    "ModelShape",
    "display_name",
    "canonical_name",
    "strip_batchnorm",
    "has_batchnorm",
    "register_model",
    "ImageClassifier",
    "ConvNet",
    "CONVNET_VARIANTS",
    "MLP",
    "LeNet",
    "AlexNet",
    "VGG",
    "ResNet",
]
