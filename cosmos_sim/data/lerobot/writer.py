"""``EpisodeWriter``: a parallel, resumable writer of LeRobot v3.0 episode datasets.

Writing happens in two phases, so that recording can run in many processes and survive being killed:

1. ``EpisodeWriter.write_episode`` (any process, any order) validates one episode, encodes its videos,
   computes its statistics and stages it under ``root/.staging/episode-XXXXXX/`` via a temporary
   folder and an atomic rename: an episode is either fully staged or invisible (see ``staging.py``).
2. ``EpisodeWriter.finalize(N)`` (one process) consolidates the staged episodes ``0..N-1`` into the
   dataset's files (video segments are remuxed, never re-encoded). Every file goes through a temporary
   name and a rename; ``meta/info.json`` is the commit marker: ``stats.json`` and ``tasks.parquet``
   (which keep their names) wait under pending names until it is written, and the staging folder is
   deleted only after it. Rerunning after a kill rewrites the same files, byte for byte. Rerunning
   with a larger ``N`` extends the dataset: new episodes go to new files, existing files are never
   touched, and until the new info.json commits, readers see the old dataset (episode rows past
   ``total_episodes`` belong to an uncommitted extension and are ignored).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cosmos_sim.data.lerobot.layout import (
    _MB,
    _PENDING,
    _STANDARD_INFO_KEYS,
    _TEMPORARY_FILE,
    CODEBASE_VERSION,
    DATA_PATH,
    EPISODES_PATH,
    INDEX_FEATURES,
    INFO_PATH,
    STAGING_DIR,
    STATS_PATH,
    TASKS_PATH,
    VIDEO_PATH,
    DatasetError,
    FeatureSpec,
    _arrow_type,
    _assign_files,
    _file_location,
    _group,
    _merge_into,
    _parquet_bytes,
    _read_json,
    _recorded_features,
    _stats_to_json,
    _tabular_stats,
    _tasks_table,
    _to_arrow,
    _write_json_atomic,
    _write_parquet_atomic,
)
from cosmos_sim.data.lerobot.reader import EpisodeDataset
from cosmos_sim.data.lerobot.staging import (
    _load_staged,
    _load_staged_stats,
    _stage_episode,
    _staging_summary,
    _validate_episode,
)
from cosmos_sim.data.video_io import concatenate_videos, probe_video, temporary_sibling, write_bytes_atomic


def _json_normalized(value: Any, what: str) -> Any:
    """``value`` as it reads back from JSON (tuples become lists); a clear error if it is not JSON-able."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be JSON-serializable (no NaN/inf): {error}") from error


