"""Ground-truth dynamics for planners: batched MuJoCo rollouts from a cloned env state.

A planner scores candidate action sequences by rolling them out. Against a world model those
rollouts are predictions; against this oracle they are the simulator's truth, which gives the
upper bound that WFM planning is compared with (DESIGN.md, "Planners"). Rollouts run in
``mujoco.rollout``'s native thread pool, one ``MjData`` per thread, with the env's action held
for ``frames_per_step * physics_steps_per_frame`` physics steps per control interval exactly
as ``env.step`` does, so an oracle rollout reproduces env stepping.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass

import mujoco
import numpy as np
from mujoco import rollout as mj_rollout

from cosmos_sim.envs.mujoco.base import MujocoSceneEnv

# mujoco.rollout reports states in this layout: [time, qpos, qvel, act, ...].
ROLLOUT_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS


@dataclass
class OracleRollout:
    """Result of ``MujocoOracleDynamics.rollout``."""

    states: np.ndarray
    """Task state after each control interval, ``float64 (B, H, S)``."""
    frames: np.ndarray | None = None
    """Rendered frames of every interval, ``uint8 (B, H * frames_per_step, height, width, 3)``."""


class MujocoOracleDynamics:
    """Roll out batches of action sequences from the current state of a cosmos-sim MuJoCo env.

    ``env`` is the (unwrapped) env to plan for; ``clone()`` snapshots its current state, and
    every ``rollout`` starts from the latest snapshot, leaving the env itself untouched.
    """

    def __init__(self, env: MujocoSceneEnv, *, num_threads: int | None = None) -> None:
        env = getattr(env, "unwrapped", env)
        if not isinstance(env, MujocoSceneEnv):
            raise TypeError(f"MujocoOracleDynamics needs a cosmos-sim MuJoCo env, got {type(env).__name__}")
        self.env = env
        self.num_threads = num_threads or os.cpu_count() or 1
        self._rollout = mj_rollout.Rollout(nthread=self.num_threads)
        self._model: mujoco.MjModel | None = None
        self._datas: list[mujoco.MjData] = []
        self._initial_state: np.ndarray | None = None
        self._initial_warmstart: np.ndarray | None = None
        self._render_data: mujoco.MjData | None = None
        self.clone()

    @property
    def action_dim(self) -> int:
        return int(self.env.action_space.shape[0])

    @property
    def physics_steps_per_action(self) -> int:
        return self.env.frames_per_step * self.env.physics_steps_per_frame

    def clone(self) -> None:
        """Snapshot the env's current state (and model, if its scene changed since the last clone)."""
        env = self.env
        if env.model is not self._model:
            self._model = env.model
            self._datas = [mujoco.MjData(env.model) for _ in range(self.num_threads)]
        state = np.empty(mujoco.mj_stateSize(env.model, ROLLOUT_SPEC))
        mujoco.mj_getState(env.model, env.data, state, ROLLOUT_SPEC)
        self._initial_state = state
        self._initial_warmstart = env.data.qacc_warmstart.copy()
        # Rendering starts from a copy of the env's data, so what the rollout state does not
        # hold (mocap bodies such as PushBlock's goal marker) is drawn as in the env.
        self._render_data = copy.copy(env.data)

    def rollout(self, actions: np.ndarray, *, return_frames: bool = False) -> OracleRollout:
        """Roll out ``actions`` ``float (B, H, A)`` in [-1, 1] (clipped, as env.step does)."""
        actions = np.asarray(actions, dtype=np.float64)
        if actions.ndim != 3 or actions.shape[-1] != self.action_dim:
            raise ValueError(
                f"MujocoOracleDynamics.rollout: actions must be (B, H, {self.action_dim}), got {actions.shape}"
            )
        if not np.all(np.isfinite(actions)):
            raise ValueError("MujocoOracleDynamics.rollout: actions contain NaN or inf")
        if self.env.model is not self._model:
            raise RuntimeError(
                "MujocoOracleDynamics.rollout: the env has loaded a new scene since the last clone(); "
                "call clone() after env.reset() so rollouts start from the env's current scene"
            )
        space = self.env.action_space
        actions = np.clip(actions, space.low, space.high)
        batch, horizon, _ = actions.shape
        per_action = self.physics_steps_per_action
        controls = self.env.controls_from_actions(actions)  # (B, H, nu)
        controls = np.repeat(controls, per_action, axis=1)  # (B, H * per_action, nu)
        states, _ = self._rollout.rollout(
            self._model,
            self._datas,
            initial_state=self._initial_state[None],
            control=controls,
            initial_warmstart=self._initial_warmstart[None],
        )  # (B, H * per_action, nstate)
        nq = self._model.nq
        qpos = states[:, :, 1 : 1 + nq]  # (B, H * per_action, nq)
        at_intervals = qpos[:, per_action - 1 :: per_action]  # (B, H, nq)
        result = OracleRollout(states=self.env.task_state_from_qpos(at_intervals))
        if return_frames:
            result.frames = self._render(states, batch, horizon)
        return result

    def _render(self, states: np.ndarray, batch: int, horizon: int) -> np.ndarray:
        env = self.env
        steps_per_frame = env.physics_steps_per_frame
        frame_states = states[:, steps_per_frame - 1 :: steps_per_frame]  # (B, H * k, nstate)
        data = self._render_data
        renderer = env.renderer
        frames = np.empty((batch, frame_states.shape[1], env.height, env.width, 3), dtype=np.uint8)
        for b in range(batch):
            for t in range(frame_states.shape[1]):
                mujoco.mj_setState(self._model, data, frame_states[b, t], ROLLOUT_SPEC)
                mujoco.mj_forward(self._model, data)
                renderer.update_scene(data, env.camera_name)
                frames[b, t] = renderer.render()
        return frames
