"""Devices: parsing ``--device`` and moving host-drawn tensors onto the device without a sync."""

from __future__ import annotations

import re

import torch
from torch import Tensor

__all__ = ["device_from_flag", "to_device"]


def device_from_flag(flag: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cpu``/``cuda``/``cuda:N`` as given."""
    flag = str(flag).lower()
    if flag == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if flag == "cpu":
        return torch.device("cpu")
    if re.fullmatch(r"cuda(:\d+)?", flag):
        if not torch.cuda.is_available():
            raise ValueError("--device cuda requested but no CUDA device is available; use --device cpu or auto")
        device = torch.device(flag)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {flag}: only {torch.cuda.device_count()} CUDA device(s) here")
        return device
    raise ValueError(f"invalid device {flag!r}; allowed: auto, cpu, cuda, cuda:N")


def to_device(t: Tensor, device: torch.device) -> Tensor:
    """``t`` (drawn on the CPU) on ``device``: a no-op on the CPU; on CUDA a pinned, non-blocking
    copy, so the host does not wait for the stream (a pageable copy would synchronise it)."""
    if t.device == device or device.type == "cpu":
        return t.to(device)
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)
