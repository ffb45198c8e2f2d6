"""Gradient-based trajectory optimization: Adam on the action sequence through a differentiable
objective, from several starts (the gradient-descent planner of Bharadhwaj et al., "Model-Predictive
Control via Cross-Entropy and Gradient-Based Optimization", L4DC 2020, arXiv 2004.08763).

Restart 0 starts at the warm start ``init``, the others at ``init`` plus Gaussian noise, so one bad
basin of a non-convex objective does not decide the plan. Bounds are kept by a tanh squash
(``a = mid + half * tanh(z)``, smooth, Adam works on ``z``) or by clamping after every step
(projected gradient). tanh only approaches the faces of the box asymptotically, and Adam slows as
its gradients fade there, so prefer "clamp" when optima lie on the bounds.

The objective must be differentiable in the actions: a cost computed from detached tensors, numpy
or under ``torch.no_grad`` is refused with a ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cosmos_sim.planners.base import (
    BatchedObjective,
    BestSoFar,
    PlannerConfig,
    Solution,
    TrajectoryOptimizer,
    check_positive,
)

SQUASHES = ("tanh", "clamp")
# tanh never reaches +-1: starts on the bounds are pulled this far inside so atanh stays finite.
_TANH_MARGIN = 1e-4


@dataclass(kw_only=True)
class GradientConfig(PlannerConfig):
    """Gradient planner settings."""

    num_restarts: int = 4
    """Starts optimized in parallel per problem (R); restart 0 is ``init`` itself."""
    num_iterations: int = 50
    """Objective evaluations per start; an Adam step follows each but the last."""
    learning_rate: float = 0.05
    """Adam step size, in the units of the optimized variable (tanh pre-activation, or actions)."""
    restart_std: float = 0.3
    """Standard deviation of the Gaussian noise added to ``init`` for restarts 1..R-1, in action units."""
    squash: str = "tanh"
    """How bounds are kept: "tanh" (reparametrize) or "clamp" (project after each step)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "num_restarts", "num_iterations")
        check_positive(self, "learning_rate", integer=False)
        if not self.restart_std >= 0.0:
            raise ValueError(f"GradientConfig.restart_std must be >= 0, got {self.restart_std!r}")
        if self.squash not in SQUASHES:
            raise ValueError(f"GradientConfig.squash must be one of {SQUASHES}, got {self.squash!r}")


class GradientPlanner(TrajectoryOptimizer):
    """Adam with restarts: ``optimize(objective, init)`` for a differentiable ``objective``."""

    config_class = GradientConfig
    config: GradientConfig

    def _optimize(
        self, objective: BatchedObjective, init: torch.Tensor, elites: torch.Tensor | None
    ) -> Solution:
        cfg = self.config
        low, high = self.bounds.for_actions(init)
        mid, half = (high + low) / 2, (high - low) / 2
        noisy = self._sample_gaussian(init, torch.full_like(init, cfg.restart_std), cfg.num_restarts - 1)
        starts = torch.cat(
            [init[:, None], noisy] + ([] if elites is None else [elites]), dim=1
        )  # (N, R, H, A)
        if cfg.squash == "tanh":
            # Invert a = mid + half * tanh(z); an action dim with low == high stays fixed at mid.
            unit = torch.where(half > 0, (starts - mid) / half.clamp_min(1e-12), torch.zeros_like(starts))
            param = torch.atanh(unit.clamp(-1 + _TANH_MARGIN, 1 - _TANH_MARGIN))
        else:
            param = starts.clone()
        param.requires_grad_()
        adam = torch.optim.Adam([param], lr=cfg.learning_rate)
        best = BestSoFar()
        with torch.enable_grad():  # planners are often called under no_grad by the control loop
            for i in range(cfg.num_iterations):
                actions = mid + half * torch.tanh(param) if cfg.squash == "tanh" else param  # (N, R, H, A)
                # Score on a detached copy chunk by chunk (the memory budget), then pull the summed
                # action gradients through the squash in one backward.
                leaf = actions.detach().requires_grad_()
                costs = self._cost_and_grad(objective, leaf)  # (N, R); fills leaf.grad
                best.update(leaf.detach(), costs)
                if i == cfg.num_iterations - 1:
                    break  # the last evaluation needs no step
                adam.zero_grad()
                actions.backward(leaf.grad)
                adam.step()
                if cfg.squash == "clamp":
                    with torch.no_grad():
                        param.copy_(torch.clamp(param, low, high))  # project back into the box
        return best.solution()

    def _cost_and_grad(self, objective: BatchedObjective, actions: torch.Tensor) -> torch.Tensor:
        """Costs ``(N, R)`` of leaf ``actions (N, R, H, A)``; accumulates d cost / d actions in ``actions.grad``."""
        size = self._chunk_size(*actions.shape[:2])
        costs = []
        for chunk in actions.split(size, dim=1):
            cost = self._check_costs(objective(chunk.contiguous()), chunk)  # (N, r)
            if not cost.requires_grad:
                raise ValueError(
                    "GradientPlanner: the objective's costs carry no gradient (requires_grad is False); it needs "
                    "a differentiable objective: no .detach(), numpy or torch.no_grad() between actions and cost"
                )
            # Candidates are scored independently, so the gradient of the sum is each one's own gradient.
            cost.sum().backward()
            costs.append(cost.detach())
        if actions.grad is None:
            raise ValueError(
                "GradientPlanner: the objective's costs do not depend on the actions (no gradient)"
            )
        return torch.cat(costs, dim=1)
