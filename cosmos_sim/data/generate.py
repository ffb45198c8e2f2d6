"""``cosmos-sim generate``: record N episodes of a scene into a LeRobot v3 dataset, resumably.

Episodes are recorded by a pool of worker processes. Each finished episode is staged on disk
atomically by ``EpisodeWriter.write_episode``, so a run killed at any moment loses at most the
episodes in flight; re-running the same command records only the missing indices and then
consolidates everything into the v3 files. Episode ``i`` is seeded with ``seed + i`` (env reset,
policy noise, and the expert/random choice of a ``mix``), so which process records it, and
whether the run was interrupted, does not change its content.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import signal
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from cosmos_sim.data.lerobot import DatasetError, EpisodeDataset, EpisodeWriter
from cosmos_sim.data.recording import episode_features, make_recording_env, record_episode
from cosmos_sim.data.video_io import VideoError, probe_video
from cosmos_sim.envs.policies import make_policy

POLICIES = ("random", "expert", "mix", "zero", "mpc")


@dataclass
class GenerateConfig:
    """What to record and where."""

    output: str
    """Dataset folder (created; an existing one made with the same settings is completed)."""
    env_id: str = "cosmos_sim/PushBlock-v0"
    """Registered scene id, e.g. ``cosmos_sim/PushBlock-v0``."""
    num_episodes: int = 100
    """Total episodes the dataset must hold."""
    policy: str = "expert"
    """``random``, ``expert`` (scripted), ``mix`` (expert or random per episode), ``zero`` or ``mpc``
    (CEM on the MuJoCo oracle plus exploration noise: a planner's actions)."""
    expert_fraction: float = 0.5
    """Share of ``mix`` episodes recorded with the expert."""
    expert_noise: float = 0.0
    """Std of Gaussian noise on the expert's actions."""
    seed: int = 0
    """Episode ``i`` is reset with seed ``seed + i``."""
    workers: int = 2
    """Recording processes."""
    max_steps: int | None = None
    """Steps per episode; default: the env's registered time limit."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``gym.make`` (e.g. ``{"width": 128, "height": 128}``)."""
    reset_options: dict[str, Any] = field(default_factory=dict)
    """Options for every ``reset`` (e.g. ``{"domain_randomization": true}``)."""

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"GenerateConfig.policy must be one of {POLICIES}, got {self.policy!r}")
        if self.num_episodes < 1:
            raise ValueError(f"GenerateConfig.num_episodes must be >= 1, got {self.num_episodes!r}")
        if self.workers < 1:
            raise ValueError(f"GenerateConfig.workers must be >= 1, got {self.workers!r}")
        if not 0.0 <= self.expert_fraction <= 1.0:
            raise ValueError(
                f"GenerateConfig.expert_fraction must be in [0, 1], got {self.expert_fraction!r}"
            )
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"GenerateConfig.max_steps must be >= 1, got {self.max_steps!r}")
        if not 0.0 <= self.expert_noise < math.inf:  # NaN fails too
            raise ValueError(
                f"GenerateConfig.expert_noise must be a finite number >= 0, got {self.expert_noise!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"GenerateConfig.seed must be an integer >= 0 (reset seeds), got {self.seed!r}")
        # A file on the way to the output would only show once a worker process writes an episode.
        output = Path(self.output)
        existing = next((p for p in (output, *output.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise ValueError(f"GenerateConfig.output {output}: {existing} exists and is not a folder")


class _Recorder:
    """One env and its policies, built once per worker process."""

    def __init__(self, cfg: GenerateConfig) -> None:
        self.cfg = cfg
        self.env = make_recording_env(cfg.env_id, cfg.env_kwargs)
        space = self.env.action_space
        self.policies = {
            "random": make_policy("random", cfg.env_id, space),
            "zero": make_policy("zero", cfg.env_id, space),
        }
        if cfg.policy in ("expert", "mix"):
            self.policies["expert"] = make_policy("expert", cfg.env_id, space, noise=cfg.expert_noise)
        if cfg.policy == "mpc":
            self.policies["mpc"] = make_policy("mpc", cfg.env_id, space, env=self.env)

    def policy_for(self, seed: int):
        if self.cfg.policy != "mix":
            return self.policies[self.cfg.policy]
        # The choice uses its own stream of the episode seed, independent of the policy's noise.
        use_expert = np.random.default_rng([seed, 1]).random() < self.cfg.expert_fraction
        return self.policies["expert" if use_expert else "random"]

    def record(self, index: int):
        seed = self.cfg.seed + index
        return record_episode(
            self.env,
            self.policy_for(seed),
            seed=seed,
            options=self.cfg.reset_options or None,
            max_steps=self.cfg.max_steps,
        )


_worker: tuple[_Recorder, EpisodeWriter] | None = None


def _init_worker(cfg: GenerateConfig, writer_args: dict[str, Any]) -> None:
    global _worker
    # Ctrl-C reaches the whole process group: the main process stops the run; a worker finishes the
    # episodes already handed to it (at most workers + 1 in all; kept) instead of dying half-way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker = (_Recorder(cfg), EpisodeWriter(**writer_args))


def _record_and_stage(index: int) -> tuple[int, bool]:
    recorder, writer = _worker
    episode, meta = recorder.record(index)
    writer.write_episode(index, episode, task=recorder.env.unwrapped.task_description, meta=meta)
    return index, bool(meta["success"])


def _writer_args(cfg: GenerateConfig, recorder: _Recorder) -> dict[str, Any]:
    """Writer settings, derived from one probe episode so features match what workers record."""
    probe, _ = record_episode(recorder.env, recorder.policies["random"], seed=cfg.seed, max_steps=1)
    env = recorder.env.unwrapped
    return {
        "root": cfg.output,
        "fps": float(env.fps),
        "features": episode_features(probe),
        "robot_type": cfg.env_id.split("/")[-1],
        "info_extra": {
            "cosmos_sim": {
                "env_id": cfg.env_id,
                "env_kwargs": cfg.env_kwargs,
                "reset_options": cfg.reset_options,
                "frames_per_step": env.frames_per_step,
                "policy": cfg.policy,
                "expert_fraction": cfg.expert_fraction,
                "expert_noise": cfg.expert_noise,
                "seed": cfg.seed,
                "max_steps": cfg.max_steps,
            }
        },
    }


def _record_in_workers(
    cfg: GenerateConfig, writer_args: dict[str, Any], todo: list[int], *, progress: bool
) -> None:
    # spawn, not fork: a forked child must not inherit the parent's OpenGL context. A process
    # pool from concurrent.futures, not multiprocessing.Pool: when a worker dies (killed, out of
    # memory, a crash in the GL driver) the run fails instead of waiting forever for its episode.
    workers = min(cfg.workers, len(todo))
    bar = tqdm(
        total=cfg.num_episodes, initial=cfg.num_episodes - len(todo), desc="episodes", disable=not progress
    )
    with ProcessPoolExecutor(
        workers, mp_context=mp.get_context("spawn"), initializer=_init_worker, initargs=(cfg, writer_args)
    ) as pool:
        futures = [pool.submit(_record_and_stage, index) for index in todo]
        try:
            for future in as_completed(futures):
                future.result()
                bar.update(1)
        except BaseException as error:
            # Stop here: drop the queued episodes and wait for the ones being recorded, which are kept.
            # (Leaving the block alone would record every queued episode first: its shutdown does not
            # cancel them, and would undo a cancel that has not taken effect yet.)
            bar.close()
            kept = f"the episodes finished so far are kept in {cfg.output}: re-run the same command to record the rest"
            interrupted = isinstance(error, KeyboardInterrupt)
            try:
                pool.shutdown(wait=True, cancel_futures=True)
            except KeyboardInterrupt:  # a second Ctrl-C while waiting: stop waiting, say the same
                interrupted = True
            if interrupted:
                raise KeyboardInterrupt(f"generate interrupted; {kept}") from None
            if isinstance(error, BrokenProcessPool):
                raise RuntimeError(f"a recording process for {cfg.output} died ({error}); {kept}") from error
            raise
        bar.close()


def generate(cfg: GenerateConfig, *, progress: bool = True) -> dict[str, Any]:
    """Record the missing episodes of ``cfg.output`` and finalize the dataset; return a summary."""
    start = time.perf_counter()
    probe = _Recorder(cfg)
    writer_args = _writer_args(cfg, probe)
    probe.env.close()
    writer = EpisodeWriter(**writer_args)
    todo = writer.missing(cfg.num_episodes)
    recorded = len(todo)
    if todo:
        _record_in_workers(cfg, writer_args, todo, progress=progress)
    # A dataset that already holds more episodes than asked for is complete, not shrunk.
    total = max(cfg.num_episodes, writer.num_finalized)
    writer.finalize(total)
    try:  # a dataset found complete is not re-read by finalize: a damaged file or edited meta shows here
        EpisodeDataset(cfg.output)
        for video in sorted(Path(cfg.output, "videos").rglob("*.mp4")):
            try:  # opening reads the index at the end of the file: a truncated file fails here
                probe_video(video)
            except VideoError as bad:
                raise DatasetError(f"{video}: unreadable (corrupt or truncated): {bad}") from bad
    except DatasetError as error:
        raise DatasetError(
            f"{cfg.output} holds its {total} episodes but cannot be read ({error}); move it aside and re-run "
            f"the command to record it anew"
        ) from error
    summary = {
        "output": str(Path(cfg.output).resolve()),
        "episodes": total,
        "recorded_now": recorded,
        "seconds": round(time.perf_counter() - start, 2),
        "config": asdict(cfg),
    }
    return summary


def summary_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, default=str)
