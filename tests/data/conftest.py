"""Synthetic episodes and a finalized reference dataset shared by the data tests.

Episodes look like small rendered scenes: a smooth colour gradient with three coloured squares
moving across it at 64x64. Their tabular features encode where each row came from, so that a
test can check alignment: ``observation.state[:, 0]`` is the episode index, ``[:, 1]`` the row,
and ``action[:, 0]`` the row as well.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

from cosmos_sim.data.lerobot import EpisodeWriter, FeatureSpec

FPS = 20
SIZE = 64
FRAMES_PER_STEP = 4
NUM_EPISODES = 7

FEATURES = {
    "observation.image": FeatureSpec("video", (SIZE, SIZE, 3)),
    "observation.state": FeatureSpec("float32", (4,), ["episode", "row", "x", "y"]),
    "action": FeatureSpec("float32", (2,)),
    "observation.camera_intrinsics": FeatureSpec("float32", (3, 3)),
    "observation.camera_extrinsics": FeatureSpec("float32", (4, 4)),
    "observation.depth": FeatureSpec("float32", (SIZE, SIZE, 1), ["height", "width", "channels"]),
    "next.reward": FeatureSpec("float64", (1,)),
    "next.done": FeatureSpec("bool", (1,)),
    "observation.contacts": FeatureSpec("int32", (2,)),
}

# Small limits so the few test episodes spread over several data/video files and chunks.
WRITER_ARGS = {
    "fps": FPS,
    "features": FEATURES,
    "robot_type": "synthetic",
    "chunks_size": 2,
    "data_files_size_in_mb": 0.6,
    "video_files_size_in_mb": 0.02,
    "info_extra": {"cosmos_sim": {"env_id": "synthetic-v0", "frames_per_step": FRAMES_PER_STEP}},
}


def episode_length(index: int) -> int:
    """1 + S*k rows with S = 2..6 control steps."""
    return 1 + FRAMES_PER_STEP * (2 + (3 * index) % 5)


def render_frames(index: int, length: int) -> np.ndarray:
    """uint8 (T, 64, 64, 3): a gradient background with three moving coloured squares."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    background = np.stack([60 + xx * 2, 80 + yy, np.full_like(xx, 120 + 10 * (index % 5))], axis=-1)
    frames = np.repeat(background[None].astype(np.uint8), length, axis=0)
    colours = [(230, 40, 40), (40, 200, 60), (50, 60, 220)]
    for t in range(length):
        for c, colour in enumerate(colours):
            x = (3 * t + 17 * c + 5 * index) % (SIZE - 12)
            y = (2 * t + 19 * c + 3 * index) % (SIZE - 12)
            frames[t, y : y + 12, x : x + 12] = colour
    return frames


def make_episode(index: int) -> dict[str, np.ndarray]:
    length = episode_length(index)
    rng = np.random.default_rng(1000 + index)
    rows = np.arange(length, dtype=np.float32)
    state = np.stack(
        [np.full(length, index, np.float32), rows, *rng.normal(size=(2, length)).astype(np.float32)], 1
    )
    action = np.stack([rows, rng.uniform(-1, 1, length).astype(np.float32)], 1)
    action[-1] = 0.0  # the recorder's convention: no action after the last frame
    # Smooth like a rendered depth map (a tilted plane and a moving bump), so parquet compresses it.
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    bump = np.exp(-((xx[None] - rows[:, None, None] / length) ** 2 + (yy[None] - 0.5) ** 2) * 20)
    depth = (1.0 + 0.5 * yy[None] + 0.1 * index - 0.2 * bump)[..., None].astype(np.float32)
    return {
        "observation.image": render_frames(index, length),
        "observation.state": state,
        "action": action,
        "observation.camera_intrinsics": rng.normal(size=(length, 3, 3)).astype(np.float32),
        "observation.camera_extrinsics": rng.normal(size=(length, 4, 4)).astype(np.float32),
        "observation.depth": depth,
        "next.reward": rng.normal(size=(length, 1)),
        "next.done": rng.random((length, 1)) > 0.7,
        "observation.contacts": rng.integers(-5, 5, size=(length, 2), dtype=np.int32),
    }


def task_of(index: int) -> str:
    return ["push the block", "reach the goal"][index % 2]


def meta_of(index: int) -> dict:
    return {"seed": 1000 + index, "policy": "random", "scene": {"block_size": [0.02 + 0.001 * index]}}


def write_episodes(root: Path, indices, **overrides) -> EpisodeWriter:
    writer = EpisodeWriter(root, **{**WRITER_ARGS, **overrides})
    for index in indices:
        writer.write_episode(index, make_episode(index), task=task_of(index), meta=meta_of(index))
    return writer


def _write_in_worker(args: tuple[str, int]) -> int:
    root, index = args
    write_episodes(Path(root), [index])
    return index


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="session")
def reference_dataset(tmp_path_factory) -> Path:
    """A finalized dataset of NUM_EPISODES episodes; odd ones written by a pool of 2 processes."""
    root = tmp_path_factory.mktemp("reference") / "dataset"
    # fork: the worker function lives in this conftest, which spawned children could not import.
    with mp.get_context("fork").Pool(2) as pool:
        done = pool.map(_write_in_worker, [(str(root), i) for i in range(1, NUM_EPISODES, 2)])
    assert done == list(range(1, NUM_EPISODES, 2))
    writer = write_episodes(root, range(0, NUM_EPISODES, 2))
    writer.finalize(NUM_EPISODES)
    return root


@pytest.fixture(scope="session")
def synthetic():
    """The helpers above, for test modules (with --import-mode=importlib they cannot import conftest)."""
    import sys

    return sys.modules[__name__]
