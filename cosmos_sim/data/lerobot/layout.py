"""What the LeRobot v3.0 writer and reader share: paths, features, column and stats encodings, file I/O.

Several episodes share each parquet and mp4 file. A file is closed and the next one started when
adding an episode would pass ``data_files_size_in_mb`` / ``video_files_size_in_mb``; every
``chunks_size`` files the chunk index advances. Tabular features are fixed-size list columns (nested
for multi-dimensional shapes such as ``(3, 3)`` or ``(H, W, 1)``; one-element features ``(1,)`` are
plain scalar columns, as in LeRobot), so values round-trip bit-exactly. Video statistics are per
channel in ``[0, 1]`` with shape ``(3, 1, 1)``, as in LeRobot; ours are computed on every frame
rather than a sample.

Every file is written under a temporary name and renamed into place, so a reader never sees half
of one.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cosmos_sim.data.video_io import temporary_sibling, write_bytes_atomic

CODEBASE_VERSION = "v3.0"
INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
_CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
EPISODES_PATH = "meta/episodes/" + _CHUNK_FILE + ".parquet"
DATA_PATH = "data/" + _CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + _CHUNK_FILE + ".mp4"
STAGING_DIR = ".staging"
# stats.json and tasks.parquet keep their names across an extension, so finalize writes them here
# first and moves them into place only after info.json commits: until then readers see the old ones.
_PENDING = {STATS_PATH: "meta/.pending-stats.json", TASKS_PATH: "meta/.pending-tasks.parquet"}

FEATURE_DTYPES = ("video", "float32", "float64", "int64", "int32", "bool")
VIDEO_NAMES = ["height", "width", "channels"]
STAT_NAMES = ("min", "max", "mean", "std", "count")

_MB = 1024 * 1024


class DatasetError(ValueError):
    """An episode dataset folder is missing, unfinished, corrupt, or inconsistent with its metadata."""


@dataclass(frozen=True)
class FeatureSpec:
    """One feature of an episode dataset: an entry of LeRobot's ``info.json["features"]``."""

    dtype: str
    """``"video"`` (uint8 RGB frames, stored as mp4) or a tabular dtype: float32/float64/int64/int32/bool."""
    shape: tuple[int, ...]
    """Shape of one frame's value: ``(H, W, 3)`` for video; e.g. ``(A,)``, ``(3, 3)`` or ``(H, W, 1)``."""
    names: list[str] | None = None
    """A vector's entry names, or one name per axis; videos default to height/width/channels."""

    def __post_init__(self) -> None:
        if self.dtype not in FEATURE_DTYPES:
            raise ValueError(f"FeatureSpec dtype must be one of {FEATURE_DTYPES}, got {self.dtype!r}")
        shape = self.shape
        if not isinstance(shape, (tuple, list)) or len(shape) == 0:
            raise ValueError(
                f"FeatureSpec shape must be a non-empty tuple of positive ints, got {shape!r} "
                "(use (1,) for one number per frame)"
            )
        if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in shape):
            raise ValueError(f"FeatureSpec shape must hold positive ints, got {shape!r}")
        object.__setattr__(self, "shape", tuple(int(s) for s in shape))
        if self.dtype == "video" and (len(self.shape) != 3 or self.shape[2] != 3):
            raise ValueError(f"a video FeatureSpec has shape (H, W, 3), got {self.shape}")
        names = self.names
        if names is None and self.dtype == "video":
            names = list(VIDEO_NAMES)
        if names is not None:
            if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"FeatureSpec names must be a list of str or None, got {names!r}")
            expected = self.shape[0] if len(self.shape) == 1 else len(self.shape)
            if len(names) != expected:
                what = "entries" if len(self.shape) == 1 else "axes"
                raise ValueError(
                    f"FeatureSpec names {list(names)} must name the {expected} {what} of shape {self.shape}"
                )
            names = list(names)
        object.__setattr__(self, "names", names)

    @property
    def is_video(self) -> bool:
        return self.dtype == "video"

    def to_json(self) -> dict[str, Any]:
        """The ``info.json`` entry (without the video ``info`` block, which the writer adds)."""
        return {"dtype": self.dtype, "shape": list(self.shape), "names": self.names}

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> FeatureSpec:
        """Parse an ``info.json`` feature entry; keys other than dtype/shape/names (``info``) are ignored."""
        if not isinstance(entry, dict) or "dtype" not in entry or "shape" not in entry:
            raise ValueError(f"a feature entry needs 'dtype' and 'shape', got {entry!r}")
        if entry["dtype"] == "image":
            raise ValueError(
                "image features (frames stored as PNG inside parquet) are not supported; use video"
            )
        return cls(entry["dtype"], tuple(entry["shape"]), entry.get("names"))