class EpisodeWriter:
    """Stages episodes (from any number of processes) and consolidates them into a LeRobot v3.0 dataset.

    ``root`` is the dataset folder; ``fps`` the frame rate of every feature; ``features`` the
    per-frame features (video ones are uint8 RGB ``(H, W, 3)``); ``robot_type`` goes to info.json;
    ``tasks_description`` (optional free text describing the dataset's tasks) and ``info_extra``
    (JSON-able, e.g. the generating env and its settings) are stored as extra info.json keys;
    ``chunks_size`` is the number of files per chunk folder and the ``*_size_in_mb`` values the
    size at which a new parquet / mp4 file is started.

    All of these are the dataset's settings: a writer on a folder that already holds a dataset (or
    staged episodes) made with different settings raises ``DatasetError`` instead of mixing them;
    with the same settings it resumes. ``finalize`` must run in one process, after the writes.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        fps: float,
        features: dict[str, FeatureSpec],
        robot_type: str = "",
        tasks_description: str | None = None,
        chunks_size: int = 1000,
        data_files_size_in_mb: float = 100,
        video_files_size_in_mb: float = 500,
        info_extra: dict | None = None,
    ) -> None:
        self.root = Path(root)
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        if not isinstance(features, dict) or not features:
            raise ValueError(f"features must be a non-empty dict of FeatureSpec, got {features!r}")
        for key, spec in features.items():
            if not isinstance(key, str) or not key or "/" in key:
                raise ValueError(f"feature names must be non-empty strings without '/', got {key!r}")
            if key in INDEX_FEATURES:
                raise ValueError(
                    f"feature name {key!r} is reserved for LeRobot's index columns {list(INDEX_FEATURES)}"
                )
            if not isinstance(spec, FeatureSpec):
                raise ValueError(f"features[{key!r}] must be a FeatureSpec, got {type(spec).__name__}")
        if not isinstance(robot_type, str):
            raise ValueError(f"robot_type must be a str, got {robot_type!r}")
        if tasks_description is not None and not isinstance(tasks_description, str):
            raise ValueError(f"tasks_description must be a str or None, got {tasks_description!r}")
        if isinstance(chunks_size, bool) or not isinstance(chunks_size, int) or chunks_size < 1:
            raise ValueError(f"chunks_size must be a positive int, got {chunks_size!r}")
        sizes = {
            "data_files_size_in_mb": data_files_size_in_mb,
            "video_files_size_in_mb": video_files_size_in_mb,
        }
        for name, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        info_extra = _json_normalized(info_extra or {}, "info_extra")
        if not isinstance(info_extra, dict) or (clash := set(info_extra) & set(_STANDARD_INFO_KEYS)):
            raise ValueError(
                f"info_extra must be a dict without the standard info.json keys, clashing: {clash}"
            )

        self.fps = float(fps)
        self.features = dict(features)
        self.video_keys = [k for k, s in self.features.items() if s.is_video]
        self.tabular_keys = [k for k, s in self.features.items() if not s.is_video]
        self.robot_type = robot_type
        self.tasks_description = tasks_description
        self.chunks_size = chunks_size
        self.data_files_size_in_mb = data_files_size_in_mb
        self.video_files_size_in_mb = video_files_size_in_mb
        self.info_extra = info_extra
        self._settings = {
            "fps": self.fps,
            "robot_type": robot_type,
            "features": {k: s.to_json() for k, s in self.features.items()},
            "chunks_size": chunks_size,
            "data_files_size_in_mb": float(data_files_size_in_mb),
            "video_files_size_in_mb": float(video_files_size_in_mb),
            "tasks_description": tasks_description,
            "info_extra": info_extra,
        }
        self._check_existing_folder()

    # -- settings ------------------------------------------------------------------------------

    @property
    def _staging(self) -> Path:
        return self.root / STAGING_DIR

    @property
    def _manifest_path(self) -> Path:
        return self._staging / "manifest.json"

    def _check_existing_folder(self) -> None:
        info = self._read_info()
        if info is not None:
            self._compare_settings(self._settings_of_info(info), self.root / INFO_PATH)
        if self._manifest_path.is_file():
            self._compare_settings(_read_json(self._manifest_path), self._manifest_path)
        elif info is None and self.root.is_dir() and not self._staging.is_dir() and any(self.root.iterdir()):
            raise DatasetError(
                f"{self.root}: folder is not empty and holds no episode dataset ({INFO_PATH} and "
                f"{STAGING_DIR}/ are missing); refusing to write into it, pick an empty or new folder"
            )

    def _settings_of_info(self, info: dict[str, Any]) -> dict[str, Any]:
        where = self.root / INFO_PATH
        try:
            features = {k: s.to_json() for k, s in _recorded_features(info).items()}
            return {
                "fps": float(info["fps"]),
                "robot_type": info.get("robot_type") or "",
                "features": features,
                "chunks_size": info["chunks_size"],
                "data_files_size_in_mb": float(info["data_files_size_in_mb"]),
                "video_files_size_in_mb": float(info["video_files_size_in_mb"]),
                "tasks_description": info.get("tasks_description"),
                "info_extra": {k: v for k, v in info.items() if k not in _STANDARD_INFO_KEYS},
            }
        except (KeyError, TypeError, ValueError) as error:
            raise DatasetError(f"{where}: malformed info ({type(error).__name__}: {error})") from error

    def _compare_settings(self, existing: dict[str, Any], where: Path) -> None:
        if not isinstance(existing, dict):
            raise DatasetError(f"{where}: expected a JSON object of writer settings")
        differing = [k for k in self._settings if existing.get(k) != self._settings[k]]
        if differing:
            lines = "\n".join(
                f"  {k}: existing {existing.get(k)!r}, requested {self._settings[k]!r}" for k in differing
            )
            raise DatasetError(
                f"{where}: the dataset in {self.root} was made with other settings:\n{lines}\n"
                "Refusing to mix them: use the same settings to resume, or another output folder."
            )

    def _ensure_manifest(self) -> None:
        """Record the settings in the staging folder once; concurrent and later writers compare with them."""
        self._staging.mkdir(parents=True, exist_ok=True)
        if self._manifest_path.is_file():
            self._compare_settings(_read_json(self._manifest_path), self._manifest_path)
            return
        tmp = temporary_sibling(self._manifest_path)
        tmp.write_text(json.dumps(self._settings, indent=4))
        try:
            os.link(tmp, self._manifest_path)  # atomic create-if-absent: exactly one process wins
        except FileExistsError:
            self._compare_settings(_read_json(self._manifest_path), self._manifest_path)
        finally:
            tmp.unlink(missing_ok=True)

    def _read_info(self) -> dict[str, Any] | None:
        path = self.root / INFO_PATH
        if not path.is_file():
            return None
        info = _read_json(path)
        if not isinstance(info, dict) or not isinstance(info.get("total_episodes"), int):
            raise DatasetError(f"{path}: malformed info (no integer total_episodes)")
        return info

    # -- staging -------------------------------------------------------------------------------

    def _episode_dir(self, index: int) -> Path:
        return self._staging / f"episode-{index:06d}"

    def has_episode(self, index: int) -> bool:
        """Whether episode ``index`` is staged or already part of the finalized dataset."""
        info = self._read_info()
        return (info is not None and index < info["total_episodes"]) or self._episode_dir(index).is_dir()

    @property
    def num_finalized(self) -> int:
        """Episodes already consolidated into the dataset's files (0 before the first finalize)."""
        info = self._read_info()
        return info["total_episodes"] if info is not None else 0

    def missing(self, num_episodes: int) -> list[int]:
        """The indices in ``range(num_episodes)`` that are neither staged nor finalized."""
        info = self._read_info()
        done = info["total_episodes"] if info is not None else 0
        staged = set(_staging_summary(self.root)[0])
        return [i for i in range(done, num_episodes) if i not in staged]

    def write_episode(
        self, index: int, episode: dict[str, np.ndarray], *, task: str, meta: dict | None = None
    ) -> None:
        """Validate, encode and stage one episode (``{feature: (T, ...)}``) atomically.

        Safe to call from several processes at once for different indices. Raises
        ``FileExistsError`` if the episode is already staged or finalized.
        """
        length = _validate_episode(self.features, index, episode, task)
        index = int(index)
        meta = _json_normalized(meta or {}, f"episode {index}: meta")
        if not isinstance(meta, dict):
            raise ValueError(f"episode {index}: meta must be a dict, got {type(meta).__name__}")
        if self.has_episode(index):
            raise FileExistsError(f"episode {index} is already written in {self.root}")
        self._ensure_manifest()
        _stage_episode(
            self._episode_dir(index),
            episode,
            index=index,
            task=task,
            length=length,
            meta=meta,
            features=self.features,
            fps=self.fps,
        )

    # -- finalize ------------------------------------------------------------------------------

    def finalize(self, num_episodes: int) -> None:
        """Consolidate staged episodes into the LeRobot v3.0 files so the dataset has ``num_episodes``.

        Idempotent, and safe to rerun after a kill at any point. With a finalized dataset of
        ``M < num_episodes`` episodes it appends episodes ``M..num_episodes-1`` in new files.
        Raises ``DatasetError`` naming the missing episodes if any is neither staged nor finalized.
        """
        if isinstance(num_episodes, bool) or not isinstance(num_episodes, int) or num_episodes < 1:
            raise ValueError(f"num_episodes must be a positive int, got {num_episodes!r}")
        info = self._read_info()
        done = info["total_episodes"] if info is not None else 0
        if info is not None:
            self._publish_pending(info["total_frames"])  # a kill right after the last commit
        if num_episodes < done:
            raise DatasetError(
                f"{self.root / INFO_PATH}: the dataset already has {done} episodes; "
                f"finalize({num_episodes}) cannot remove episodes"
            )
        if num_episodes > done:
            missing = self.missing(num_episodes)
            if missing:
                raise DatasetError(
                    f"{self.root}: cannot finalize {num_episodes} episodes, {len(missing)} are not written "
                    f"(e.g. {missing[:10]}); write them first (rerun the generate command)"
                )
            previous = EpisodeDataset(self.root) if info is not None else None
            self._remove_uncommitted(previous)
            self._consolidate(done, num_episodes, previous)
        self._cleanup(num_episodes)

    def _publish_pending(self, committed_frames: int) -> None:
        """Move pending stats/tasks into place if they belong to the committed info.json, else drop them."""
        pending_stats = self.root / _PENDING[STATS_PATH]
        if not pending_stats.is_file():
            return
        frames = _read_json(pending_stats).get("index", {}).get("count", [None])[0]
        if frames == committed_frames:
            if (self.root / _PENDING[TASKS_PATH]).is_file():  # not if killed between the two moves
                os.replace(self.root / _PENDING[TASKS_PATH], self.root / TASKS_PATH)
            os.replace(pending_stats, self.root / STATS_PATH)
        else:  # from a finalize killed before it committed
            (self.root / _PENDING[TASKS_PATH]).unlink(missing_ok=True)
            pending_stats.unlink()

    def _remove_uncommitted(self, previous: EpisodeDataset | None) -> None:
        """Delete the files a killed finalize wrote past the last one info.json references.

        Without this, a rerun with another ``num_episodes`` could leave stale files that a LeRobot
        reader (which globs ``meta/episodes``) would pick up.
        """
        kinds = {"data": "data/*/*.parquet", "meta/episodes": "meta/episodes/*/*.parquet"}
        kinds.update({f"videos/{k}": f"videos/{k}/*/*.mp4" for k in self.video_keys})
        for kind, pattern in kinds.items():
            last = previous.last_file(kind) if previous is not None else None
            for path in self.root.glob(pattern):
                location = _file_location(path)
                if location is not None and (last is None or location > last):
                    path.unlink()

    def _consolidate(self, start: int, stop: int, previous: EpisodeDataset | None) -> None:
        staged = [_load_staged(self._episode_dir(i), i, self.features) for i in range(start, stop)]
        tasks = list(previous.tasks) if previous is not None else []
        for record in staged:
            if record["task"] not in tasks:
                tasks.append(record["task"])
        frame_offset = previous.num_frames if previous is not None else 0
        froms = frame_offset + np.concatenate([[0], np.cumsum([r["length"] for r in staged])[:-1]])
        rows: list[dict[str, Any]] = [
            {
                "episode_index": record["episode_index"],
                "tasks": [record["task"]],
                "length": record["length"],
                "dataset_from_index": int(first),
                "dataset_to_index": int(first) + record["length"],
            }
            for record, first in zip(staged, froms, strict=True)
        ]

        # Data: consecutive episodes fill a parquet file, one row group per episode.
        data_sizes = [(self._episode_dir(r["episode_index"]) / "data.parquet").stat().st_size for r in staged]
        after = previous.last_file("data") if previous is not None else None
        data_files = _assign_files(data_sizes, self.data_files_size_in_mb * _MB, after, self.chunks_size)
        index_stats: list[dict[str, dict[str, np.ndarray]]] = [{} for _ in staged]
        for location, members in _group(data_files).items():
            tables = []
            for i in members:
                table, index_stats[i] = self._data_table(
                    staged[i], rows[i]["dataset_from_index"], tasks.index(staged[i]["task"])
                )
                tables.append(table)
            path = self.root / DATA_PATH.format(chunk_index=location[0], file_index=location[1])
            _write_parquet_atomic(path, tables)
            for i in members:
                rows[i]["data/chunk_index"], rows[i]["data/file_index"] = location

        # Videos: per key, consecutive episodes' mp4s are remuxed into one file.
        for key in self.video_keys:
            sources = [self._episode_dir(r["episode_index"]) / f"{key}.mp4" for r in staged]
            after = previous.last_file(f"videos/{key}") if previous is not None else None
            sizes = [p.stat().st_size for p in sources]
            video_files = _assign_files(sizes, self.video_files_size_in_mb * _MB, after, self.chunks_size)
            for location, members in _group(video_files).items():
                path = self.root / VIDEO_PATH.format(
                    video_key=key, chunk_index=location[0], file_index=location[1]
                )
                spans = concatenate_videos([sources[i] for i in members], path)
                for i, (begin, end) in zip(members, spans, strict=True):
                    rows[i][f"videos/{key}/chunk_index"], rows[i][f"videos/{key}/file_index"] = location
                    rows[i][f"videos/{key}/from_timestamp"], rows[i][f"videos/{key}/to_timestamp"] = (
                        begin,
                        end,
                    )

        # Episodes metadata with each episode's stats, merged into the dataset's along the way.
        stats = previous.stats if previous is not None else {}
        self._write_episodes(rows, staged, index_stats, previous, stats)

        write_bytes_atomic(self.root / _PENDING[TASKS_PATH], _parquet_bytes(_tasks_table(tasks)))
        _write_json_atomic(self.root / _PENDING[STATS_PATH], _stats_to_json(stats))
        total_frames = frame_offset + sum(r["length"] for r in staged)
        # The commit: from here on readers see the new episodes.
        _write_json_atomic(self.root / INFO_PATH, self._info(stop, total_frames, len(tasks)))
        self._publish_pending(total_frames)

    def _data_schema(self) -> pa.Schema:
        features = {**{k: self.features[k] for k in self.tabular_keys}, **INDEX_FEATURES}
        return pa.schema([pa.field(k, _arrow_type(s.dtype, s.shape)) for k, s in features.items()])

    def _data_table(self, record: dict[str, Any], first: int, task_index: int) -> tuple[pa.Table, dict]:
        """The final data rows of a staged episode (index columns added) and the index columns' stats."""
        folder = self._episode_dir(record["episode_index"])
        staged = pq.read_table(folder / "data.parquet")
        length = record["length"]
        if staged.num_rows != length:
            raise DatasetError(
                f"{folder}: staged episode is corrupt: {staged.num_rows} rows, episode.json says {length}"
            )
        frame_index = np.arange(length, dtype=np.int64)
        index_columns = {
            "timestamp": (frame_index / self.fps).astype(np.float32),
            "frame_index": frame_index,
            "episode_index": np.full(length, record["episode_index"], dtype=np.int64),
            "index": first + frame_index,
            "task_index": np.full(length, task_index, dtype=np.int64),
        }
        columns = {k: staged.column(k) for k in self.tabular_keys}
        columns.update({k: pa.array(v) for k, v in index_columns.items()})
        stats = {k: _tabular_stats(v[:, None]) for k, v in index_columns.items()}
        return pa.table(columns, schema=self._data_schema()), stats

    def _write_episodes(
        self,
        rows: list[dict[str, Any]],
        staged: list[dict[str, Any]],
        index_stats: list[dict[str, dict[str, np.ndarray]]],
        previous: EpisodeDataset | None,
        totals: dict[str, dict[str, np.ndarray]],
    ) -> None:
        """Write the episodes parquet files; merge each episode's stats into ``totals`` (in episode order)."""
        # Row size: dominated by the per-entry stats (min/max/mean/std) of image-like features.
        specs = [*self.features.values(), *INDEX_FEATURES.values()]
        stats_bytes = 8 * sum(4 * (3 if s.is_video else math.prod(s.shape)) + 1 for s in specs)
        sizes = [1024 + stats_bytes + len(json.dumps(r["meta"])) for r in staged]
        after = previous.last_file("meta/episodes") if previous is not None else None
        files = _assign_files(sizes, self.data_files_size_in_mb * _MB, after, self.chunks_size)
        for location, members in _group(files).items():
            # Loaded one file's worth at a time: all episodes' per-entry stats may not fit in memory.
            episode_stats = [
                {
                    **_load_staged_stats(self._episode_dir(staged[i]["episode_index"]), self.features),
                    **index_stats[i],
                }
                for i in members
            ]
            for stats in episode_stats:
                _merge_into(totals, stats)
            columns: dict[str, pa.Array] = {}
            for name in rows[0]:
                values = [rows[i][name] for i in members]
                columns[name] = pa.array(values, pa.list_(pa.string()) if name == "tasks" else None)
            columns["meta/episodes/chunk_index"] = pa.array([location[0]] * len(members), pa.int64())
            columns["meta/episodes/file_index"] = pa.array([location[1]] * len(members), pa.int64())
            columns["meta/json"] = pa.array([json.dumps(staged[i]["meta"], sort_keys=True) for i in members])
            for key, key_stats in episode_stats[0].items():
                for name, value in key_stats.items():
                    stacked = np.stack([stats[key][name] for stats in episode_stats])
                    columns[f"stats/{key}/{name}"] = _to_arrow(stacked, value.shape, scalar_if_single=False)
            path = self.root / EPISODES_PATH.format(chunk_index=location[0], file_index=location[1])
            _write_parquet_atomic(path, [pa.table(columns)])

    def _info(self, total_episodes: int, total_frames: int, total_tasks: int) -> dict[str, Any]:
        features = {}
        for key, spec in self.features.items():
            features[key] = spec.to_json()
            if spec.is_video:
                first = self.root / VIDEO_PATH.format(video_key=key, chunk_index=0, file_index=0)
                features[key]["info"] = probe_video(first)
        features.update({k: s.to_json() for k, s in INDEX_FEATURES.items()})
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": self.robot_type,
            "total_episodes": total_episodes,
            "total_frames": total_frames,
            "total_tasks": total_tasks,
            "chunks_size": self.chunks_size,
            "data_files_size_in_mb": self.data_files_size_in_mb,
            "video_files_size_in_mb": self.video_files_size_in_mb,
            "fps": int(self.fps) if self.fps.is_integer() else self.fps,
            "splits": {"train": f"0:{total_episodes}"},
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if self.video_keys else None,
            "features": features,
        }
        if self.tasks_description is not None:
            info["tasks_description"] = self.tasks_description
        info.update(self.info_extra)
        return info

    def _cleanup(self, num_episodes: int) -> None:
        """After info.json is written: drop staged episodes now in the dataset and stray temporary files."""
        staged, staging = _staging_summary(self.root)
        for index in staged:
            if index < num_episodes:
                shutil.rmtree(self._episode_dir(index))
        for folder in ("meta", "data", "videos"):
            if (self.root / folder).is_dir():
                for path in (self.root / folder).rglob(".*.tmp-*"):
                    if _TEMPORARY_FILE.match(path.name):
                        path.unlink(missing_ok=True)
        if staging.is_dir() and not any(i >= num_episodes for i in staged):
            shutil.rmtree(staging)  # also drops temporary folders of killed write_episode calls
