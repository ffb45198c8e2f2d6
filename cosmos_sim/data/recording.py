"""Record episodes of a cosmos-sim scene into per-frame rows for an episode dataset.

An episode of S control steps with ``k`` frames per step has ``1 + S*k`` rows. Row ``t`` holds
the frame at time ``t``, the task state at ``t``, and ``action``: the action applied from frame
``t`` to ``t + 1`` (held for the ``k`` frames of its interval; the last row's action is zero).
Per-frame extras a scene reports (camera intrinsics/extrinsics, depth) become
``observation.<key>`` features; scene parameters, seed and policy go into the episode's meta.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

import cosmos_sim.envs  # noqa: F401  (registers the cosmos_sim/ ids)
from cosmos_sim.data.lerobot import FeatureSpec
from cosmos_sim.envs.mujoco.base import MujocoSceneEnv
from cosmos_sim.envs.policies import Policy

VIDEO_KEY = "observation.image"
STATE_KEY = "observation.state"
ACTION_KEY = "action"
GOAL_KEY = "observation.goal"


def make_recording_env(env_id: str, env_kwargs: dict[str, Any] | None = None) -> gym.Env:
    """``gym.make`` a cosmos-sim scene with every frame of a step returned in ``info``."""
    if env_id not in gym.registry:
        known = sorted(k for k in gym.registry if k.startswith("cosmos_sim/"))
        raise ValueError(f"unknown env id {env_id!r}; registered cosmos-sim ids: {known}")
    creator = gym.spec(env_id).entry_point
    creator = gym.envs.registration.load_env_creator(creator) if isinstance(creator, str) else creator
    if not (isinstance(creator, type) and issubclass(creator, MujocoSceneEnv)):
        raise ValueError(f"{env_id!r} is not a cosmos-sim MuJoCo scene and cannot be recorded")
    env_kwargs = dict(env_kwargs or {})
    if "return_frames" in env_kwargs:
        raise ValueError("env_kwargs may not set 'return_frames': recording always returns every frame")
    try:
        env = gym.make(env_id, return_frames=True, **env_kwargs)
    except TypeError as exc:  # a misspelt or unsupported keyword argument
        raise ValueError(f"{env_id}: bad env_kwargs {env_kwargs}: {exc}") from exc
    if not isinstance(env.unwrapped, MujocoSceneEnv):
        raise ValueError(f"{env_id!r} is not a cosmos-sim MuJoCo scene and cannot be recorded")
    return env


def _frame_extras(info: dict[str, Any], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {f"observation.{key}": info[key] for key in keys}


def record_episode(
    env: gym.Env,
    policy: Policy,
    *,
    seed: int,
    options: dict[str, Any] | None = None,
    max_steps: int | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Run one episode and return its rows ``{feature: (T, ...)}`` and its meta (JSON-able)."""
    scene: MujocoSceneEnv = env.unwrapped
    obs, info = env.reset(seed=seed, options=options)
    extra_keys = scene.frame_info_keys
    policy.reset(np.random.default_rng(seed))
    frames = [info["frames"]]
    states = [info["frame_states"]]
    actions: list[np.ndarray] = []
    goals = [info["goal"][None]] if "goal" in info else None
    extras = [_frame_extras(info, extra_keys)]
    successes = []
    steps = 0
    while max_steps is None or steps < max_steps:
        action = np.asarray(policy(obs, info), dtype=np.float32)
        obs, _reward, terminated, truncated, info = env.step(action)
        applied = info["action"]  # clipped to the action space, as the env applied it
        k = info["frames"].shape[0]
        frames.append(info["frames"])
        states.append(info["frame_states"])
        actions.append(np.repeat(applied[None], k, axis=0))
        if goals is not None:
            goals.append(np.repeat(info["goal"][None], k, axis=0))
        extras.append(_frame_extras(info, extra_keys))
        successes.append(bool(info.get("is_success", False)))
        steps += 1
        if terminated or truncated:
            break
    actions.append(
        np.zeros((1, *scene.action_space.shape), dtype=np.float32)
    )  # no action after the last frame

    episode = {
        VIDEO_KEY: np.concatenate(frames),
        STATE_KEY: np.concatenate(states).astype(np.float32),
        ACTION_KEY: np.concatenate(actions).astype(np.float32),
    }
    if goals is not None:
        episode[GOAL_KEY] = np.concatenate(goals).astype(np.float32)
    for key in extras[0]:
        episode[key] = np.concatenate([e[key] for e in extras]).astype(np.float32)
    meta = {
        "seed": int(seed),
        "policy": policy.name,
        "steps": steps,
        "frames_per_step": scene.frames_per_step,
        "success": successes[-1] if successes else False,
        "scene": scene.scene,
    }
    return episode, meta


def episode_features(episode: dict[str, np.ndarray]) -> dict[str, FeatureSpec]:
    """Dataset feature specs of a recorded episode's rows (the image as video, the rest tabular)."""
    features = {}
    for key, rows in episode.items():
        if key == VIDEO_KEY:
            features[key] = FeatureSpec("video", tuple(rows.shape[1:]), ["height", "width", "channels"])
        else:
            features[key] = FeatureSpec(str(rows.dtype), tuple(rows.shape[1:]))
    return features
