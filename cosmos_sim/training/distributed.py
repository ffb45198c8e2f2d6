"""Process-group setup for ``torchrun``: one process per device, and the data-parallel wrappers.

Without ``torchrun`` (no ``WORLD_SIZE`` in the environment) training runs in one process. Under
``torchrun --nproc_per_node N`` each rank joins the group (NCCL on GPUs, gloo on CPU), trains on its own
random batches, and only rank 0 writes files. ``strategy="ddp"`` replicates the model and all-reduces
gradients; ``strategy="fsdp2"`` shards parameters, gradients and optimizer state across ranks with
``torch.distributed.fsdp.fully_shard`` (per child block, then the root), for models too big to
replicate. Checkpoints always hold full (unsharded) state dicts, so a run may resume under another
strategy or process count.
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


def _env_int(name: str, default: int) -> int:
    """An integer environment variable that torchrun sets, or a ValueError naming it."""
    text = os.environ.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise ValueError(
            f"environment variable {name}={text!r} is not an integer (torchrun sets it)"
        ) from None
    if value < 0:
        raise ValueError(f"environment variable {name}={text!r} must be >= 0")
    return value


def _device(device: str, local_rank: int, world_size: int) -> torch.device:
    """The device this process trains on, from the ``device`` setting: ``auto``, ``cpu``, ``cuda`` (under
    torchrun, the device of the process's LOCAL_RANK) or ``cuda:N`` (one process only)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}") from None
    if chosen.type == "cpu":
        return chosen
    if chosen.type != "cuda":
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}")
    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for CUDA but no CUDA device is available")
    if chosen.index is not None and world_size > 1:
        raise ValueError(
            f"device {device!r}: under torchrun each process takes the CUDA device of its LOCAL_RANK; "
            f"pass device=cuda (and CUDA_VISIBLE_DEVICES to choose the devices)"
        )
    index = chosen.index if chosen.index is not None else local_rank
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r}: CUDA device {index} asked for, but this machine has "
            f"{torch.cuda.device_count()}"
        )
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def setup_distributed(device: str = "auto") -> DistributedContext:
    """Join the ``torchrun`` process group if there is one; choose this process's device."""
    world_size = max(_env_int("WORLD_SIZE", 1), 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if rank >= world_size:
        # RANK left over in the shell, say: this process would skip every write of rank 0.
        raise ValueError(
            f"RANK={rank} but WORLD_SIZE={world_size}: start several processes with torchrun, or unset RANK"
        )
    chosen = _device(device, local_rank, world_size)
    if world_size > 1 and not dist.is_initialized():
        # The call below waits until all WORLD_SIZE processes have joined; say so, or a launch that
        # started only some of them looks like a hang.
        print(
            f"rank {rank}: joining a group of WORLD_SIZE={world_size} processes at "
            f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}; waiting for all of "
            f"them (torchrun starts them: --nproc_per_node per machine, on every machine)",
            flush=True,
        )
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return DistributedContext(rank=rank, world_size=world_size, device=chosen)


STRATEGIES = ("ddp", "fsdp2")


def wrap_for_training(
    model: nn.Module, context: DistributedContext, strategy: str = "ddp", shard: list[nn.Module] | None = None
) -> nn.Module:
    """The module to call in training: ``model`` itself in one process, else DDP around it or the
    model sharded in place by FSDP2 (``shard``: the blocks to shard separately, e.g. transformer blocks)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown data-parallel strategy {strategy!r}; choose one of {STRATEGIES}")
    if context.world_size == 1:
        return model
    if strategy == "fsdp2":
        from torch.distributed.fsdp import fully_shard

        for block in shard or []:
            fully_shard(block)
        fully_shard(model)
        return model
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def full_state(model: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> tuple[dict, dict | None]:
    """Unsharded model (and optimizer) state dicts on CPU, whatever wraps the model; every rank must call."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    model_state = get_model_state_dict(model, options=options)
    optim_state = (
        get_optimizer_state_dict(model, optimizer, options=options) if optimizer is not None else None
    )
    return model_state, optim_state


def load_full_state(
    model: nn.Module, optimizer: torch.optim.Optimizer, model_state: dict, optim_state: dict
) -> None:
    """Load full state dicts (from ``full_state``) into a possibly sharded model and its optimizer."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, strict=True)
    set_model_state_dict(model, model_state, options=options)
    set_optimizer_state_dict(model, optimizer, optim_state, options=options)


def agreed_max(value: float, context: DistributedContext) -> float:
    """The largest ``value`` over all ranks, so that time-based decisions (stop, save) are the same on
    every rank; a rank that stopped alone would leave the others waiting in a collective forever."""
    if context.world_size == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor.item())


def mean_over_ranks(values: dict[str, float], context: DistributedContext) -> dict[str, float]:
    """Metrics averaged over ranks (each rank's batch is a part of the global batch)."""
    if context.world_size == 1 or not values:
        return values
    tensor = torch.tensor(list(values.values()), dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return dict(zip(values, (tensor / context.world_size).tolist(), strict=True))


def teardown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
