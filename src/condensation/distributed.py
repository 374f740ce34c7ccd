"""Condensation on several processes with ``torch.distributed`` (launched by ``torchrun``).

Classes are split across ranks: rank r matches classes r, r + world, r + 2*world, ... Every
random draw is named by (seed, iteration, step, class), so a class draws the same real batch and
augmentation on whichever rank handles it, and every rank builds the same fresh network. After
each image step the ranks exchange their classes' images (a masked all-reduce: each row is the
sum of its owner's value and zeros, which is exact), so the inner loop trains the same network on
the same full set everywhere. Evaluation networks are spread across ranks and their accuracies
gathered. Only rank 0 writes files and shows progress.

Backend: nccl on CUDA, gloo on CPU, chosen from the run's device (``backend_for``). On CUDA the
ranks repeat the inner loop and must get bit-identical networks: joining the group on CUDA makes
cuDNN deterministic (no autotuned, non-deterministic convolution algorithms), and every iteration
the loop compares a checksum of the network each rank trained (``reduce_iteration``) and stops
with one line if they differ, instead of merging steps made with different networks.

A single-process run and an N-process run give the same set (up to float rounding) only at the
same number of threads per process: ``torchrun`` sets ``OMP_NUM_THREADS=1`` in every rank, so
compare with a single process run under ``OMP_NUM_THREADS=1``; other thread counts round the
convolutions differently.

A single process (no ``torchrun``) is the world of size 1 and pays nothing for any of this.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["Context", "context", "SINGLE", "backend_for", "make_deterministic", "wait_for_all"]


@dataclass
class Context:
    """This process's place in the run: ``rank`` of ``world``. ``bytes_reduced`` counts the
    tensor bytes this process has passed to all-reduce (a benchmark reads it)."""

    rank: int = 0
    world: int = 1
    bytes_reduced: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def classes(self, num_classes: int) -> list[int]:
        """The classes this rank condenses (round robin)."""
        return list(range(self.rank, num_classes, self.world))

    def networks(self, num_eval: int) -> list[int]:
        """The evaluation network numbers this rank trains (round robin)."""
        return list(range(self.rank, num_eval, self.world))

    # ------------------------------------------------------------------ collectives
    def _owned_rows(self, rows: int, num_classes: int, device: torch.device) -> torch.Tensor:
        per_class = rows // num_classes
        owner = torch.arange(num_classes, device=device).repeat_interleave(per_class) % self.world
        return owner == self.rank

    def merge_rows(self, tensor: torch.Tensor, num_classes: int) -> None:
        """In place: every class's rows (class-major, equal counts) take their owner's values."""
        if not self.active:
            return
        mask = self._owned_rows(tensor.shape[0], num_classes, tensor.device).view(-1, *([1] * (tensor.dim() - 1)))
        merged = torch.where(mask, tensor, torch.zeros_like(tensor))
        dist.all_reduce(merged, op=dist.ReduceOp.SUM)
        self.bytes_reduced += merged.numel() * merged.element_size()
        tensor.copy_(merged)

    def reduce_iteration(self, loss: torch.Tensor, fingerprint: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(the sum of ``loss`` over ranks, the spread max - min of ``fingerprint`` over ranks), as
        device scalars (no host sync). The fingerprint is a checksum of what every rank computes
        identically (the network it trained); a spread other than 0 means the ranks drifted apart.
        One all-gather of two numbers per rank; a single process returns ``loss`` and 0."""
        if not self.active:
            return loss, loss.new_zeros((), dtype=torch.float64)
        fp = fingerprint.detach().double() if fingerprint is not None else loss.new_zeros((), dtype=torch.float64)
        row = torch.stack([loss.detach().double(), fp.to(loss.device)])
        rows = [torch.empty_like(row) for _ in range(self.world)]
        dist.all_gather(rows, row)
        self.bytes_reduced += row.numel() * row.element_size()
        table = torch.stack(rows)
        return table[:, 0].sum().to(loss.dtype), table[:, 1].max() - table[:, 1].min()

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of a tensor over ranks (a copy)."""
        if not self.active:
            return value
        out = value.detach().clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        self.bytes_reduced += out.numel() * out.element_size()
        return out

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (picklable objects)."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


SINGLE = Context()
_CURRENT: Context | None = None


def backend_for(device: torch.device | str | None) -> str:
    """The process group's backend for a run on ``device``: nccl on CUDA, gloo otherwise."""
    return "nccl" if device is not None and torch.device(device).type == "cuda" else "gloo"


def make_deterministic() -> None:
    """Deterministic cuDNN convolutions (no autotuning) and cuBLAS workspaces, so that every rank
    repeating the same computation on CUDA gets the same bits (the drift check catches the rest)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS first starts
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def context(device: torch.device | None = None) -> Context:
    """The current process group, initialised from torchrun's environment on first use
    (``WORLD_SIZE`` > 1: the backend of ``device``, ``backend_for``); a single process otherwise.
    Callers pass the run's device on first use; without one the group is gloo's."""
    global _CURRENT
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    if not dist.is_initialized():
        backend = backend_for(device)
        if backend == "nccl":
            make_deterministic()
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
        # Tear the group down before the interpreter does: left to exit-time destructors, a gloo
        # group can abort a finished process ("terminate called without an active exception").
        atexit.register(_destroy)
    if _CURRENT is None:
        _CURRENT = Context(dist.get_rank(), dist.get_world_size())
    return _CURRENT


def wait_for_all() -> None:
    """A barrier if this process is in a group (no-op otherwise, and never raises): ranks that stop
    together wait there until rank 0 has reported why."""
    if dist.is_initialized():
        try:
            dist.barrier()
        except Exception:  # a rank already gone: nothing left to wait for
            pass


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """Under torchrun on CUDA, each process uses the GPU of its ``LOCAL_RANK``."""
    if device.type == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1 and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device
