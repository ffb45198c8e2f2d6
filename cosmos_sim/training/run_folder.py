"""The run folder ``out`` of a training command: claimed before anything is recorded or written.

A run folder holds its trainer's state (the tokenizer trainer's ``train_state.pt``, the world-model
trainer's ``checkpoints/``), the run's ``config.json`` and at the end the model in ``out/model``.
Training into a folder that holds a state resumes that run. So before anything is written:

- a folder that is a saved model (its ``config.json`` carries a checkpoint ``format``), or that holds
  the other trainer's run, is refused: training there would overwrite it;
- a folder with a run of this trainer is resumed only with the same settings, apart from the budget
  and the machine (``RESUMABLE_CHANGES``): a changed recipe would train on from the old run's weights
  under the new run's name, and overwrite its exported model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cosmos_sim.data.video_io import write_bytes_atomic

CONFIG_FILE = "config.json"
MODEL_FOLDER = "model"
"""Where a run exports its trained model, inside the run folder."""
RUN_STATES = {"tokenizer": "train_state.pt", "wfm": "checkpoints"}
"""What each trainer keeps its resumable state in, inside the run folder."""
RESUMABLE_CHANGES = frozenset(
    {
        "max_minutes",
        "max_steps",
        "threads",
        "device",
        "parallel",
        "bf16",
        "save_every_minutes",
        "sample_every_minutes",
        "log_every",
        "data.workers",
        "out",
    }
)
"""Settings a resumed run may change: how long it trains and on what machine (checkpoints hold full
state dicts, so a DDP run resumes under FSDP2 or another process count), not what it learns."""


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``{"a.b": value}``; lists of mappings (``data.scenes``) by index, so a field
    added to a scene by a newer version is one key the old run lacks, not a different list."""
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        flat: dict[str, Any] = {f"{prefix}len": len(value)}
        for i, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}{i}."))
        return flat
    if isinstance(value, dict):
        flat = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value}


def _set_path(config: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        config = config[key]
    config[last] = value


def _differences(before: dict, now: dict, paths: tuple[str, ...]) -> list[str]:
    old, new = _flatten(before), _flatten(now)
    changed = []
    for key in sorted(old.keys() & new.keys()):  # a key one side lacks came with a newer version
        if key in RESUMABLE_CHANGES or old[key] == new[key]:
            continue
        if key in paths and Path(str(old[key])).resolve() == Path(str(new[key])):
            continue  # an older run stored the path as typed, relative to the folder it ran from
        changed.append(f"{key}: {old[key]!r} -> {new[key]!r}")
    return changed


def claim_run_folder(
    out: str | Path,
    trainer: str,
    config: dict,
    *,
    paths: tuple[str, ...] = (),
) -> Path:
    """Check that ``out`` may hold (or resume) a ``trainer`` run with ``config``; write its config.json.

    ``paths``: keys whose values are paths; stored resolved, so the run resumes from any working
    folder."""
    command = f"train {trainer}"
    if not str(out).strip():
        raise ValueError(f"{command}: out is empty; name a run folder (out=outputs/train/<name>)")
    out = Path(out)
    config = json.loads(json.dumps(config, default=str))  # as stored: tuples become lists, as in the old run
    for key in paths:
        _set_path(config, key, str(Path(_flatten(config)[key]).resolve()))
    text = json.dumps(config, indent=2) + "\n"
    if out.exists() and not out.is_dir():
        raise ValueError(f"{command}: out {out} exists and is not a folder")
    config_file = out / CONFIG_FILE
    before = None
    if config_file.is_file():
        try:
            before = json.loads(config_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(
                f"{command}: {config_file} is not a run config ({error}); choose another out"
            ) from error
        if not isinstance(before, dict) or "format" in before:
            kind = before.get("format") if isinstance(before, dict) else type(before).__name__
            raise ValueError(
                f"{command}: out {out} holds a saved model ({kind}), not a training run; training there "
                f"would overwrite it: choose another out"
            )
    for other, state in RUN_STATES.items():
        if other != trainer and (out / state).exists():
            raise ValueError(
                f"{command}: out {out} holds a `train {other}` run ({state}); training there would "
                f"overwrite it: choose another out"
            )
    if (out / MODEL_FOLDER).exists() and not (out / RUN_STATES[trainer]).exists():
        # Its state is gone, so nothing would be resumed: a new run would overwrite the model.
        raise ValueError(
            f"{command}: out {out} holds a finished model ({out / MODEL_FOLDER}) but not the training state "
            f"({RUN_STATES[trainer]}) to resume it from; training there would overwrite the model. Choose "
            f"another out, or delete {out / MODEL_FOLDER} to train anew"
        )
    if before is not None and (out / RUN_STATES[trainer]).exists():
        changed = _differences(before, config, paths)
        if changed:
            raise ValueError(
                f"{command}: out {out} holds a run with other settings, which this command would resume "
                f"(only {sorted(RESUMABLE_CHANGES)} may change): {'; '.join(changed)}. Choose another out, "
                f"or delete {out} to start over"
            )
    write_bytes_atomic(config_file, text.encode())
    return out
