"""LeRobot v3.0 episode datasets: exact round trip, layout and metadata, resume after kills, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cosmos_sim.data.lerobot import DatasetError, EpisodeDataset, EpisodeWriter, FeatureSpec
from cosmos_sim.data.lerobot import writer as lerobot_writer

# ----------------------------------------------------------------------------------------------
# helpers


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _assert_same_dataset(a: Path, b: Path) -> None:
    """Same files with the same bytes: a resumed run must equal one that was never interrupted."""
    files_a, files_b = _files(a), _files(b)
    assert sorted(files_a) == sorted(files_b)
    assert [k for k in files_a if files_a[k] != files_b[k]] == []


def _copy(reference: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(reference, tmp_path / "copy"))


class _Killed(RuntimeError):
    pass


# ----------------------------------------------------------------------------------------------
# FeatureSpec


def test_feature_spec_validates_and_round_trips_through_json():
    spec = FeatureSpec("float32", [3, 3])
    assert spec.shape == (3, 3)
    assert FeatureSpec.from_json(json.loads(json.dumps(spec.to_json()))) == spec
    video = FeatureSpec("video", (64, 64, 3))
    assert video.names == ["height", "width", "channels"]
    assert FeatureSpec.from_json({**video.to_json(), "info": {"video.codec": "h264"}}) == video

    with pytest.raises(ValueError, match="dtype must be one of .* got 'float16'"):
        FeatureSpec("float16", (3,))
    with pytest.raises(ValueError, match=r"use \(1,\) for one number"):
        FeatureSpec("float32", ())
    with pytest.raises(ValueError, match=r"positive ints, got \(3, 0\)"):
        FeatureSpec("float32", (3, 0))
    with pytest.raises(ValueError, match=r"video FeatureSpec has shape \(H, W, 3\), got \(64, 64\)"):
        FeatureSpec("video", (64, 64))
    with pytest.raises(ValueError, match=r"names \['x'\] must name the 2 entries"):
        FeatureSpec("float32", (2,), ["x"])
    with pytest.raises(ValueError, match="image features .* not supported"):
        FeatureSpec.from_json({"dtype": "image", "shape": [8, 8, 3]})


# ----------------------------------------------------------------------------------------------
# round trip and layout


def test_every_episode_reads_back_exactly(reference_dataset, synthetic):
    dataset = EpisodeDataset(reference_dataset)
    assert dataset.num_episodes == synthetic.NUM_EPISODES
    assert dataset.fps == synthetic.FPS
    assert dataset.features == synthetic.FEATURES
    for index in range(synthetic.NUM_EPISODES):
        written = synthetic.make_episode(index)
        loaded = dataset.load_episode(index)
        assert list(loaded) == list(synthetic.FEATURES)
        for key, value in written.items():
            if key == "observation.image":
                assert loaded[key].shape == value.shape and loaded[key].dtype == np.uint8
                assert synthetic.psnr(loaded[key], value) >= 40.0, f"episode {index}"
            else:
                # Bit-exact, same dtype and shape, including (3, 3), (4, 4) and (64, 64, 1) features.
                assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape, key
                assert loaded[key].tobytes() == value.tobytes(), (index, key)
        assert dataset.episode_length(index) == synthetic.episode_length(index)
        assert dataset.episode_task(index) == synthetic.task_of(index)
        assert dataset.episode_meta(index) == synthetic.meta_of(index)


def test_load_episode_subsets_and_index_columns(reference_dataset, synthetic):
    dataset = EpisodeDataset(reference_dataset)
    starts = np.cumsum([0] + [synthetic.episode_length(i) for i in range(synthetic.NUM_EPISODES)])
    rows = dataset.load_episode(3, ["action", "timestamp", "frame_index", "index", "task_index"])
    length = synthetic.episode_length(3)
    np.testing.assert_array_equal(rows["action"], synthetic.make_episode(3)["action"])
    np.testing.assert_array_equal(rows["frame_index"][:, 0], np.arange(length))
    np.testing.assert_array_equal(rows["index"][:, 0], starts[3] + np.arange(length))
    np.testing.assert_array_equal(rows["timestamp"][:, 0], (np.arange(length) / 20).astype(np.float32))
    assert set(rows["task_index"][:, 0].tolist()) == {dataset.tasks.index(synthetic.task_of(3))}
    with pytest.raises(KeyError, match="unknown keys .*'nope'"):
        dataset.load_episode(0, ["nope"])
    with pytest.raises(IndexError, match="episode index 7 out of range for 7 episodes"):
        dataset.load_episode(7)


def test_info_json_follows_lerobot_v3(reference_dataset, synthetic):
    info = json.loads((reference_dataset / "meta" / "info.json").read_text())
    lengths = [synthetic.episode_length(i) for i in range(synthetic.NUM_EPISODES)]
    assert info["codebase_version"] == "v3.0"
    assert info["robot_type"] == "synthetic"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (7, sum(lengths), 2)
    assert (info["chunks_size"], info["data_files_size_in_mb"], info["video_files_size_in_mb"]) == (
        2,
        0.6,
        0.02,
    )
    assert info["fps"] == 20 and info["splits"] == {"train": "0:7"}
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    assert info["cosmos_sim"] == {"env_id": "synthetic-v0", "frames_per_step": 4}
    features = info["features"]
    assert list(features) == [
        *synthetic.FEATURES,
        "timestamp",
        "frame_index",
        "episode_index",
        "index",
        "task_index",
    ]
    assert features["observation.camera_intrinsics"] == {"dtype": "float32", "shape": [3, 3], "names": None}
    assert features["timestamp"] == {"dtype": "float32", "shape": [1], "names": None}
    assert features["observation.image"]["info"] == {
        "video.height": 64,
        "video.width": 64,
        "video.codec": "h264",
        "video.pix_fmt": "yuv444p",
        "video.is_depth_map": False,
        "video.fps": 20,
        "video.channels": 3,
        "has_audio": False,
    }
    assert not (reference_dataset / ".staging").exists()


def test_episodes_spread_over_several_files_and_chunks(reference_dataset, synthetic):
    data_files = sorted(
        str(p.relative_to(reference_dataset)) for p in reference_dataset.glob("data/*/*.parquet")
    )
    video_files = sorted(reference_dataset.glob("videos/observation.image/*/*.mp4"))
    # chunks_size=2: file indices 0, 1 then the next chunk.
    chunk_file = "data/chunk-{:03d}/file-{:03d}.parquet"
    assert data_files[:3] == [chunk_file.format(0, 0), chunk_file.format(0, 1), chunk_file.format(1, 0)]
    assert len(video_files) >= 2

    episodes = pa.concat_tables(
        pq.read_table(p) for p in sorted(reference_dataset.glob("meta/episodes/*/*.parquet"))
    ).to_pylist()
    lengths = [synthetic.episode_length(i) for i in range(synthetic.NUM_EPISODES)]
    assert [e["episode_index"] for e in episodes] == list(range(synthetic.NUM_EPISODES))
    assert [e["length"] for e in episodes] == lengths
    assert [e["dataset_from_index"] for e in episodes] == np.cumsum([0] + lengths[:-1]).tolist()
    assert [e["dataset_to_index"] for e in episodes] == np.cumsum(lengths).tolist()
    assert [e["tasks"] for e in episodes] == [[synthetic.task_of(i)] for i in range(synthetic.NUM_EPISODES)]
    assert [json.loads(e["meta/json"]) for e in episodes] == [
        synthetic.meta_of(i) for i in range(synthetic.NUM_EPISODES)
    ]
    # Several episodes per mp4, back to back: a file's episodes tile its time line from 0.
    for group in _groups(episodes, "videos/observation.image").values():
        spans = [
            (e["videos/observation.image/from_timestamp"], e["videos/observation.image/to_timestamp"])
            for e in group
        ]
        assert spans[0][0] == 0.0
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))
        assert all(
            np.isclose(to - start, e["length"] / 20) for (start, to), e in zip(spans, group, strict=True)
        )
    assert max(len(g) for g in _groups(episodes, "videos/observation.image").values()) >= 2
    assert max(len(g) for g in _groups(episodes, "data").values()) >= 2
    assert len(_groups(episodes, "meta/episodes")) >= 2
    # Every data file holds exactly its episodes' rows, in order, as LeRobot columns.
    for (chunk, file), group in _groups(episodes, "data").items():
        table = pq.read_table(reference_dataset / f"data/chunk-{chunk:03d}/file-{file:03d}.parquet")
        assert table.column("index").to_pylist() == list(
            range(group[0]["dataset_from_index"], group[-1]["dataset_to_index"])
        )
        assert set(table.column("episode_index").to_pylist()) == {e["episode_index"] for e in group}
        assert table.schema.field("observation.camera_intrinsics").type == pa.list_(
            pa.list_(pa.float32(), 3), 3
        )
        assert table.schema.field("next.reward").type == pa.float64()  # (1,) features are scalar columns

    tasks = pq.read_table(reference_dataset / "meta" / "tasks.parquet")
    assert tasks.to_pylist() == [
        {"task_index": 0, "task": "push the block"},
        {"task_index": 1, "task": "reach the goal"},
    ]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]


def _groups(episodes: list[dict], prefix: str) -> dict[tuple[int, int], list[dict]]:
    groups: dict[tuple[int, int], list[dict]] = {}
    for episode in episodes:
        groups.setdefault((episode[f"{prefix}/chunk_index"], episode[f"{prefix}/file_index"]), []).append(
            episode
        )
    return groups


def test_stats_agree_with_the_written_values(reference_dataset, synthetic):
    dataset = EpisodeDataset(reference_dataset)
    stats = dataset.stats
    written = [synthetic.make_episode(i) for i in range(synthetic.NUM_EPISODES)]
    for key in (
        "observation.state",
        "action",
        "observation.camera_extrinsics",
        "observation.depth",
        "next.done",
    ):
        values = np.concatenate([w[key] for w in written]).astype(np.float64)
        np.testing.assert_allclose(stats[key]["mean"], values.mean(axis=0), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(stats[key]["std"], values.std(axis=0), rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(stats[key]["min"], values.min(axis=0))
        np.testing.assert_array_equal(stats[key]["max"], values.max(axis=0))
        assert stats[key]["count"].tolist() == [dataset.num_frames]
    frames = np.concatenate([w["observation.image"] for w in written]).astype(np.float64) / 255
    assert stats["observation.image"]["mean"].shape == (3, 1, 1)
    np.testing.assert_allclose(
        stats["observation.image"]["mean"][:, 0, 0], frames.mean(axis=(0, 1, 2)), rtol=1e-9
    )
    np.testing.assert_allclose(
        stats["observation.image"]["std"][:, 0, 0], frames.std(axis=(0, 1, 2)), rtol=1e-9
    )
    np.testing.assert_array_equal(stats["observation.image"]["max"][:, 0, 0], frames.max(axis=(0, 1, 2)))
    np.testing.assert_array_equal(stats["index"]["max"], [dataset.num_frames - 1])
    # Per-episode stats are kept in the episodes parquet, LeRobot style.
    table = pq.read_table(next(reference_dataset.glob("meta/episodes/chunk-000/file-000.parquet")))
    first = np.array(table.column("stats/action/mean").to_pylist()[0])
    np.testing.assert_allclose(first, written[0]["action"].astype(np.float64).mean(axis=0), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# resume


def test_resume_after_partial_writes_and_stray_temporary_folders(reference_dataset, tmp_path, synthetic):
    root = tmp_path / "dataset"
    synthetic.write_episodes(root, [0, 2, 5])
    # A killed write_episode leaves only a temporary folder; it must be ignored and cleaned up.
    stray = root / ".staging" / "tmp-episode-000001-99999-deadbeef"
    stray.mkdir()
    (stray / "data.parquet").write_bytes(b"half written")
    writer = EpisodeWriter(root, **synthetic.WRITER_ARGS)
    assert writer.missing(synthetic.NUM_EPISODES) == [1, 3, 4, 6]
    assert writer.has_episode(2) and not writer.has_episode(1)
    with pytest.raises(
        DatasetError, match=r"cannot finalize 7 episodes, 4 are not written \(e\.g\. \[1, 3, 4, 6\]\)"
    ):
        writer.finalize(synthetic.NUM_EPISODES)
    for index in writer.missing(synthetic.NUM_EPISODES):
        writer.write_episode(
            index, synthetic.make_episode(index), task=synthetic.task_of(index), meta=synthetic.meta_of(index)
        )
    with pytest.raises(FileExistsError, match="episode 3 is already written"):
        writer.write_episode(3, synthetic.make_episode(3), task=synthetic.task_of(3))
    writer.finalize(synthetic.NUM_EPISODES)
    _assert_same_dataset(root, reference_dataset)


@pytest.mark.parametrize("kill_at", ["second video file", "info.json", "publish", "cleanup"])
def test_finalize_killed_at_any_point_resumes_to_the_same_dataset(
    reference_dataset, tmp_path, synthetic, monkeypatch, kill_at
):
    root = tmp_path / "dataset"
    writer = synthetic.write_episodes(root, range(synthetic.NUM_EPISODES))
    real_concatenate, real_write_json = lerobot_writer.concatenate_videos, lerobot_writer._write_json_atomic
    video_files = []

    def concatenate(paths, out_path):
        video_files.append(out_path)
        if kill_at == "second video file" and len(video_files) == 2:
            raise _Killed(kill_at)
        return real_concatenate(paths, out_path)

    def write_json(path, data):
        if kill_at == "info.json" and path.name == "info.json":
            raise _Killed(kill_at)
        real_write_json(path, data)

    def die(self, *args):
        raise _Killed(kill_at)

    monkeypatch.setattr(lerobot_writer, "concatenate_videos", concatenate)
    monkeypatch.setattr(lerobot_writer, "_write_json_atomic", write_json)
    if kill_at == "publish":  # right after info.json, before stats.json/tasks.parquet move into place
        monkeypatch.setattr(EpisodeWriter, "_publish_pending", die)
    if kill_at == "cleanup":
        monkeypatch.setattr(EpisodeWriter, "_cleanup", die)
    with pytest.raises(_Killed):
        writer.finalize(synthetic.NUM_EPISODES)
    monkeypatch.undo()
    if kill_at == "cleanup":
        assert EpisodeDataset(root).num_episodes == synthetic.NUM_EPISODES  # committed, staging still there
    elif kill_at == "publish":
        with pytest.raises(
            DatasetError, match="stats.json: missing; a finalize was interrupted right after writing"
        ):
            EpisodeDataset(root)
    else:
        with pytest.raises(
            DatasetError, match="unfinished dataset: .* 7 episodes are staged .* Rerun the generate"
        ):
            EpisodeDataset(root)
    EpisodeWriter(root, **synthetic.WRITER_ARGS).finalize(synthetic.NUM_EPISODES)
    _assert_same_dataset(root, reference_dataset)


def test_finalize_is_idempotent(reference_dataset, tmp_path, synthetic):
    root = _copy(reference_dataset, tmp_path)
    before = _files(root)
    writer = EpisodeWriter(root, **synthetic.WRITER_ARGS)
    assert writer.missing(synthetic.NUM_EPISODES) == []
    writer.finalize(synthetic.NUM_EPISODES)
    assert _files(root) == before
    with pytest.raises(DatasetError, match="already has 7 episodes; finalize\\(5\\) cannot remove"):
        writer.finalize(5)


def test_extending_a_finalized_dataset_appends_new_files(reference_dataset, tmp_path, synthetic):
    root = tmp_path / "dataset"
    synthetic.write_episodes(root, range(4)).finalize(4)
    before = _files(root)
    writer = EpisodeWriter(root, **synthetic.WRITER_ARGS)
    assert writer.missing(synthetic.NUM_EPISODES) == [4, 5, 6]
    synthetic.write_episodes(root, [4, 5, 6]).finalize(synthetic.NUM_EPISODES)

    after = _files(root)
    changed = sorted(k for k in before if after[k] != before[k])
    assert changed == ["meta/info.json", "meta/stats.json"]  # data, videos and episodes files untouched
    extended, reference = EpisodeDataset(root), EpisodeDataset(reference_dataset)
    assert extended.num_frames == reference.num_frames and extended.tasks == reference.tasks
    for index in range(synthetic.NUM_EPISODES):
        a, b = extended.load_episode(index), reference.load_episode(index)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"episode {index} {key}")
    for key, stats in reference.stats.items():
        for name, value in stats.items():
            np.testing.assert_allclose(extended.stats[key][name], value, rtol=1e-9, err_msg=f"{key} {name}")


# ----------------------------------------------------------------------------------------------
# bad inputs: each is a clear error, and nothing written before is lost


def test_write_episode_rejects_bad_episodes_naming_the_key(tmp_path, synthetic):
    writer = synthetic.write_episodes(tmp_path / "dataset", [0])
    good = synthetic.make_episode(1)
    n = len(good["action"])
    float_frames = good["observation.image"].astype(np.float32)
    wide_action = np.zeros((n, 3), np.float32)
    nan_state = good["observation.state"].copy()
    nan_state[2, 1] = np.nan
    cases = {
        "missing \\['action'\\]": {k: v for k, v in good.items() if k != "action"},
        "unexpected \\['extra'\\]": {**good, "extra": good["action"]},
        f"'action' has shape \\({n}, 3\\), expected \\(T, \\*\\(2,\\)\\)": {**good, "action": wide_action},
        "'action' has dtype float64, expected float32": {**good, "action": good["action"].astype(np.float64)},
        "'observation.image' has dtype float32, expected uint8": {**good, "observation.image": float_frames},
        f"'action' has {n - 1} rows, other features have {n}": {**good, "action": good["action"][:-1]},
        "'observation.state' has NaN/inf values at rows \\[2\\]": {**good, "observation.state": nan_state},
    }  # fmt: skip
    for message, episode in cases.items():
        with pytest.raises(ValueError, match=f"episode 1: .*{message}"):
            writer.write_episode(1, episode, task="t")
    with pytest.raises(ValueError, match="JSON-serializable"):
        writer.write_episode(1, good, task="t", meta={"rng": np.random.default_rng()})
    with pytest.raises(ValueError, match="task must be a non-empty string"):
        writer.write_episode(1, good, task="")
    # Nothing was staged by the failed calls, and the earlier episode is still there.
    assert writer.missing(3) == [1, 2]
    assert sorted(p.name for p in (tmp_path / "dataset" / ".staging").iterdir()) == [
        "episode-000000",
        "manifest.json",
    ]


def test_writer_with_other_settings_refuses_to_touch_a_dataset(reference_dataset, tmp_path, synthetic):
    root = _copy(reference_dataset, tmp_path)
    before = _files(root)
    with pytest.raises(
        DatasetError, match=r"info\.json: .*other settings:\n  fps: existing 20\.0, requested 30\.0"
    ):
        EpisodeWriter(root, **{**synthetic.WRITER_ARGS, "fps": 30})
    other_features = {**synthetic.FEATURES, "action": FeatureSpec("float32", (3,))}
    with pytest.raises(
        DatasetError, match=r"features: existing .*'shape': \[2\].*requested .*'shape': \[3\]"
    ):
        EpisodeWriter(root, **{**synthetic.WRITER_ARGS, "features": other_features})
    assert _files(root) == before

    staged = tmp_path / "staged"
    synthetic.write_episodes(staged, [0])
    with pytest.raises(
        DatasetError, match=r"manifest\.json: .*other settings:\n  robot_type: existing 'synthetic'"
    ):
        EpisodeWriter(staged, **{**synthetic.WRITER_ARGS, "robot_type": "other"})
    assert EpisodeWriter(staged, **synthetic.WRITER_ARGS).missing(2) == [1]  # same settings: resume

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("my files")
    with pytest.raises(DatasetError, match="folder is not empty and holds no episode dataset"):
        EpisodeWriter(foreign, **synthetic.WRITER_ARGS)


def test_truncated_parquet_is_named(reference_dataset, tmp_path):
    root = _copy(reference_dataset, tmp_path)
    path = root / "data" / "chunk-000" / "file-001.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"data/chunk-000/file-001\.parquet: unreadable data parquet"):
        EpisodeDataset(root)
    episodes = root / "meta" / "episodes" / "chunk-000" / "file-000.parquet"
    episodes.write_bytes(b"PAR1 garbage")
    with pytest.raises(
        DatasetError, match=r"meta/episodes/chunk-000/file-000\.parquet: unreadable episodes parquet"
    ):
        EpisodeDataset(root)


def test_row_counts_that_disagree_with_the_metadata_are_named(reference_dataset, tmp_path):
    root = _copy(reference_dataset, tmp_path)
    path = root / "data" / "chunk-000" / "file-000.parquet"
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 1), path)
    expected = (
        rf"file-000\.parquet: has {table.num_rows - 1} rows, the episodes metadata puts {table.num_rows}"
    )
    with pytest.raises(DatasetError, match=expected):
        EpisodeDataset(root)

    root = _copy(reference_dataset, tmp_path / "second")
    info = json.loads((root / "meta" / "info.json").read_text())
    (root / "meta" / "info.json").write_text(json.dumps({**info, "total_episodes": 8}))
    with pytest.raises(DatasetError, match="holds 7 episode rows, meta/info.json says total_episodes=8"):
        EpisodeDataset(root)


def test_missing_and_corrupt_videos_are_named(reference_dataset, tmp_path):
    root = _copy(reference_dataset, tmp_path)
    video = root / "videos" / "observation.image" / "chunk-000" / "file-001.mp4"
    data = video.read_bytes()
    video.write_bytes(data[:200] + bytes(len(data) - 400) + data[-200:])  # zero the middle: packets destroyed
    dataset = EpisodeDataset(root)
    episode = next(
        i for i in range(dataset.num_episodes) if dataset._video_path(i, "observation.image") == video
    )
    with pytest.raises(
        DatasetError, match=rf"file-001\.mp4: cannot load 'observation.image' of episode {episode}"
    ):
        dataset.load_episode(episode)
    assert (
        dataset.load_episode(episode, ["action"])["action"].dtype == np.float32
    )  # tabular data still readable

    video.unlink()
    with pytest.raises(
        DatasetError, match=r"videos/observation\.image/chunk-000/file-001\.mp4: missing or empty video"
    ):
        EpisodeDataset(root)


def test_bad_info_json_and_unfinished_datasets_are_named(reference_dataset, tmp_path, synthetic):
    root = _copy(reference_dataset, tmp_path)
    info = root / "meta" / "info.json"
    good = json.loads(info.read_text())
    info.write_text(json.dumps({**good, "fps": 0}))
    with pytest.raises(DatasetError, match=r"meta/info\.json: fps must be a positive finite number, got 0"):
        EpisodeDataset(root)
    info.write_text(json.dumps({**good, "fps": float("inf")}))
    with pytest.raises(DatasetError, match=r"fps must be a positive finite number, got inf"):
        EpisodeDataset(root)
    info.write_text(json.dumps({**good, "cosmos_sim": None}))
    with pytest.raises(DatasetError, match=r"info\.json: cosmos_sim must be an object of recording settings"):
        EpisodeDataset(root)
    info.write_text(json.dumps(good))
    stats_file = root / "meta" / "stats.json"
    stats = json.loads(stats_file.read_text())
    feature = next(k for k in stats if k != "index")
    for edited, message in (
        (
            {**stats, "index": {**stats["index"], "count": stats["index"]["count"][0]}},
            "'index': count must be",
        ),
        (
            {**stats, feature: {**stats[feature], "mean": "oops"}},
            rf"'{feature}': mean must be a list of numbers",
        ),
        (
            {**stats, feature: {**stats[feature], "mean": [1, [2]]}},
            rf"'{feature}': mean must be a list of numbers",
        ),
    ):
        stats_file.write_text(json.dumps(edited))
        with pytest.raises(DatasetError, match=r"meta/stats\.json: stats of " + message):
            EpisodeDataset(root)
    stats_file.write_text(json.dumps(stats))
    dataset = EpisodeDataset(root)
    with pytest.raises(TypeError, match=r"keys must be a list of feature names, got the string 'action'"):
        dataset.load_episode(0, keys="action")
    assert len(dataset.load_episode(0, ["action"], rows=np.array([0, 2]))["action"]) == 2
    for rows in ((0.5, 3), (0, 1, 2)):
        with pytest.raises(ValueError, match=r"rows must be \(start, stop\), two integers"):
            dataset.load_episode(0, rows=rows)
    info.write_text(json.dumps({**good, "data_path": "data/chunk-{chunk}/file-{file_index:03d}.parquet"}))
    with pytest.raises(DatasetError, match=r"meta/info\.json: data_path .* is not a template of"):
        EpisodeDataset(root)
    info.write_text("{ not json")
    with pytest.raises(DatasetError, match=r"meta/info\.json: not valid JSON"):
        EpisodeDataset(root)
    info.write_text(json.dumps({"codebase_version": "v2.1"}))
    with pytest.raises(DatasetError, match=r"meta/info\.json: key 'total_episodes' is missing"):
        EpisodeDataset(root)
    info.unlink()
    with pytest.raises(DatasetError, match=r"meta/info\.json: missing; .* is not a LeRobot v3\.0 dataset"):
        EpisodeDataset(root)

    unfinished = tmp_path / "unfinished"
    synthetic.write_episodes(unfinished, [0, 1, 4])
    with pytest.raises(
        DatasetError, match=r"unfinished dataset: .*info\.json is missing and 3 episodes are staged"
    ):
        EpisodeDataset(unfinished)
    with pytest.raises(DatasetError, match="no such dataset folder"):
        EpisodeDataset(tmp_path / "nowhere")


def test_killed_extension_keeps_the_old_dataset_and_leaves_no_stale_files(tmp_path, synthetic, monkeypatch):
    def build(root: Path, interrupt: bool) -> None:
        synthetic.write_episodes(root, range(4)).finalize(4)
        writer = synthetic.write_episodes(root, range(4, synthetic.NUM_EPISODES))
        if interrupt:
            real = lerobot_writer._write_json_atomic

            def write_json(path, data):
                if path.name == "info.json":
                    raise _Killed("extension killed before its commit")
                real(path, data)

            monkeypatch.setattr(lerobot_writer, "_write_json_atomic", write_json)
            with pytest.raises(_Killed):
                writer.finalize(synthetic.NUM_EPISODES)
            monkeypatch.undo()
            # The extension's new files are written but not committed: the old dataset is intact.
            old = EpisodeDataset(root)
            assert old.num_episodes == 4
            np.testing.assert_array_equal(old.load_episode(3)["action"], synthetic.make_episode(3)["action"])
        writer.finalize(5)  # resumed with another target than the killed run
        writer.finalize(synthetic.NUM_EPISODES)

    build(tmp_path / "interrupted", interrupt=True)
    build(tmp_path / "clean", interrupt=False)
    _assert_same_dataset(tmp_path / "interrupted", tmp_path / "clean")
    assert EpisodeDataset(tmp_path / "interrupted").num_episodes == synthetic.NUM_EPISODES
