"""Dynamics adapters: what a planning objective rolls candidate action sequences through.

DESIGN.md ("Contracts"): planners see only an objective ``cost(actions) -> costs``, built from a
``Dynamics`` and a cost (``cosmos_sim.planners.costs``). A ``Dynamics`` predicts, for ``N`` problems
(one per robot or sub-env) and ``P`` candidate sequences each, what happens over the horizon:

- ``WorldModelDynamics``: a world model's latent rollout from each problem's current ``LatentState``.
  Nothing is decoded inside the planning loop; the task state comes from the model's ``predict_state``
  head. ``samples > 1`` rolls every candidate out several times with different noise, for the
  uncertainty-aware cost.
- ``OracleDynamics``: MuJoCo ground truth from a snapshot of each problem's env
  (``MujocoOracleDynamics``), the upper bound the world model is compared with.

Both take the env's actions ``(N, P, H, A)``, one per control step (held for the ``k`` video frames of
the interval, as ``env.step`` does) and return a ``Prediction`` with leading dims ``(N, P, M)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from cosmos_sim.planners.mujoco_oracle import MujocoOracleDynamics
from cosmos_sim.world_models.base import LatentState, WorldModel


@dataclass
class Prediction:
    """What a ``Dynamics`` foresees for every candidate, sample and control step."""

    states: torch.Tensor
    """Task state after each control step, ``float32 (N, P, M, H, S)``."""
    latents: torch.Tensor | None = None
    """World models only: normalized latent frames ``(N, P, M, C, H, h, w)``."""


@runtime_checkable
class Dynamics(Protocol):
    """Predicts the outcome of candidate action sequences from the current state of ``N`` problems."""

    action_dim: int
    """A."""
    num_problems: int
    """N: the problems whose current state was last set."""
    samples: int
    """M: predictions per candidate (1 for deterministic dynamics)."""

    def predict(self, actions: torch.Tensor) -> Prediction:
        """Actions ``float (N, P, H, A)`` -> a ``Prediction`` over ``(N, P, M, H)``."""
        ...


def check_candidates(actions: torch.Tensor, num_problems: int, action_dim: int, owner: str) -> None:
    """Raise a ValueError saying what was expected unless ``actions`` is a finite (N, P, H, A) batch."""
    if not isinstance(actions, torch.Tensor) or not actions.is_floating_point():
        kind = actions.dtype if isinstance(actions, torch.Tensor) else type(actions).__name__
        raise ValueError(f"{owner}.predict: actions must be a float tensor (N, P, H, A), got {kind}")
    if actions.ndim != 4 or actions.shape[0] != num_problems or actions.shape[3] != action_dim:
        raise ValueError(
            f"{owner}.predict: actions must be (N={num_problems}, P, H, A={action_dim}), "
            f"got {tuple(actions.shape)}"
        )
    if not torch.isfinite(actions).all():
        raise ValueError(f"{owner}.predict: actions contain NaN or inf")


class WorldModelDynamics:
    """Latent rollouts of a ``WorldModel`` from the current state of ``N`` problems.

    Arguments:
        world: any ``WorldModel`` (e.g. ``DiffusionWorldModel``).
        generator: the noise of every rollout (never the global RNG); a seed fixes the predictions.
        samples: M rollouts per candidate with independent noise (the uncertainty-aware cost reads
            their spread); M = 1 for plain planning.
        differentiable: keep the autograd graph through the rollout, for ``GradientPlanner``.
        common_noise: roll every candidate of a problem out with the same sampling noise (sample
            m of each candidate with the m-th draw): common random numbers, so two candidates'
            costs differ by what their actions do, not by the noise each happened to draw. Off by
            default (every rollout its own noise), which the published planning figures used; on
            the zoo PushBlock model it raises the rank correlation of model and true plan costs
            from 0.37 to 0.42 (``cosmos-sim bench plan-ranking``).

    ``set_state(state)`` gives the current ``LatentState`` of the N problems (batch N); every
    ``predict`` starts from it. The N * P * M rollouts of one call run as one batch of the model.
    """

    def __init__(
        self,
        world: WorldModel,
        *,
        generator: torch.Generator,
        samples: int = 1,
        differentiable: bool = False,
        common_noise: bool = False,
    ) -> None:
        if not isinstance(world, WorldModel):
            raise TypeError(f"WorldModelDynamics needs a WorldModel, got {type(world).__name__}")
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"WorldModelDynamics: generator must be a torch.Generator, got {generator!r}")
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise ValueError(f"WorldModelDynamics: samples must be an integer >= 1, got {samples!r}")
        self.world = world
        self.generator = generator
        self.samples = samples
        self.differentiable = differentiable
        self.common_noise = common_noise
        self.action_dim = world.action_dim
        self._state: LatentState | None = None

    @property
    def num_problems(self) -> int:
        if self._state is None:
            raise RuntimeError("WorldModelDynamics: call set_state(state) before planning")
        return self._state.batch

    def set_state(self, state: LatentState) -> None:
        """The current state of the N problems: latents (N, C, T, h, w) and actions (N, T-1, k, A)."""
        if not isinstance(state, LatentState):
            raise TypeError(f"WorldModelDynamics.set_state needs a LatentState, got {type(state).__name__}")
        k, a = self.world.actions_per_step, self.action_dim
        latents, actions = state.latents, state.actions
        # The latent size is not part of the WorldModel protocol; a model that declares it is held to it.
        config = getattr(self.world, "config", None)
        size = (config.latent_channels, *config.latent_size) if hasattr(config, "latent_size") else None
        if (
            latents.ndim != 5
            or latents.shape[2] < 1
            or (size and (latents.shape[1], *latents.shape[3:]) != size)
        ):
            expected = "(N, C, T, h, w)" if size is None else f"(N, C={size[0]}, T, h={size[1]}, w={size[2]})"
            raise ValueError(
                f"WorldModelDynamics.set_state: latents must be {expected} for this model, got "
                f"{tuple(latents.shape)}"
            )
        n, t = latents.shape[0], latents.shape[2]
        if tuple(actions.shape) != (n, t - 1, k, a):
            raise ValueError(
                f"WorldModelDynamics.set_state: actions must be (N={n}, T-1={t - 1}, k={k}, A={a}), got "
                f"{tuple(actions.shape)}"
            )
        self._state = state

    def predict(self, actions: torch.Tensor) -> Prediction:
        n = self.num_problems
        check_candidates(actions, n, self.action_dim, type(self).__name__)
        _, p, h, a = actions.shape
        m, k = self.samples, self.world.actions_per_step
        state = self._state
        # Every (problem, candidate, sample) is one row of the model's batch: (N * P * M, ...).
        repeat = p * m
        start = LatentState(
            state.latents.repeat_interleave(repeat, dim=0), state.actions.repeat_interleave(repeat, dim=0)
        )
        held = actions[:, :, None, :, None, :].expand(n, p, m, h, k, a).reshape(n * repeat, h, k, a)
        groups = None
        if self.common_noise:  # row (n, p, m) draws noise n * M + m, whatever its candidate p
            groups = torch.arange(n * m).reshape(n, 1, m).expand(n, p, m).reshape(-1)
        latents = self.world.rollout(
            start, held, self.generator, grad=self.differentiable, noise_groups=groups
        )  # (NPM, C, H, h, w)
        states = self.world.predict_state(latents)  # (NPM, H, S)
        return Prediction(
            states=states.float().reshape(n, p, m, h, -1),
            latents=latents.reshape(n, p, m, *latents.shape[1:]),
        )


class OracleDynamics:
    """MuJoCo ground truth for N problems: one ``MujocoOracleDynamics`` per problem's env.

    ``set_state()`` snapshots every env's current state (call it after each real step); ``predict``
    rolls the candidates out from those snapshots. Deterministic, so M = 1, and not differentiable.
    """

    samples = 1

    def __init__(self, envs: Sequence, *, num_threads: int | None = None) -> None:
        envs = list(envs)
        if not envs:
            raise ValueError("OracleDynamics needs at least one env")
        self.oracles = [MujocoOracleDynamics(env, num_threads=num_threads) for env in envs]
        self.action_dim = self.oracles[0].action_dim
        self.num_problems = len(self.oracles)

    def set_state(self) -> None:
        """Snapshot the current state of every env; later predictions start there."""
        for oracle in self.oracles:
            oracle.clone()

    def predict(self, actions: torch.Tensor) -> Prediction:
        check_candidates(actions, self.num_problems, self.action_dim, type(self).__name__)
        plans = actions.detach().cpu().double().numpy()
        states = np.stack(
            [oracle.rollout(plan).states for oracle, plan in zip(self.oracles, plans, strict=True)]
        )  # (N, P, H, S)
        return Prediction(states=torch.from_numpy(states).float().to(actions.device)[:, :, None])
