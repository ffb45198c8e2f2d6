"""Resumable training state: model, optimizer, step and elapsed time in one file, written atomically.

The file is ours (written by this module), read back with ``torch.load(weights_only=True)``, which
accepts only tensors and plain containers, so no code runs on load.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

STATE_FILE = "train_state.pt"


def save_training_state(
    directory: str | Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    elapsed_s: float,
    extra: dict | None = None,
) -> Path:
    """Write ``train_state.pt`` in ``directory`` via a temporary file, so a kill never leaves a torn file."""
    path = Path(directory) / STATE_FILE
    tmp = path.with_suffix(".pt.tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "elapsed_s": elapsed_s,
            "extra": extra or {},
        },
        tmp,
    )
    os.replace(tmp, path)
    return path


def load_training_state(
    directory: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any] | None:
    """Restore model and optimizer from ``directory/train_state.pt``; None when there is none."""
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except Exception as error:  # a truncated file (EOFError, UnpicklingError) as well as another model's
        raise ValueError(
            f"cannot resume from {path} ({type(error).__name__}: {error}). It is damaged or was written by "
            f"a different model or config; train into a new folder or delete that file (and the run's model/, if it finished) to start over"
        ) from error
    return {
        "step": int(state["step"]),
        "elapsed_s": float(state["elapsed_s"]),
        "extra": state.get("extra", {}),
    }


def warn_short_warmup(warmup_steps: int, max_steps: int) -> None:
    """Warn when the warm-up does not end before ``max_steps``: the run then never trains at its peak
    learning rate (a short trial run, say, with the recipe's warm-up)."""
    if warmup_steps > max_steps:
        warnings.warn(
            f"warmup_steps ({warmup_steps}) > max_steps ({max_steps}): the learning rate rises for the whole "
            f"run and never reaches its peak",
            stacklevel=4,  # the config's line: warn_short_warmup <- __post_init__ <- __init__ <- caller
        )


def warmup_cosine(progress: float, step: int, *, warmup_steps: int, final_fraction: float) -> float:
    """Learning-rate multiplier: linear warm-up over ``warmup_steps``, then cosine from 1 to
    ``final_fraction`` as ``progress`` goes from 0 to 1."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(max(progress, 0.0), 1.0)
    return final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))
