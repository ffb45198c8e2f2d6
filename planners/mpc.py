"""Receding-horizon model-predictive control around any ``TrajectoryOptimizer``.

Every ``replan_every`` steps the controller optimizes an ``H``-step plan for all N problems and then
executes it one action per ``act`` call. Each new optimization is warm-started from the previous
solution's actions (the plan being executed) shifted by the steps executed since, its tail padded
with the last action or zeros, and
optimizers that return elites (iCEM) get them back shifted the same way (Pinneri et al. 2020,
arXiv 2008.06389; mbrl-lib ``TrajectoryOptimizerAgent``; tdmpc2 ``_plan``). The controller sees only
objectives: the caller builds one for the current state of each problem (a ``Dynamics`` plus a cost),
so nothing here knows of models or envs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from cosmos_sim.planners.base import BatchedObjective, Solution, TrajectoryOptimizer

PADS = ("last", "zero")


def shift_plan(plan: torch.Tensor, steps: int, pad: str = "last") -> torch.Tensor:
    """Advance ``plan (..., H, A)`` by ``steps`` (0 <= steps <= H): drop the executed head, pad the tail
    with the last action ("last") or zeros ("zero")."""
    if pad not in PADS:
        raise ValueError(f"pad must be one of {PADS}, got {pad!r}")
    *batch, h, a = plan.shape
    if not 0 <= steps <= h:
        raise ValueError(f"cannot shift a plan of horizon {h} by {steps} steps")
    last = plan[..., -1:, :] if pad == "last" else torch.zeros_like(plan[..., -1:, :])  # (..., 1, A)
    return torch.cat([plan[..., steps:, :], last.expand(*batch, steps, a)], dim=-2)  # (..., H, A)


class MPCController:
    """Plans ``horizon`` steps ahead with ``optimizer`` and returns one action per problem per ``act``.

    Arguments:
        optimizer: any ``TrajectoryOptimizer``; its bounds and generator are used as they are.
        horizon: H, the length of every plan.
        replan_every: optimize every this many ``act`` calls (1 <= replan_every <= H), executing the
            stored plan in between; larger values trade reactivity for fewer objective calls.
        action_dim: A.
        pad: how the shifted warm start is filled at its end: "last" repeats the final action
            (a plan that ends holding a command keeps holding it), "zero" appends zeros.
    """

    def __init__(
        self,
        optimizer: TrajectoryOptimizer,
        horizon: int,
        replan_every: int = 1,
        *,
        action_dim: int,
        pad: str = "last",
    ) -> None:
        if not isinstance(optimizer, TrajectoryOptimizer):
            raise TypeError(f"MPCController needs a TrajectoryOptimizer, got {type(optimizer).__name__}")
        for name, value in (("horizon", horizon), ("action_dim", action_dim), ("replan_every", replan_every)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"MPCController: {name} must be an integer >= 1, got {value!r}")
        horizon, replan_every, action_dim = int(horizon), int(replan_every), int(action_dim)
        if not replan_every <= horizon:
            raise ValueError(
                f"MPCController: replan_every must be in [1, horizon={horizon}], got {replan_every!r}"
            )
        if pad not in PADS:
            raise ValueError(f"MPCController: pad must be one of {PADS}, got {pad!r}")
        bounds = optimizer.bounds
        if any(bound.numel() not in (1, action_dim) for bound in (bounds.low, bounds.high)):
            raise ValueError(
                f"MPCController: action_dim={action_dim}, but the optimizer's ActionBounds have shapes "
                f"{tuple(bounds.low.shape)} and {tuple(bounds.high.shape)}"
            )
        self.optimizer = optimizer
        self.horizon = horizon
        self.replan_every = replan_every
        self.action_dim = action_dim
        self.pad = pad
        self.solution: Solution | None = None  # the latest result; its actions (N, H, A) are being executed
        self._init: torch.Tensor | None = None  # (N, H, A) warm start of the first plan
        self._executed = 0  # actions of the current plan handed out so far
        self._reset_mask: torch.Tensor | None = None  # (N,) problems to plan afresh at the next replan

    @property
    def num_problems(self) -> int | None:
        return None if self._init is None else self._init.shape[0]

    def _default_init(self, num_problems: int) -> torch.Tensor:
        """The middle of the action box, for every problem and step: ``(N, H, A)``."""
        bounds = self.optimizer.bounds
        middle = torch.broadcast_to((bounds.low + bounds.high) / 2, (self.action_dim,))
        device = self.optimizer.generator.device
        return middle.to(device).expand(num_problems, self.horizon, self.action_dim).clone()

    def reset(self, num_problems: int | None = None, *, init: torch.Tensor | None = None) -> None:
        """Start new episodes for all problems: the next ``act`` plans from ``init (N, H, A)``
        (default: the middle of the action box, for ``num_problems`` problems, 1 if not given)."""
        if num_problems is not None:
            if (
                isinstance(num_problems, bool)
                or not isinstance(num_problems, (int, np.integer))
                or num_problems < 1
            ):
                raise ValueError(
                    f"MPCController.reset: num_problems must be an integer >= 1, got {num_problems!r}"
                )
            num_problems = int(num_problems)
        if init is None:
            init = self._default_init(1 if num_problems is None else num_problems)
        expected = (init.shape[0] if num_problems is None else num_problems, self.horizon, self.action_dim)
        if tuple(init.shape) != expected:
            raise ValueError(
                f"MPCController.reset: init must be (N, H, A) = {expected}, got {tuple(init.shape)}"
            )
        self._init = init
        self.solution = None
        self._executed = 0
        self._reset_mask = None

    def reset_problems(self, mask: torch.Tensor) -> None:
        """Start new episodes for the problems where ``mask (N,)`` is True (a vector env's autoreset):
        their warm start and elites return to the default, and the next ``act`` replans every problem."""
        n = self._require_reset("reset_problems")
        if isinstance(mask, np.ndarray) and mask.dtype == np.bool_:  # a vector env's terminated | truncated
            mask = torch.from_numpy(mask)
        if not isinstance(mask, torch.Tensor) or mask.shape != (n,) or mask.dtype != torch.bool:
            got = f" {mask.dtype} {tuple(mask.shape)}" if hasattr(mask, "shape") else ""
            raise ValueError(
                f"MPCController.reset_problems: mask must be a bool torch tensor or numpy array of shape ({n},), "
                f"got {type(mask).__name__}{got}"
            )
        mask = mask.to(self._init.device)
        self._reset_mask = mask if self._reset_mask is None else self._reset_mask | mask

    def act(
        self,
        objective: BatchedObjective | None = None,
        *,
        objective_factory: Callable[[], BatchedObjective] | None = None,
    ) -> torch.Tensor:
        """The next action ``(N, A)`` of every problem.

        Give the objective for the current states, or ``objective_factory`` to build it only on the
        steps that replan (building one may mean cloning simulator state).
        """
        self._require_reset("act")
        if (objective is None) == (objective_factory is None):
            raise ValueError("MPCController.act: give exactly one of objective and objective_factory")
        if self.solution is None or self._executed == self.replan_every or self._reset_mask is not None:
            self._replan(objective if objective is not None else objective_factory())
        action = self.solution.actions[:, self._executed]  # (N, A)
        self._executed += 1
        return action.clone()

    def _replan(self, objective: BatchedObjective) -> None:
        init, elites = self._warm_start()
        solution = self.optimizer.optimize(objective, init, elites=elites)
        if tuple(solution.actions.shape) != tuple(init.shape):
            raise ValueError(
                f"MPCController: the optimizer returned a plan of shape {tuple(solution.actions.shape)}, "
                f"expected {tuple(init.shape)}"
            )
        self.solution = solution
        self._executed = 0
        self._reset_mask = None

    def _warm_start(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Init ``(N, H, A)`` and elites ``(N, K, H, A) | None`` for the next optimization."""
        if self.solution is None:
            return self._init, None
        # The first `executed` actions are in the past: the plan for now starts after them.
        init = shift_plan(self.solution.actions, self._executed, self.pad)
        elites = self.solution.elites
        if elites is not None:
            elites = shift_plan(elites, self._executed, self.pad)
        if self._reset_mask is not None:
            # Problems in a new episode: their old plan is for a state that no longer exists.
            default = self._default_init(init.shape[0]).to(init)
            init = torch.where(self._reset_mask[:, None, None], default, init)
            if elites is not None:
                elites = torch.where(self._reset_mask[:, None, None, None], default[:, None], elites)
        return init, elites

    def _require_reset(self, caller: str) -> int:
        if self._init is None:
            raise RuntimeError(f"MPCController.{caller}: call reset(num_problems) first")
        return self._init.shape[0]
