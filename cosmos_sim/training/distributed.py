"""Process-group setup for ``torchrun``: one process per device, gradients all-reduced by DDP.

Without ``torchrun`` (no ``WORLD_SIZE`` in the environment) training runs in one process. Under
``torchrun --nproc_per_node N`` each rank joins the group (NCCL on GPUs, gloo on CPU), trains on its own
random batches, and only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str = "auto") -> DistributedContext:
    """Join the ``torchrun`` process group if there is one; choose this process's device."""
    want_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if want_cuda and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for CUDA but no CUDA device is available")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if want_cuda:
        torch.cuda.set_device(local_rank)
        chosen = torch.device("cuda", local_rank)
    else:
        chosen = torch.device("cpu" if device == "auto" else device)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if want_cuda else "gloo")
    return DistributedContext(rank=rank, world_size=world_size, device=chosen)


def wrap_for_training(model: nn.Module, context: DistributedContext) -> nn.Module:
    """DDP around ``model`` when several processes train it; the model itself otherwise."""
    if context.world_size == 1:
        return model
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def teardown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