# Columns LeRobot adds to every data row.
INDEX_FEATURES = {
    "timestamp": FeatureSpec("float32", (1,)),
    "frame_index": FeatureSpec("int64", (1,)),
    "episode_index": FeatureSpec("int64", (1,)),
    "index": FeatureSpec("int64", (1,)),
    "task_index": FeatureSpec("int64", (1,)),
}
_STANDARD_INFO_KEYS = (
    "codebase_version", "robot_type", "total_episodes", "total_frames", "total_tasks", "chunks_size",
    "data_files_size_in_mb", "video_files_size_in_mb", "fps", "splits", "data_path", "video_path",
    "features", "tasks_description",
)  # fmt: skip


def _recorded_features(info: dict[str, Any]) -> dict[str, FeatureSpec]:
    """The features of an ``info.json`` dict, less LeRobot's index columns; ValueError if malformed."""
    return {k: FeatureSpec.from_json(v) for k, v in info["features"].items() if k not in INDEX_FEATURES}


# ----------------------------------------------------------------------------------------------
# Arrow columns <-> numpy arrays


_ARROW_TYPES = {
    "float32": pa.float32(),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "bool": pa.bool_(),
}


def _arrow_type(dtype: str, shape: tuple[int, ...], *, scalar_if_single: bool = True) -> pa.DataType:
    arrow_type = _ARROW_TYPES[dtype]
    if scalar_if_single and shape == (1,):
        return arrow_type
    for size in reversed(shape):
        arrow_type = pa.list_(arrow_type, size)
    return arrow_type


def _to_arrow(values: np.ndarray, shape: tuple[int, ...], *, scalar_if_single: bool = True) -> pa.Array:
    """``(N, *shape)`` -> an arrow array of N (nested fixed-size list) values."""
    array = pa.array(np.ascontiguousarray(values).reshape(-1))
    if scalar_if_single and shape == (1,):
        return array
    for size in reversed(shape):
        array = pa.FixedSizeListArray.from_arrays(array, size)
    return array


def _to_numpy(
    column: pa.Array | pa.ChunkedArray, dtype: str, shape: tuple[int, ...], where: str
) -> np.ndarray:
    """An arrow column of N values of ``shape`` -> ``(N, *shape)``, checking dtype and size."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    rows = len(array)
    if array.null_count:
        raise DatasetError(f"{where}: {array.null_count} null values")
    while pa.types.is_fixed_size_list(array.type) or pa.types.is_list(array.type):
        array = array.flatten()  # respects slicing offsets, unlike .values
        if array.null_count:
            raise DatasetError(f"{where}: null values inside lists")
    values = array.to_numpy(zero_copy_only=False)
    if values.size != rows * math.prod(shape):
        raise DatasetError(f"{where}: {values.size} values for {rows} rows of shape {shape}")
    if values.dtype != np.dtype(dtype):
        raise DatasetError(f"{where}: stored as {values.dtype}, info.json says {dtype}")
    return values.reshape(rows, *shape)


# ----------------------------------------------------------------------------------------------
# Statistics (per episode, then aggregated with the parallel-variance formula)


def _tabular_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-entry stats over the time axis of ``(T, *shape)``."""
    as_float = values.astype(np.float64)
    return {
        "min": as_float.min(axis=0),
        "max": as_float.max(axis=0),
        "mean": as_float.mean(axis=0),
        "std": as_float.std(axis=0),
        "count": np.array([len(values)], dtype=np.int64),
    }


def _video_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel stats of uint8 ``(T, H, W, 3)`` frames in ``[0, 1]``, shape ``(3, 1, 1)`` like LeRobot."""
    # Integer sums are exact; going a few frames at a time keeps the int64 copy small for large frames.
    total = np.zeros(3, dtype=np.int64)
    total_sq = np.zeros(3, dtype=np.int64)
    for batch in np.array_split(frames, max(1, frames.nbytes // (64 * _MB))):
        pixels = batch.reshape(-1, 3).astype(np.int64)
        total += pixels.sum(axis=0)
        total_sq += (pixels * pixels).sum(axis=0)
    count = frames.shape[0] * frames.shape[1] * frames.shape[2]
    mean = total / count
    variance = np.maximum(total_sq / count - mean * mean, 0.0)
    per_channel = {
        "min": frames.min(axis=(0, 1, 2)).astype(np.float64) / 255.0,
        "max": frames.max(axis=(0, 1, 2)).astype(np.float64) / 255.0,
        "mean": mean / 255.0,
        "std": np.sqrt(variance) / 255.0,
    }
    stats = {name: value.reshape(3, 1, 1) for name, value in per_channel.items()}
    stats["count"] = np.array([frames.shape[0]], dtype=np.int64)
    return stats


def _merge_stats(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Stats of the union of two sets from the stats of each (Chan et al.'s pairwise update).

    Streaming and numerically stable: merging per-episode stats one at a time needs no second
    pass and loses no precision when the variance is small against the squared mean.
    """
    n_a, n_b = float(a["count"][0]), float(b["count"][0])
    n = n_a + n_b
    delta = b["mean"] - a["mean"]
    # M2 = n * var is the sum of squared deviations from the mean.
    m2 = n_a * a["std"] ** 2 + n_b * b["std"] ** 2 + delta**2 * (n_a * n_b / n)
    return {
        "min": np.minimum(a["min"], b["min"]),
        "max": np.maximum(a["max"], b["max"]),
        "mean": a["mean"] + delta * (n_b / n),
        "std": np.sqrt(m2 / n),
        "count": np.array([int(n)], dtype=np.int64),
    }


