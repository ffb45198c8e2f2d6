"""Report helpers the case-suite benchmarks share (physics alignment, 3D consistency): NaN-aware means,
JSON-safe reports, file names for rows, and the "scored (errors)" cell of their tables."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np


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
