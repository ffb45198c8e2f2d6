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

from cosmos_sim.envs.tasks.push_block import PushBlockExpert


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


# Scripted experts by env id prefix (ids are versioned; an expert serves every version it names).
EXPERTS: dict[str, Callable[..., Policy]] = {
    "cosmos_sim/PushBlock": PushBlockExpertPolicy,
}


def make_policy(name: str, env_id: str, action_space: gym.spaces.Box, **kwargs: Any) -> Policy:
    """Build a policy by name: ``random``, ``zero`` or ``expert`` (where the env has one)."""
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
    raise ValueError(f"unknown policy {name!r}; choose one of 'random', 'expert', 'zero'")
