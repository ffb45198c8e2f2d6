"""Run checkpoints that survive a kill at any moment: model (and EMA) weights in safetensors, and the
optimizer, step, elapsed time and RNG states beside them, in a folder that becomes visible only when
complete.

Layout of a run folder ``out``::

    out/checkpoints/step-000500/{model.safetensors, ema.safetensors, trainer.pt}
    out/checkpoints/latest          # the name of the newest complete checkpoint, replaced atomically

A checkpoint is written into ``step-XXXXXX.tmp`` and renamed once every file is flushed; then
``latest`` is rewritten through a temporary file and ``os.replace``. A kill before the rename leaves
the previous checkpoint as ``latest``; older checkpoints beyond ``keep`` are deleted afterwards.
``trainer.pt`` is ours and read with ``torch.load(weights_only=True)`` (tensors and plain containers).
"""

from __future__ import annotations

import os
import random
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

CHECKPOINTS = "checkpoints"
LATEST = "latest"


def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": list(random.getstate()),
    }


def _restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _contiguous(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def save_checkpoint(
    out: str | Path,
    *,
    step: int,
    model_state: dict[str, torch.Tensor],
    ema_state: dict | None,
    optimizer_state: dict,
    trainer: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write checkpoint ``step`` of the run in ``out`` and make it the latest; return its folder."""
    root = Path(out) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:06d}"
    tmp = root / f"step-{step:06d}.tmp"
    # This step's, and any an interrupted save left behind: none of them is a checkpoint.
    for torn in root.glob("step-*.tmp"):
        shutil.rmtree(torn, ignore_errors=True)
    tmp.mkdir()
    save_file(_contiguous(model_state), str(tmp / "model.safetensors"))
    extra = {}
    if ema_state is not None:
        save_file(_contiguous(ema_state["shadow"]), str(tmp / "ema.safetensors"))
        extra["ema"] = {"decay": ema_state["decay"], "updates": ema_state["updates"]}
    torch.save(
        {"step": step, "optimizer": optimizer_state, "rng": _rng_state(), "trainer": trainer, **extra},
        tmp / "trainer.pt",
    )
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer = root / (LATEST + ".tmp")
    pointer.write_text(final.name + "\n")
    os.replace(pointer, root / LATEST)
    complete = [p for p in root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp")]
    # By step number, not by name: "step-1000000" sorts before "step-999000" as a string.
    for old in sorted(complete, key=_step_of)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _step_of(folder: Path) -> int:
    try:
        return int(folder.name.removeprefix("step-"))
    except ValueError:
        return -1  # a folder someone else named step-*: oldest, never mistaken for the newest


def latest_checkpoint(out: str | Path) -> Path | None:
    """The newest complete checkpoint of the run in ``out``, or None.

    That is the one ``latest`` names; if it names a folder that is gone or incomplete (deleted by hand,
    say, because it would not load), the newest complete ``step-*`` folder, with a warning."""
    root = Path(out) / CHECKPOINTS
    pointer = root / LATEST
    complete = sorted(
        (p for p in root.glob("step-*") if not p.name.endswith(".tmp") and (p / "trainer.pt").is_file()),
        key=_step_of,
    )
    if pointer.is_file():
        named = root / pointer.read_text().strip()
        if named in complete:
            return named
        if not complete:
            raise ValueError(
                f"{pointer} names {named.name}, which is missing or incomplete, and {root} holds no other "
                f"complete checkpoint; delete {root} (and the run's model/, if it finished) to start over"
            )
        warnings.warn(
            f"{pointer} names {named.name}, which is missing or incomplete; resuming from {complete[-1].name}",
            stacklevel=2,
        )
    return complete[-1] if complete else None


def load_checkpoint(folder: str | Path) -> dict[str, Any]:
    """Everything ``save_checkpoint`` wrote: model/ema state dicts, optimizer, step, trainer info; RNG restored."""
    folder = Path(folder)
    try:
        state = torch.load(folder / "trainer.pt", map_location="cpu", weights_only=True)
        state["model"] = load_file(str(folder / "model.safetensors"))
        if "ema" in state or (folder / "ema.safetensors").is_file():  # saved with an EMA: it must be there
            state["ema"] = {**state.get("ema", {}), "shadow": load_file(str(folder / "ema.safetensors"))}
        _restore_rng(state["rng"])
    except Exception as error:  # torch.load, safetensors and the RNG restore each raise their own kinds
        raise ValueError(
            f"cannot read checkpoint {folder} ({type(error).__name__}: {error}); delete that folder "
            f"and the run resumes from the one before it, if any"
        ) from error
    return state
