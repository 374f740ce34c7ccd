"""Peak memory of this process: host (resident set) and, on CUDA, device (PyTorch's allocator).

    peak_memory()          # {"host_peak_bytes": 812345344, "device": None, "device_peak_bytes": None, ...}
    format_memory(peak_memory())   # "peak memory: host 775 MiB"
"""

from __future__ import annotations

import sys

import torch

__all__ = ["peak_memory", "format_memory", "reset_peak_memory", "host_peak_bytes"]


def _status_kib(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status (Linux), or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def host_peak_bytes() -> int | None:
    """Peak resident set size of this process in bytes: ``VmHWM`` on Linux (reset by
    ``reset_peak_memory``), else ``getrusage``'s ``ru_maxrss``; None where neither exists."""
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # bytes on macOS, KiB elsewhere


def peak_memory(device: torch.device | str | None = None) -> dict:
    """Peak memory so far: ``host_peak_bytes`` (resident set of this process, None if unknown),
    and on CUDA ``device`` (e.g. "cuda:0"), ``device_peak_bytes`` (most memory held by tensors,
    ``torch.cuda.max_memory_allocated``) and ``device_reserved_bytes`` (most reserved by the caching
    allocator); the device entries are None when ``device`` is not CUDA or CUDA was never used.

    device: the compute device (default: the current CUDA device if CUDA has been initialised)."""
    out: dict = {"host_peak_bytes": host_peak_bytes(), "device": None, "device_peak_bytes": None, "device_reserved_bytes": None}
    dev = torch.device(device) if device is not None else None
    if dev is None and torch.cuda.is_available() and torch.cuda.is_initialized():
        dev = torch.device("cuda", torch.cuda.current_device())
    if dev is not None and dev.type == "cuda" and torch.cuda.is_initialized():
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        out["device"] = f"cuda:{index}"
        out["device_peak_bytes"] = int(torch.cuda.max_memory_allocated(index))
        out["device_reserved_bytes"] = int(torch.cuda.max_memory_reserved(index))
    return out


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}" if unit == "GiB" else f"{n / scale:.0f} {unit}"
    return f"{n / 1024:.0f} KiB"


def format_memory(peak: dict) -> str:
    """One line for the end of a run, e.g. ``peak memory: host 1.21 GiB, cuda:0 845 MiB (1.02 GiB reserved)``."""
    host = peak.get("host_peak_bytes")
    parts = [f"host {_size(host)}" if host is not None else "host unknown"]
    if peak.get("device_peak_bytes") is not None:
        parts.append(f"{peak['device']} {_size(peak['device_peak_bytes'])} ({_size(peak['device_reserved_bytes'])} reserved)")
    return "peak memory: " + ", ".join(parts)


def reset_peak_memory(device: torch.device | str | None = None) -> None:
    """Start measuring peaks afresh: the host peak (Linux: ``/proc/self/clear_refs``; elsewhere the
    lifetime peak stays) and the CUDA allocator's peaks of ``device`` (default: current)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        dev = torch.device(device) if device is not None else torch.device("cuda", torch.cuda.current_device())
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
