"""Report helpers the benchmarks share: NaN-aware means, JSON-safe reports, file names for rows, the
"scored (errors)" cell and the closing lines of the case suites' tables (physics alignment, 3D
consistency), the plot of their metrics against the horizon, and the check of integer arguments."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from cosmos_sim.envs.wfm.core import resolve_checkpoint
from cosmos_sim.world_models.diffusion.checkpoint import read_world_model_config
from cosmos_sim.world_models.diffusion.config import DiffusionWorldModelConfig


def nanmean(values, axis=None):
    """Mean over finite entries; NaN (not a warning) where there are none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(values, dtype=np.float64), axis=axis)


def jsonable(value: Any) -> Any:
    """The report without the sample videos, arrays as lists, floats rounded, NaN as null."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k != "samples"}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (float, np.floating)):
        return round(float(value), 5) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def file_name(name: str) -> str:
    """A row name as a safe file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def cases_cell(row: dict[str, Any]) -> str:
    """``scored (errors)`` for a row of per-scenario summaries."""
    scored = sum(s["cases"] for s in row["scenarios"].values())
    return f"{scored} ({len(row['errors'])})"


def markdown_footer(report: dict[str, Any]) -> list[str]:
    """The errors section (each failed case, by row) and the machine line that close a report."""
    errors = [(row["name"], e) for row in report["rows"] for e in row["errors"]]
    lines = []
    if errors:
        lines += ["", f"## Errors ({len(errors)} cases, excluded from the means)", ""]
        lines += [f"- {name}: {e['error']}" for name, e in errors]
    m = report["machine"]
    lines += [
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('threads', '?')} threads; {report['seconds']:.0f} s.",
    ]
    return lines


def plot_curves(
    report: dict[str, Any],
    titles: dict[str, str],
    suptitle: str,
    path: Path,
    *,
    log_scale: tuple[str, ...] = (),
) -> None:
    """Each metric of ``titles`` (six, in a 2 x 3 grid) against the horizon, one line per row that
    has finite values, from the rows' ``overall`` curves; ``log_scale`` metrics on a log axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
    steps = np.arange(1, report["horizon"] + 1)
    for ax, (key, title) in zip(axes.flat, titles.items(), strict=True):
        for row in report["rows"]:
            if row["overall"] is not None and np.any(np.isfinite(row["overall"]["curves"][key])):
                ax.plot(steps, row["overall"]["curves"][key], marker=".", label=row["name"])
        ax.set_title(title)
        ax.set_xlabel("predicted frame")
        ax.grid(alpha=0.3)
        if key in log_scale:
            ax.set_yscale("log")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(suptitle)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def positive_int(owner: str, name: str, value: Any) -> int:
    """``value`` as an int, or a ValueError naming ``owner``'s argument unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def check_output_folder(owner: str, out: str | Path) -> Path:
    """``out`` as a Path, checked before any work: a path that exists and is not a folder fails at once
    instead of after a run whose results it could not take. (Created where the results are written, so
    a run refused for another reason leaves no empty folder.)"""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{owner}: output path {out} exists and is not a folder")
    # The folder is made at the end; what would stop that (a file on the way, a read-only folder)
    # is found now.
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"{owner}: output path {out} lies under {existing}, which is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{owner}: output path {out}: {existing} is not writable")
    return out


PUSHBLOCK_TASK_PREFIX = "cosmos_sim/PushBlock-"


def require_pushblock_model(
    owner: str, checkpoint: str | Path | None, why: str
) -> tuple[Path, DiffusionWorldModelConfig, dict]:
    """The PushBlock world model ``checkpoint`` (None: the shipped one) as its folder, config and JSON
    record, read before any work; a clear error when there is none, or when it imitates another scene
    (a ValueError; ``why``: what in ``owner`` is PushBlock's)."""
    path = resolve_checkpoint(checkpoint)
    config, record = read_world_model_config(path)
    if not config.task.startswith(PUSHBLOCK_TASK_PREFIX):
        raise ValueError(
            f"{owner}: the world model at {path} imitates {config.task}; {why}, so it needs a "
            f"{PUSHBLOCK_TASK_PREFIX}* world model"
        )
    return path, config, record
