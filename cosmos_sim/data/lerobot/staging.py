"""Phase one of writing: one validated episode staged under ``root/.staging/episode-XXXXXX/``.

A staged episode folder holds ``data.parquet`` (the tabular features and ``frame_index``), one
``<video_key>.mp4`` per video feature, ``stats.npz`` (the episode's statistics) and ``episode.json``
(index, task, length, ``meta``). It is built in a temporary folder beside it and renamed into place,
so an episode is either fully staged or invisible; ``EpisodeWriter.finalize`` later consolidates the
staged folders into the dataset's files and deletes them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cosmos_sim.data.lerobot.layout import (
    STAGING_DIR,
    STAT_NAMES,
    DatasetError,
    FeatureSpec,
    _arrow_type,
    _read_json,
    _tabular_stats,
    _to_arrow,
    _video_stats,
)
from cosmos_sim.data.video_io import encode_video

_STAGED_EPISODE = re.compile(r"^episode-(\d{6,})$")


def _staging_summary(root: Path) -> tuple[list[int], Path]:
    """The indices of the episodes staged in ``root`` (sorted) and the staging folder."""
    staging = root / STAGING_DIR
    if not staging.is_dir():
        return [], staging
    indices = sorted(int(m.group(1)) for p in staging.iterdir() if (m := _STAGED_EPISODE.match(p.name)))
    return indices, staging


def _validate_episode(
    features: dict[str, FeatureSpec], index: int, episode: dict[str, np.ndarray], task: str
) -> int:
    """The length of ``episode`` after checking it against ``features``; ValueError naming the problem."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"episode index must be a non-negative int, got {index!r}")
    if not isinstance(task, str) or not task:
        raise ValueError(f"episode {index}: task must be a non-empty string, got {task!r}")
    if not isinstance(episode, dict):
        raise ValueError(f"episode {index}: expected a dict of arrays, got {type(episode).__name__}")
    missing, extra = set(features) - set(episode), set(episode) - set(features)
    if missing or extra:
        raise ValueError(
            f"episode {index}: keys differ from the dataset features: missing {sorted(missing)}, "
            f"unexpected {sorted(extra)}"
        )
    length = None
    for key, spec in features.items():
        value = episode[key]
        expected_dtype = np.uint8 if spec.is_video else np.dtype(spec.dtype)
        if not isinstance(value, np.ndarray):
            raise ValueError(f"episode {index}: {key!r} must be a numpy array, got {type(value).__name__}")
        if value.dtype != expected_dtype:
            raise ValueError(
                f"episode {index}: {key!r} has dtype {value.dtype}, expected {np.dtype(expected_dtype)}"
            )
        if value.ndim != 1 + len(spec.shape) or value.shape[1:] != spec.shape:
            raise ValueError(f"episode {index}: {key!r} has shape {value.shape}, expected (T, *{spec.shape})")
        if length is None:
            length = value.shape[0]
        elif value.shape[0] != length:
            raise ValueError(
                f"episode {index}: {key!r} has {value.shape[0]} rows, other features have {length}"
            )
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            rows = np.unique(np.nonzero(~np.isfinite(value.reshape(len(value), -1)))[0])
            raise ValueError(f"episode {index}: {key!r} has NaN/inf values at rows {rows[:10].tolist()}")
    if not length:
        raise ValueError(f"episode {index}: has no frames")
    return int(length)


def _staged_schema(features: dict[str, FeatureSpec]) -> pa.Schema:
    fields = [pa.field(k, _arrow_type(s.dtype, s.shape)) for k, s in features.items() if not s.is_video]
    return pa.schema([*fields, pa.field("frame_index", pa.int64())])


def _stage_episode(
    final: Path,
    episode: dict[str, np.ndarray],
    *,
    index: int,
    task: str,
    length: int,
    meta: dict[str, Any],
    features: dict[str, FeatureSpec],
    fps: float,
) -> None:
    """Encode a validated episode and its stats into the staged episode folder ``final``, atomically."""
    tabular_keys = [k for k, s in features.items() if not s.is_video]
    video_keys = [k for k, s in features.items() if s.is_video]
    tmp = final.parent / f"tmp-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        columns = {k: _to_arrow(episode[k], features[k].shape) for k in tabular_keys}
        columns["frame_index"] = pa.array(np.arange(length, dtype=np.int64))
        pq.write_table(pa.table(columns, schema=_staged_schema(features)), tmp / "data.parquet")
        stats = {k: _tabular_stats(episode[k]) for k in tabular_keys}
        for key in video_keys:
            encode_video(tmp / f"{key}.mp4", episode[key], fps)
            stats[key] = _video_stats(episode[key])
        # Binary, not JSON: per-entry stats of an image-like feature are thousands of numbers.
        flat_stats = {f"{key}/{name}": value for key, entry in stats.items() for name, value in entry.items()}
        np.savez(tmp / "stats.npz", **flat_stats)
        record = {"episode_index": index, "task": task, "length": length, "meta": meta}
        (tmp / "episode.json").write_text(json.dumps(record))
        try:
            os.rename(tmp, final)  # atomic: the episode appears complete or not at all
        except OSError as error:
            if final.exists():
                raise FileExistsError(
                    f"episode {index} was staged concurrently by another writer in {final}"
                ) from error
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load_staged(folder: Path, index: int, features: dict[str, FeatureSpec]) -> dict[str, Any]:
    """The ``episode.json`` record of staged episode ``index`` after checking its folder is complete."""
    video_keys = [k for k, s in features.items() if s.is_video]
    record = _read_json(folder / "episode.json")
    problem = None
    if not isinstance(record, dict) or record.get("episode_index") != index:
        problem = f"episode.json does not describe episode {index}"
    elif any(not (folder / f"{k}.mp4").is_file() for k in video_keys):
        problem = "a video file is missing"
    elif not (folder / "stats.npz").is_file():
        problem = "stats.npz is missing"
    else:
        try:
            schema = pq.read_schema(folder / "data.parquet")
        except (OSError, pa.ArrowException) as error:
            schema, problem = None, f"data.parquet is unreadable ({error})"
        if schema is not None and not schema.equals(_staged_schema(features)):
            problem = "data.parquet has other columns than this writer's features"
    if problem:
        raise DatasetError(
            f"{folder}: staged episode is corrupt: {problem}; delete the folder and write it again"
        )
    return record


def _load_staged_stats(folder: Path, features: dict[str, FeatureSpec]) -> dict[str, dict[str, np.ndarray]]:
    path = folder / "stats.npz"
    try:
        with np.load(path, allow_pickle=False) as flat:
            arrays = {name: flat[name] for name in flat.files}
    except (OSError, ValueError) as error:
        raise DatasetError(
            f"{path}: staged episode stats are unreadable ({error}); delete the folder and write it again"
        ) from error
    expected = [f"{key}/{name}" for key in features for name in STAT_NAMES]
    if sorted(arrays) != sorted(expected):
        raise DatasetError(
            f"{path}: staged episode stats do not cover this writer's features; "
            "delete the folder and write it again"
        )
    return {key: {name: arrays[f"{key}/{name}"] for name in STAT_NAMES} for key in features}
