"""Explicit, named random streams.

Every random draw in the package goes through a ``torch.Generator`` made here. A run has one
integer seed; each consumer (real-image sampling, network initialisation, augmentation, ...)
derives its own stream from ``(seed, name, ...)`` so that adding draws to one stream never
shifts another, and nothing touches PyTorch's global generator.
"""

from __future__ import annotations

import hashlib

import torch

__all__ = ["derive_seed", "make_generator"]


def derive_seed(seed: int, *keys: object) -> int:
    """A stable 63-bit seed for the stream named by ``keys`` under the run seed ``seed``.

    Stable across processes and Python versions (no ``hash()``), so runs are reproducible.
    """
    text = repr((int(seed),) + tuple(str(k) for k in keys)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def make_generator(seed: int, *keys: object, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded with ``derive_seed(seed, *keys)`` (or ``seed`` if no keys)."""
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(derive_seed(seed, *keys) if keys else int(seed))
    return g
