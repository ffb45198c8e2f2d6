"""Data-collection policies for the ground-truth scenes, looked up by name.

A policy maps the latest observation and ``info`` to an action; it draws any randomness from
the generator handed to ``reset`` (one per episode, seeded by the episode's seed), never from
the global RNG, so a recorded episode is reproducible from its seed alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from cosmos_sim.envs.tasks.push_block import PushBlockExpert
from cosmos_sim.planners.cem import CEMConfig, CEMPlanner
from cosmos_sim.planners.costs import PlanningObjective, TaskStateCost
from cosmos_sim.planners.dynamics import OracleDynamics
from cosmos_sim.planners.mpc import MPCController


class Policy(Protocol):
    name: str

    def reset(self, rng: np.random.Generator) -> None: ...

    def __call__(self, obs: Any, info: dict[str, Any]) -> np.ndarray: ...


@dataclass
class RandomPolicy:
    """Uniform actions in the action space, resampled every ``hold`` steps (1: every step)."""

    action_space: gym.spaces.Box
    hold: int = 1
    name: str = "random"
    _rng: np.random.Generator = field(default_factory=np.random.default_rng, repr=False)
    _action: np.ndarray | None = field(default=None, repr=False)
    _age: int = field(default=0, repr=False)

    def reset(self, rng: np.random.Generator) -> None:
        self._rng, self._action, self._age = rng, None, 0

    def __call__(self, obs: Any, info: dict[str, Any]) -> np.ndarray:
        if self._action is None or self._age >= self.hold:
            space = self.action_space
            self._action = self._rng.uniform(space.low, space.high).astype(space.dtype)
            self._age = 0
        self._age += 1
        return self._action


@dataclass
class PushBlockExpertPolicy:
    """The scripted PushBlock expert reading the true state and goal from ``info``."""

    noise: float = 0.0
    name: str = "expert"
    _rng: np.random.Generator = field(default_factory=np.random.default_rng, repr=False)

    def __post_init__(self) -> None:
        self._expert = PushBlockExpert(noise=self.noise)

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def __call__(self, obs: Any, info: dict[str, Any]) -> np.ndarray:
        return self._expert(info["state"], info["goal"], self._rng)


@dataclass
class ZeroPolicy:
    """Zero actions: the only action of the passive physics scenarios."""

    action_space: gym.spaces.Box
    name: str = "zero"

    def reset(self, rng: np.random.Generator) -> None:
        pass

    def __call__(self, obs: Any, info: dict[str, Any]) -> np.ndarray:
        return np.zeros(self.action_space.shape, dtype=self.action_space.dtype)


@dataclass
class OracleMPCPolicy:
    """CEM model-predictive control on the MuJoCo oracle of the env being recorded, plus Gaussian
    exploration noise: the actions a sampling planner takes (saturated pushes that change direction
    every few steps), for world models that planners will drive. Needs the env's task (PushBlock).

    The budget is the planning benchmark's default (horizon 4, population 16, 2 iterations,
    replanning every 2 steps), with which the oracle solves 88% of PushBlock episodes.
    """

    env: gym.Env
    noise: float = 0.3
    """Std of Gaussian noise added to every planned action (then clipped to the action space)."""
    horizon: int = 4
    population: int = 16
    iterations: int = 2
    replan_every: int = 2
    name: str = "mpc"
    _rng: np.random.Generator = field(default_factory=np.random.default_rng, repr=False)
    _controller: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.env = self.env.unwrapped
        if getattr(self.env, "task", None) is None:
            raise ValueError(
                f"policy 'mpc' needs an env with a task (reward, goal); {type(self.env).__name__} has none"
            )
        self._dynamics = OracleDynamics([self.env], num_threads=1)

    def reset(self, rng: np.random.Generator) -> None:
        self._rng = rng
        config = CEMConfig(
            population_size=self.population,
            num_elites=max(2, self.population // 8),
            num_iterations=self.iterations,
        )
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        action_dim = int(self.env.action_space.shape[0])
        self._controller = MPCController(
            CEMPlanner(config, generator=generator), self.horizon, self.replan_every, action_dim=action_dim
        )
        self._controller.reset(1)

    def __call__(self, obs: Any, info: dict[str, Any]) -> np.ndarray:
        def objective():
            self._dynamics.set_state()
            return PlanningObjective(self._dynamics, TaskStateCost(self.env.task, self.env.goal[None]))

        action = self._controller.act(objective_factory=objective)[0].numpy()
        action = action + self.noise * self._rng.standard_normal(action.shape)
        space = self.env.action_space
        return np.clip(action, space.low, space.high).astype(space.dtype)


# Scripted experts by env id prefix (ids are versioned; an expert serves every version it names).
EXPERTS: dict[str, Callable[..., Policy]] = {
    "cosmos_sim/PushBlock": PushBlockExpertPolicy,
}


def make_policy(name: str, env_id: str, action_space: gym.spaces.Box, **kwargs: Any) -> Policy:
    """Build a policy by name: ``random``, ``zero``, ``expert`` (where the env has one) or ``mpc``
    (``OracleMPCPolicy``; pass ``env=``, the env it will act in)."""
    if name == "mpc":
        return OracleMPCPolicy(**kwargs)
    if name == "random":
        return RandomPolicy(action_space, **kwargs)
    if name == "zero":
        return ZeroPolicy(action_space)
    if name == "expert":
        for prefix, factory in EXPERTS.items():
            if env_id.startswith(prefix + "-"):
                return factory(**kwargs)
        raise ValueError(
            f"no scripted expert for {env_id!r}; experts exist for {sorted(EXPERTS)}. "
            "Use policy 'random' (or 'zero' for passive scenes)."
        )
    raise ValueError(f"unknown policy {name!r}; choose one of 'random', 'expert', 'zero', 'mpc'")
