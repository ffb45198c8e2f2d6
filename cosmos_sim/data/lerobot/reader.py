"""``EpisodeDataset``: a checked reader of LeRobot v3.0 episode datasets, episodes as numpy arrays.

Opening checks everything but the video frames, so that a damaged or unfinished dataset fails at
once with an error naming the file, not midway through training. Episode rows past
``total_episodes`` belong to an extension whose finalize was killed before committing its
``info.json``: they are not part of the dataset yet and are ignored.
"""

from __future__ import annotations

import json
import math
from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cosmos_sim.data.lerobot.layout import (
    _PENDING,
    CODEBASE_VERSION,
    INDEX_FEATURES,
    INFO_PATH,
    STATS_PATH,
    TASKS_PATH,
    DatasetError,
    FeatureSpec,
    _group,
    _read_json,
    _recorded_features,
    _stats_from_json,
    _to_numpy,
)
from cosmos_sim.data.lerobot.staging import _staging_summary
from cosmos_sim.data.video_io import VideoError, decode_video


class EpisodeDataset:
    """A finalized LeRobot v3.0 episode dataset, checked on open; episodes load as numpy arrays.

    Opening validates ``meta/`` and that every referenced parquet and mp4 file exists and every
    parquet file is readable with the row count the episodes metadata implies; anything wrong
    raises ``DatasetError`` naming the file and the problem. Video frames are decoded and their
    count checked when an episode is loaded.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: no such dataset folder")
        info_path = self.root / INFO_PATH
        if not info_path.is_file():
            staged, staging = _staging_summary(self.root)
            if staging.is_dir():
                raise DatasetError(
                    f"{self.root}: unfinished dataset: {info_path} is missing and {len(staged)} episodes are "
                    f"staged in {staging}; finalize did not complete. Rerun the generate command with the "
                    "same settings to record the missing episodes and finalize."
                )
            raise DatasetError(f"{info_path}: missing; {self.root} is not a LeRobot v3.0 dataset")
        self._info = self._load_info(info_path)
        self._features = _recorded_features(self._info)
        self._stats = self._load_stats()
        self._tasks = self._load_tasks()
        self._episodes = self._load_episodes()
        self._check_files()

    # -- loading and checks --------------------------------------------------------------------

    def _load_info(self, path: Path) -> dict[str, Any]:
        info = _read_json(path)
        required = {
            "codebase_version": str, "total_episodes": int, "total_frames": int, "total_tasks": int,
            "chunks_size": int, "fps": (int, float), "data_path": str, "features": dict,
        }  # fmt: skip
        if not isinstance(info, dict):
            raise DatasetError(f"{path}: expected a JSON object, got {type(info).__name__}")
        for key, kind in required.items():
            if not isinstance(info.get(key), kind):
                raise DatasetError(f"{path}: key {key!r} is missing or not of type {kind}: {info.get(key)!r}")
        if info["codebase_version"] != CODEBASE_VERSION:
            raise DatasetError(
                f"{path}: codebase_version is {info['codebase_version']!r}; "
                f"this reader reads {CODEBASE_VERSION}"
            )
        try:
            features = {k: FeatureSpec.from_json(v) for k, v in info["features"].items()}
        except ValueError as error:
            raise DatasetError(f"{path}: invalid feature entry: {error}") from error
        if any(s.is_video for s in features.values()) and not isinstance(info.get("video_path"), str):
            raise DatasetError(f"{path}: has video features but no video_path template")
        if isinstance(info["fps"], bool) or not 0 < info["fps"] < math.inf:
            raise DatasetError(f"{path}: fps must be a positive finite number, got {info['fps']!r}")
        if not isinstance(info.get("cosmos_sim", {}), dict):
            raise DatasetError(
                f"{path}: cosmos_sim must be an object of recording settings, got {info['cosmos_sim']!r}"
            )
        # The path templates are filled in for every episode read: a wrong placeholder fails here, once.
        templates = {"data_path": {"chunk_index": 0, "file_index": 0}}
        if isinstance(info.get("video_path"), str):
            templates["video_path"] = {"video_key": "key", "chunk_index": 0, "file_index": 0}
        for key, fields in templates.items():
            try:
                info[key].format(**fields)
            except (KeyError, IndexError, ValueError, TypeError, AttributeError) as error:
                raise DatasetError(
                    f"{path}: {key} {info[key]!r} is not a template of {sorted(fields)} ({error!r})"
                ) from error
        return info

    def _interrupted_hint(self) -> str:
        if not (self.root / _PENDING[STATS_PATH]).is_file():
            return ""
        return (
            "; a finalize was interrupted right after writing info.json: rerun it (the generate command) "
            "to complete the dataset"
        )

    def _load_stats(self) -> dict[str, dict[str, np.ndarray]]:
        path = self.root / STATS_PATH
        if not path.is_file():
            raise DatasetError(f"{path}: missing{self._interrupted_hint()}")
        stats = _stats_from_json(_read_json(path), str(path))
        frames = stats.get("index", {}).get("count")
        if frames is not None and int(frames[0]) != self._info["total_frames"]:
            raise DatasetError(
                f"{path}: describes {int(frames[0])} frames, {INFO_PATH} says "
                f"total_frames={self._info['total_frames']}{self._interrupted_hint()}"
            )
        return stats

    def _load_tasks(self) -> list[str]:
        path = self.root / TASKS_PATH
        table = self._read_parquet(path, what="tasks")
        if "task" not in table.column_names or "task_index" not in table.column_names:
            raise DatasetError(f"{path}: needs columns 'task' and 'task_index', has {table.column_names}")
        order = np.argsort(table.column("task_index").to_numpy())
        tasks = [table.column("task").to_pylist()[i] for i in order]
        if sorted(table.column("task_index").to_pylist()) != list(range(len(tasks))):
            raise DatasetError(f"{path}: task_index values are not 0..{len(tasks) - 1}")
        if len(tasks) != self._info["total_tasks"]:
            raise DatasetError(
                f"{path}: has {len(tasks)} tasks, {INFO_PATH} says "
                f"total_tasks={self._info['total_tasks']}{self._interrupted_hint()}"
            )
        return tasks

    def _read_parquet(self, path: Path, *, what: str, columns: list[str] | None = None) -> pa.Table:
        if not path.is_file():
            raise DatasetError(f"{path}: missing {what} file")
        try:
            return pq.read_table(path, columns=columns)
        except (OSError, pa.ArrowException) as error:
            raise DatasetError(
                f"{path}: unreadable {what} parquet (corrupt or truncated): {error}"
            ) from error

    def _load_episodes(self) -> dict[str, np.ndarray]:
        paths = sorted((self.root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not paths:
            raise DatasetError(f"{self.root / 'meta' / 'episodes'}: no episodes metadata files")
        required = ["episode_index", "tasks", "length", "dataset_from_index", "dataset_to_index"]
        required += [
            "data/chunk_index",
            "data/file_index",
            "meta/episodes/chunk_index",
            "meta/episodes/file_index",
        ]
        for key in self.video_keys:
            required += [
                f"videos/{key}/{n}" for n in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")
            ]
        tables = []
        for path in paths:
            try:
                names = pq.read_schema(path).names
            except (OSError, pa.ArrowException) as error:
                raise DatasetError(
                    f"{path}: unreadable episodes parquet (corrupt or truncated): {error}"
                ) from error
            if absent := [c for c in required if c not in names]:
                raise DatasetError(f"{path}: episodes metadata lacks columns {absent}")
            # Per-episode stats can be large (per-entry stats of image-like features): not loaded.
            wanted = required + [c for c in ("meta/json",) if c in names]
            tables.append(self._read_parquet(path, what="episodes", columns=wanted))
        table = pa.concat_tables(tables, promote_options="permissive")
        total = self._info["total_episodes"]
        # Rows past total_episodes are from an extending finalize that was killed before committing
        # its info.json (it only ever adds new files): not part of the dataset yet.
        table = table.filter(pc.less(table.column("episode_index"), total))
        order = np.argsort(table.column("episode_index").to_numpy(), kind="stable")
        table = table.take(order)
        episodes = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
        episodes["tasks"] = [list(t) for t in table.column("tasks").to_pylist()]

        where = self.root / "meta" / "episodes"
        if not np.array_equal(episodes["episode_index"], np.arange(total)):
            raise DatasetError(
                f"{where}: holds {len(order)} episode rows, {INFO_PATH} says total_episodes={total} "
                f"(indices 0..{total - 1})"
            )
        lengths = episodes["length"]
        if int(lengths.sum()) != self._info["total_frames"]:
            raise DatasetError(
                f"{where}: episode lengths sum to {int(lengths.sum())}, "
                f"{INFO_PATH} says total_frames={self._info['total_frames']}"
            )
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        if not (
            np.array_equal(episodes["dataset_from_index"], starts)
            and np.array_equal(episodes["dataset_to_index"], starts + lengths)
        ):
            raise DatasetError(
                f"{where}: dataset_from_index/dataset_to_index do not match the episode lengths"
            )
        return episodes

    def _check_files(self) -> None:
        """Every referenced file exists; every data file is readable with the rows its episodes need."""
        episodes = self._episodes
        self._data_file_start: dict[tuple[int, int], int] = {}
        for location, members in _group(self._locations("data")).items():
            path = self._data_path(members[0])
            if not path.is_file():
                raise DatasetError(f"{path}: missing data file (episodes {members[0]}..{members[-1]})")
            try:
                rows = pq.read_metadata(path).num_rows
            except (OSError, pa.ArrowException) as error:
                raise DatasetError(
                    f"{path}: unreadable data parquet (corrupt or truncated): {error}"
                ) from error
            expected = int(episodes["length"][members].sum())
            if rows != expected:
                raise DatasetError(
                    f"{path}: has {rows} rows, the episodes metadata puts {expected} rows of episodes "
                    f"{members[0]}..{members[-1]} in it"
                )
            self._data_file_start[location] = int(episodes["dataset_from_index"][members].min())
        for key in self.video_keys:
            for members in _group(self._locations(f"videos/{key}")).values():
                path = self._video_path(members[0], key)
                if not path.is_file() or path.stat().st_size == 0:
                    raise DatasetError(f"{path}: missing or empty video file of {key!r}")

    def _locations(self, kind: str) -> list[tuple[int, int]]:
        """Each episode's ``(chunk_index, file_index)`` of ``kind`` (see ``last_file``)."""
        chunks, files = self._episodes[f"{kind}/chunk_index"], self._episodes[f"{kind}/file_index"]
        return list(zip(chunks.tolist(), files.tolist(), strict=True))

    def _location(self, kind: str, episode: int) -> tuple[int, int]:
        """The ``(chunk_index, file_index)`` of one episode's file of ``kind``."""
        return (
            int(self._episodes[f"{kind}/chunk_index"][episode]),
            int(self._episodes[f"{kind}/file_index"][episode]),
        )

    def _data_path(self, episode: int) -> Path:
        chunk, file = self._location("data", episode)
        return self.root / self._info["data_path"].format(chunk_index=chunk, file_index=file)

    def _video_path(self, episode: int, key: str) -> Path:
        chunk, file = self._location(f"videos/{key}", episode)
        return self.root / self._info["video_path"].format(video_key=key, chunk_index=chunk, file_index=file)

    # -- public --------------------------------------------------------------------------------

    @property
    def fps(self) -> float:
        return float(self._info["fps"])

    @property
    def features(self) -> dict[str, FeatureSpec]:
        """The recorded features (without LeRobot's index columns)."""
        return dict(self._features)

    @property
    def video_keys(self) -> list[str]:
        return [k for k, s in self._features.items() if s.is_video]

    @property
    def num_episodes(self) -> int:
        return int(self._info["total_episodes"])

    @property
    def num_frames(self) -> int:
        return int(self._info["total_frames"])

    @property
    def tasks(self) -> list[str]:
        """Task strings, position = ``task_index``."""
        return list(self._tasks)

    @property
    def stats(self) -> dict[str, dict[str, np.ndarray]]:
        """``meta/stats.json``: min/max/mean/std per entry (video: per channel in [0, 1]) and count."""
        return deepcopy(self._stats)

    @property
    def info(self) -> dict[str, Any]:
        return deepcopy(self._info)

    def _check_episode(self, index: int) -> int:
        if (
            isinstance(index, bool)
            or not isinstance(index, (int, np.integer))
            or not 0 <= index < self.num_episodes
        ):
            raise IndexError(
                f"episode index {index!r} out of range for {self.num_episodes} episodes in {self.root}"
            )
        return int(index)

    def episode_length(self, index: int) -> int:
        return int(self._episodes["length"][self._check_episode(index)])

    def episode_task(self, index: int) -> str:
        return self._episodes["tasks"][self._check_episode(index)][0]

    def episode_meta(self, index: int) -> dict[str, Any]:
        """The ``meta`` dict given to ``write_episode`` (``{}`` for datasets written without one)."""
        index = self._check_episode(index)
        if "meta/json" not in self._episodes:
            return {}
        return json.loads(self._episodes["meta/json"][index])

    def last_file(self, kind: str) -> tuple[int, int]:
        """The last ``(chunk_index, file_index)`` of ``kind``: "data", "meta/episodes" or "videos/<key>"."""
        return max(self._locations(kind))

    def load_episode(
        self, index: int, keys: list[str] | None = None, *, rows: tuple[int, int] | None = None
    ) -> dict[str, np.ndarray]:
        """Episode ``index`` as ``{key: (T, ...)}``: every feature, or ``keys`` (index columns allowed).

        ``rows=(start, stop)`` returns only rows ``start:stop``; videos then decode from the keyframe
        before ``start`` instead of from the episode's first frame.
        """
        index = self._check_episode(index)
        available = {**self._features, **INDEX_FEATURES}
        if isinstance(keys, str):
            raise TypeError(f"keys must be a list of feature names, got the string {keys!r} (use [{keys!r}])")
        keys = list(self._features) if keys is None else list(keys)
        if unknown := [k for k in keys if k not in available]:
            raise KeyError(f"unknown keys {unknown}; {self.root} has {list(available)}")
        length = self.episode_length(index)
        if rows is not None and not (
            isinstance(rows, (tuple, list, np.ndarray))
            and np.ndim(rows) == 1
            and len(rows) == 2
            and all(isinstance(r, (int, np.integer)) and not isinstance(r, (bool, np.bool_)) for r in rows)
        ):
            raise ValueError(f"rows must be (start, stop), two integers, got {rows!r}")
        start, stop = (0, length) if rows is None else (int(rows[0]), int(rows[1]))
        if not 0 <= start < stop <= length:
            raise ValueError(f"rows={rows!r} is not a non-empty range within episode {index}'s {length} rows")
        out: dict[str, np.ndarray] = {}
        tabular = [k for k in keys if not available[k].is_video]
        if tabular:
            path = self._data_path(index)
            table = self._read_rows(index, path, list(dict.fromkeys([*tabular, "episode_index"])))
            if not (table.column("episode_index").to_numpy() == index).all():
                raise DatasetError(
                    f"{path}: rows {self._episodes['dataset_from_index'][index]}.. are not episode {index}"
                )
            for key in tabular:
                spec = available[key]
                values = _to_numpy(table.column(key), spec.dtype, spec.shape, f"{path}: column {key!r}")
                out[key] = values[start:stop]
        for key in keys:
            if available[key].is_video:
                out[key] = self._load_video(index, key, start, stop)
        return {k: out[k] for k in keys}

    def _read_rows(self, index: int, path: Path, columns: list[str]) -> pa.Table:
        """The episode's rows of ``path``, reading only the row groups that hold them."""
        location = self._location("data", index)
        first = int(self._episodes["dataset_from_index"][index]) - self._data_file_start[location]
        stop = first + self.episode_length(index)
        try:
            parquet = pq.ParquetFile(path)
            if absent := [c for c in columns if c not in parquet.schema_arrow.names]:
                raise DatasetError(f"{path}: lacks columns {absent}")
            groups, group_start, read_from = [], 0, None
            for g in range(parquet.metadata.num_row_groups):
                group_stop = group_start + parquet.metadata.row_group(g).num_rows
                if group_stop > first and group_start < stop:
                    groups.append(g)
                    read_from = group_start if read_from is None else read_from
                group_start = group_stop
            table = parquet.read_row_groups(groups, columns=columns)
        except (OSError, pa.ArrowException) as error:
            raise DatasetError(f"{path}: unreadable data parquet (corrupt or truncated): {error}") from error
        rows = table.slice(first - (read_from or 0), stop - first)
        if rows.num_rows != stop - first:
            raise DatasetError(
                f"{path}: episode {index} needs rows {first}..{stop - 1}, the file ends before"
            )
        return rows

    def _load_video(self, index: int, key: str, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` of the episode's video (frame ``i`` sits at ``from_timestamp + i / fps``)."""
        path = self._video_path(index, key)
        begin = float(self._episodes[f"videos/{key}/from_timestamp"][index])
        end = float(self._episodes[f"videos/{key}/to_timestamp"][index])
        if (start, stop) != (0, self.episode_length(index)):
            begin, end = begin + start / self.fps, begin + stop / self.fps
        try:
            frames = decode_video(path, start=begin, end=end, expected_frames=stop - start)
        except (VideoError, FileNotFoundError) as error:
            raise DatasetError(f"{path}: cannot load {key!r} of episode {index}: {error}") from error
        if frames.shape[1:] != self._features[key].shape:
            raise DatasetError(
                f"{path}: frames are {frames.shape[1:]}, {INFO_PATH} says {self._features[key].shape}"
            )
        return frames

    def __len__(self) -> int:
        return self.num_episodes

    def __repr__(self) -> str:
        return (
            f"EpisodeDataset({str(self.root)!r}, episodes={self.num_episodes}, frames={self.num_frames}, "
            f"fps={self.fps:g}, features={list(self._features)})"
        )
