"""Closed-loop control of real (MuJoCo) robots by MPC, planning in a world model or in the oracle.

``run_closed_loop`` steps ``N`` envs in lockstep. At every control step the ``MPCController`` asks for
an objective only when it replans; the objective is built from the current state of every env:

- **world model**: ``LatentTracker`` keeps each env's recent latent frames, encoding the frames the env
  really rendered with the tokenizer's streaming encoder (k new frames -> one latent frame), so the
  model plans from what the camera saw, never from simulator state;
- **oracle**: ``OracleDynamics.set_state()`` snapshots every env's simulator state.

Planning time is measured around ``controller.act`` only (the N problems are planned in one batch);
env stepping and rendering are not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from cosmos_sim.frames import frames_to_model
from cosmos_sim.planners.base import BatchedObjective
from cosmos_sim.planners.mpc import MPCController
from cosmos_sim.world_models.base import LatentState


class LatentTracker:
    """The world model's view of N real episodes: the last ``window - 1`` latent frames of what each
    camera recorded, and the actions between them.

    A world model conditions on ``window - 1`` latent frames. An episode's first frame is therefore
    preceded, as in ``WorldModelEnv``, by itself held still under zero actions (the scenes start at
    rest), and encoded as the clip ``1 + k * (window - 2)`` frames long that this history makes; every
    later control step pushes the k frames the env rendered through the same streaming encoder.
    """

    def __init__(self, world) -> None:
        self.world = world
        self.k = world.actions_per_step
        self.context = world.config.window - 1
        self._encoder = None
        self.state: LatentState | None = None

    @torch.no_grad()
    def reset(self, first_frames: np.ndarray) -> LatentState:
        """Start N episodes from uint8 frames ``(N, H, W, 3)``."""
        first_frames = np.asarray(first_frames)
        h, w = self.world.frame_size
        if first_frames.ndim != 4 or first_frames.shape[1:] != (h, w, 3) or first_frames.dtype != np.uint8:
            raise ValueError(
                f"LatentTracker.reset: frames must be uint8 (N, {h}, {w}, 3) (the model's frame size), got "
                f"{first_frames.dtype} {first_frames.shape}"
            )
        held = 1 + self.k * (self.context - 1)
        clip = np.repeat(first_frames[:, None], held, axis=1)  # (N, held, H, W, 3)
        self._encoder = self.world.tokenizer.stream_encoder()
        latents = self._encode(clip)  # (N, C, context, h, w)
        n, a = first_frames.shape[0], self.world.action_dim
        actions = torch.zeros(n, self.context - 1, self.k, a, device=latents.device)
        self.state = LatentState(latents, actions)
        return self.state

    @torch.no_grad()
    def observe(self, frames: np.ndarray, actions: np.ndarray) -> LatentState:
        """The k frames ``uint8 (N, k, H, W, 3)`` each env rendered under its action ``(N, A)``."""
        if self.state is None:
            raise RuntimeError("LatentTracker.observe called before reset()")
        frames = np.asarray(frames)
        n, (h, w) = self.state.batch, self.world.frame_size
        if frames.shape != (n, self.k, h, w, 3) or frames.dtype != np.uint8:
            raise ValueError(
                f"LatentTracker.observe: frames must be uint8 (N={n}, k={self.k}, {h}, {w}, 3), got "
                f"{frames.dtype} {frames.shape}"
            )
        actions = np.asarray(actions, np.float32)
        if actions.shape != (n, self.world.action_dim) or not np.isfinite(actions).all():
            raise ValueError(
                f"LatentTracker.observe: actions must be finite (N={n}, A={self.world.action_dim}), got "
                f"{actions.shape}{'' if np.isfinite(actions).all() else ' with NaN or inf'}"
            )
        new = self._encode(frames)  # (N, C, 1, h, w)
        held = torch.as_tensor(actions, device=new.device)[:, None, None]
        held = held.expand(n, 1, self.k, -1)  # (N, 1, k, A)
        latents = torch.cat([self.state.latents, new], dim=2)[:, :, -self.context :]
        interval = (
            torch.cat([self.state.actions, held], dim=1)[:, 1 - self.context :] if self.context > 1 else None
        )
        self.state = LatentState(latents, interval if interval is not None else self.state.actions)
        return self.state

    def _encode(self, clip: np.ndarray) -> torch.Tensor:
        model_frames = frames_to_model(clip, device=self.world.device)  # (N, 3, T, H, W)
        latents = self._encoder.push(model_frames)
        return self.world.model.normalize_latents(latents.float())


@dataclass
class EpisodeRecord:
    """What happened in one closed-loop episode."""

    seed: int
    goal: np.ndarray
    states: list[np.ndarray] = field(default_factory=list)
    """True task state after reset and after every step."""
    actions: list[np.ndarray] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    """Rendered frames (1 at reset, then k per step), only when recording video."""


@dataclass
class ClosedLoopResult:
    episodes: list[EpisodeRecord]
    planning_seconds: list[float]
    """Wall time of each ``controller.act`` call for the whole batch of N problems."""
    replans: int
    plans: list[torch.Tensor] = field(default_factory=list)
    """The plan (N, H, A) chosen at each replan, for imagined-future videos."""


def run_closed_loop(
    envs: Sequence,
    seeds: Sequence[int],
    controller: MPCController,
    make_objective: Callable[[], BatchedObjective],
    *,
    steps: int,
    on_reset: Callable[[np.ndarray], None] | None = None,
    on_step: Callable[[np.ndarray, np.ndarray], None] | None = None,
    record_frames: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ClosedLoopResult:
    """Run ``steps`` control steps of MPC on ``envs`` (one per seed), planning all of them in one batch.

    ``make_objective()`` builds the objective for the envs' current states (called only on replans);
    ``on_reset(first_frames (N, H, W, 3))`` and ``on_step(frames (N, k, H, W, 3), actions (N, A))`` keep
    a world model's tracker in step with the envs.
    """
    if len(envs) != len(seeds):
        raise ValueError(f"run_closed_loop: {len(envs)} envs for {len(seeds)} seeds")
    records, first = [], []
    for env, seed in zip(envs, seeds, strict=True):
        obs, info = env.reset(seed=int(seed))
        record = EpisodeRecord(seed=int(seed), goal=np.asarray(info["goal"], np.float64))
        record.states.append(np.asarray(info["state"], np.float64))
        if record_frames:
            record.frames.append(obs)
        records.append(record)
        first.append(obs)
    if on_reset is not None:
        on_reset(np.stack(first))
    controller.reset(len(envs))
    planning, plans, replans = [], [], 0
    for step in range(steps):
        previous = controller.solution
        tick = time.perf_counter()
        actions = controller.act(objective_factory=make_objective).cpu().numpy()  # (N, A)
        planning.append(time.perf_counter() - tick)
        if controller.solution is not previous:
            replans += 1
            plans.append(controller.solution.actions.detach().cpu())
        frames = []
        for env, record, action in zip(envs, records, actions, strict=True):
            _, _, _, _, info = env.step(action)
            record.states.append(np.asarray(info["state"], np.float64))
            record.actions.append(np.asarray(info["action"], np.float32))
            frames.append(info["frames"])
            if record_frames:
                record.frames.extend(info["frames"])
        if on_step is not None:
            on_step(np.stack(frames), np.stack([r.actions[-1] for r in records]))
        if progress is not None:
            progress(step)
    return ClosedLoopResult(records, planning, replans, plans)
