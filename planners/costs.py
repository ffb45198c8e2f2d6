"""Costs of predicted futures, and the planning objective that joins a ``Dynamics`` to a cost.

A cost maps a ``Prediction`` (leading dims ``(N, P, M, H)``: problems, candidates, samples, steps) to
``(N, P, M)``, lower is better:

- ``TaskStateCost``: the task's own reward (DESIGN.md, "Tasks": defined once, applied to the true
  state by the MuJoCo env and to ``predict_state`` here), negated and summed over the horizon.
- ``LatentGoalCost``: squared distance of the predicted latent frames to a goal image's latent
  (the goal-image cost of DINO-WM and Cosmos-style planners), no decoding.
- ``CallableCost``: any user function of the prediction.

``PlanningObjective`` is what the optimizers call: actions ``(N, P, H, A)`` -> costs ``(N, P)``. With
``samples > 1`` (set on the dynamics) it averages the cost over the M stochastic rollouts of each
candidate and adds ``spread_weight`` times their standard deviation, so plans whose outcome the model
is unsure of are penalized (the uncertainty-aware option).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from cosmos_sim.configs import check_finite
from cosmos_sim.planners.dynamics import Dynamics, Prediction


def _discounts(horizon: int, discount: float, like: torch.Tensor) -> torch.Tensor:
    return discount ** torch.arange(horizon, dtype=like.dtype, device=like.device)  # (H,)


class TaskStateCost:
    """``-sum_t discount^t * task.reward(state_t, goal)`` over the predicted task states.

    Arguments:
        task: an object with ``reward(state, goal)`` batched over leading dims (e.g. ``PushBlockTask``).
        goals: the goal of every problem, ``(N, G)`` (numpy or torch).
        discount: weight of step t is ``discount**t``; 1 weights the whole horizon alike.
    """

    def __init__(self, task, goals, *, discount: float = 1.0) -> None:
        if not hasattr(task, "reward"):
            raise TypeError(f"TaskStateCost needs a task with reward(state, goal), got {type(task).__name__}")
        goals = torch.as_tensor(np.asarray(goals, dtype=np.float32))
        goal_dim = getattr(task, "goal_dim", None)  # a task that declares its goal size is held to it
        if goals.ndim != 2 or (goal_dim is not None and goals.shape[1] != goal_dim):
            g = "G" if goal_dim is None else f"G={goal_dim}"
            raise ValueError(f"TaskStateCost: goals must be (N, {g}), got shape {tuple(goals.shape)}")
        if not torch.isfinite(goals).all():
            raise ValueError("TaskStateCost: goals contain NaN or inf")
        if not 0 < discount <= 1:
            raise ValueError(f"TaskStateCost: discount must be in (0, 1], got {discount!r}")
        self.task, self.goals, self.discount = task, goals, discount

    def __call__(self, prediction: Prediction) -> torch.Tensor:
        states = prediction.states  # (N, P, M, H, S)
        n, _, _, h = states.shape[:4]
        if n != self.goals.shape[0]:
            raise ValueError(f"TaskStateCost: {self.goals.shape[0]} goals for {n} problems")
        goals = self.goals.to(states)[:, None, None, None]  # (N, 1, 1, 1, G)
        reward = self.task.reward(states, goals)  # (N, P, M, H)
        return -(reward * _discounts(h, self.discount, reward)).sum(-1)


class LatentGoalCost:
    """Mean squared distance of predicted latents to each problem's goal latent.

    Arguments:
        goal_latents: normalized latents of the goal images, ``(N, C, h, w)`` (e.g. the last latent
            frame of ``world.encode(goal_frames).latents``).
        terminal_only: score the last predicted frame only (reach the goal), else every frame alike
            (reach it soon).
    """

    def __init__(self, goal_latents: torch.Tensor, *, terminal_only: bool = False) -> None:
        if not isinstance(goal_latents, torch.Tensor) or goal_latents.ndim != 4:
            shape = (
                tuple(goal_latents.shape) if isinstance(goal_latents, torch.Tensor) else type(goal_latents)
            )
            raise ValueError(f"LatentGoalCost: goal_latents must be a tensor (N, C, h, w), got {shape}")
        self.goal_latents = goal_latents.detach().float()
        self.terminal_only = terminal_only

    def __call__(self, prediction: Prediction) -> torch.Tensor:
        if prediction.latents is None:
            raise ValueError("LatentGoalCost needs latent predictions (a world model's dynamics), got none")
        latents = prediction.latents.float()  # (N, P, M, C, H, h, w)
        n, c, h, w = self.goal_latents.shape
        if (latents.shape[0], latents.shape[3], *latents.shape[5:]) != (n, c, h, w):
            raise ValueError(
                f"LatentGoalCost: goal latents {tuple(self.goal_latents.shape)} do not fit predicted latents "
                f"{tuple(latents.shape)} (N, P, M, C, H, h, w)"
            )
        if self.terminal_only:
            latents = latents[:, :, :, :, -1:]
        goal = self.goal_latents.to(latents.device)[:, None, None, :, None]  # (N, 1, 1, C, 1, h, w)
        return (latents - goal).pow(2).mean(dim=(3, 4, 5, 6))  # (N, P, M)


class CallableCost:
    """A user cost: ``fn(prediction) -> (N, P, M)``, checked for shape and NaN."""

    def __init__(self, fn: Callable[[Prediction], torch.Tensor]) -> None:
        if not callable(fn):
            raise TypeError(f"CallableCost needs a callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, prediction: Prediction) -> torch.Tensor:
        cost = self.fn(prediction)
        expected = tuple(prediction.states.shape[:3])
        if not isinstance(cost, torch.Tensor) or tuple(cost.shape) != expected:
            got = tuple(cost.shape) if isinstance(cost, torch.Tensor) else type(cost).__name__
            raise ValueError(f"CallableCost: the cost function must return (N, P, M) = {expected}, got {got}")
        return cost


@dataclass
class PlanningObjective:
    """Actions ``(N, P, H, A)`` -> costs ``(N, P)``: roll out through ``dynamics``, score with ``cost``.

    ``spread_weight`` > 0 needs ``dynamics.samples`` > 1: the cost of a candidate is then the mean over
    its M rollouts plus ``spread_weight`` times their standard deviation.
    """

    dynamics: Dynamics
    cost: Callable[[Prediction], torch.Tensor]
    spread_weight: float = 0.0

    def __post_init__(self) -> None:
        # An infinite weight would make every candidate's cost +inf: a plan picked at random, unreported.
        check_finite(self, "spread_weight", at_least=0)
        if self.spread_weight > 0 and self.dynamics.samples < 2:
            raise ValueError(
                "PlanningObjective: spread_weight > 0 penalizes the spread of several rollouts per candidate; "
                f"give the dynamics samples >= 2 (it has {self.dynamics.samples})"
            )

    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        costs = self.cost(self.dynamics.predict(actions))  # (N, P, M)
        if costs.shape[2] == 1:
            return costs[:, :, 0]
        mean = costs.mean(dim=2)
        return mean + self.spread_weight * costs.std(dim=2) if self.spread_weight else mean