def _merge_into(total: dict[str, dict[str, np.ndarray]], part: dict[str, dict[str, np.ndarray]]) -> None:
    for key, stats in part.items():
        total[key] = _merge_stats(total[key], stats) if key in total else stats


def _stats_to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, list]]:
    return {key: {name: np.asarray(v).tolist() for name, v in s.items()} for key, s in stats.items()}


def _stats_from_json(raw: dict[str, Any], where: str) -> dict[str, dict[str, np.ndarray]]:
    if not isinstance(raw, dict):
        raise DatasetError(f"{where}: expected a JSON object of per-feature stats")
    stats = {}
    for key, entry in raw.items():
        if not isinstance(entry, dict) or any(name not in entry for name in STAT_NAMES):
            raise DatasetError(f"{where}: stats of {key!r} need {STAT_NAMES}, got {entry!r}")
        stats[key] = {}
        for name, value in entry.items():
            try:
                array = np.asarray(value)
            except ValueError:  # a ragged list
                array = np.asarray(None)
            if array.dtype.kind not in "biuf" or array.ndim == 0:
                raise DatasetError(
                    f"{where}: stats of {key!r}: {name} must be a list of numbers, got {value!r}"
                )
            stats[key][name] = array
        if stats[key]["count"].shape != (1,):
            raise DatasetError(
                f"{where}: stats of {key!r}: count must be one number in a list, got {entry['count']!r}"
            )
    return stats


# ----------------------------------------------------------------------------------------------
# Small file helpers: every file is written under a temporary name and renamed into place.

# Names of temporary_sibling files, which a killed writer may leave behind.
_TEMPORARY_FILE = re.compile(r"^\..+\.tmp-\d+-[0-9a-f]+(\.\w+)?$")


def _write_json_atomic(path: Path, data: Any) -> None:
    write_bytes_atomic(path, (json.dumps(data, indent=4, ensure_ascii=False) + "\n").encode())


def _write_parquet_atomic(path: Path, tables: list[pa.Table]) -> None:
    """Write ``tables`` (same schema) into one parquet file, one row group each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        with pq.ParquetWriter(tmp, tables[0].schema) as writer:
            for table in tables:
                writer.write_table(table)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as error:
        raise DatasetError(f"{path}: missing") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: not valid JSON ({error})") from error


# ----------------------------------------------------------------------------------------------
# File locations: several episodes share each chunk-XXX/file-YYY file.


def _file_location(path: Path) -> tuple[int, int] | None:
    """``(chunk_index, file_index)`` of a ``chunk-XXX/file-YYY.ext`` path, None for other names."""
    chunk, file = re.fullmatch(r"chunk-(\d+)", path.parent.name), re.fullmatch(r"file-(\d+)", path.stem)
    return (int(chunk.group(1)), int(file.group(1))) if chunk and file else None


def _group(locations: list[tuple[int, int]]) -> dict[tuple[int, int], list[int]]:
    """Positions of each distinct file location, in order of first appearance."""
    groups: dict[tuple[int, int], list[int]] = {}
    for position, location in enumerate(locations):
        groups.setdefault(location, []).append(position)
    return groups


def _next_file(chunk_index: int, file_index: int, chunks_size: int) -> tuple[int, int]:
    if file_index + 1 >= chunks_size:
        return chunk_index + 1, 0
    return chunk_index, file_index + 1


def _assign_files(
    sizes: list[int], limit_bytes: float, after: tuple[int, int] | None, chunks_size: int
) -> list[tuple[int, int]]:
    """The ``(chunk_index, file_index)`` of each item: a file fills until the next item would pass the limit.

    Items start in the file after ``after`` (the last file an earlier finalize wrote), so existing
    files are never appended to. A single item larger than the limit gets a file of its own.
    """
    chunk, file = (0, 0) if after is None else _next_file(*after, chunks_size)
    assigned, used = [], 0
    for size in sizes:
        if used > 0 and used + size > limit_bytes:
            chunk, file = _next_file(chunk, file, chunks_size)
            used = 0
        assigned.append((chunk, file))
        used += size
    return assigned


# ----------------------------------------------------------------------------------------------
# meta/tasks.parquet


def _tasks_table(tasks: list[str]) -> pa.Table:
    """``meta/tasks.parquet``: ``task_index`` with ``task`` as the pandas index, as LeRobot writes it."""
    table = pa.table(
        {"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(tasks, pa.string())}
    )
    # The pandas metadata makes ``pd.read_parquet`` (LeRobot's reader) restore ``task`` as the index.
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [
            {"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
             "metadata": {"encoding": "UTF-8"}},
        ],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64",
             "metadata": None},
            {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object",
             "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.0",
    }  # fmt: skip
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})
