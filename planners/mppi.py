"""Model Predictive Path Integral control (Williams et al., "Information Theoretic MPC for Model-Based
Reinforcement Learning", ICRA 2017).

Around the current mean sequence, ``P`` perturbations with fixed noise ``sigma`` are sampled and the
mean moves to their average weighted by ``exp(-cost / lambda)``: the path-integral estimate of the
optimal control. The temperature ``lambda`` trades greediness (small: the best few samples dominate)
against averaging (large). Several iterations repeat this from the new mean, as mbrl-lib's
``MPPIOptimizer`` does. The control-cost term ``lambda * u^T Sigma^-1 eps`` of the paper is left to
the objective, as in tdmpc2. The answer is the final weighted mean (not the best sample), scored by
one more objective call.
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


@dataclass(kw_only=True)
class MPPIConfig(PlannerConfig):
    """MPPI settings (defaults sized for 2 CPU cores)."""

    population_size: int = 100
    """Perturbed sequences per problem and iteration (P)."""
    num_iterations: int = 5
    """Sample-and-average rounds."""
    noise_std: float = 0.3
    """sigma: standard deviation of the perturbations, in action units; fixed over iterations."""
    temperature: float = 0.1
    """lambda: weights are exp(-cost / lambda), so it is in the objective's cost units."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "population_size", "num_iterations")
        check_positive(self, "noise_std", "temperature", integer=False)


class MPPIPlanner(TrajectoryOptimizer):
    """MPPI: ``optimize(objective, init)`` with ``init (N, H, A)`` as the nominal sequence."""

    config_class = MPPIConfig
    config: MPPIConfig

    def _optimize(
        self, objective: BatchedObjective, init: torch.Tensor, elites: torch.Tensor | None
    ) -> Solution:
        cfg = self.config
        mean = init  # (N, H, A)
        std = torch.full_like(init, cfg.noise_std)
        best = BestSoFar()
        for i in range(cfg.num_iterations):
            samples = self._sample_gaussian(mean, std, cfg.population_size)  # (N, P, H, A), clipped
            if i == 0 and elites is not None:
                samples = torch.cat([samples, elites], dim=1)  # earlier good sequences get weight too
            costs = self._evaluate(objective, samples)  # (N, P)
            best.update(samples, costs)
            # Path-integral weights exp(-S / lambda), normalised per problem. Costs are taken relative
            # to the best one (a constant per problem, so the weights do not change) so that the
            # exponentials never all underflow to zero.
            best_cost = costs.gather(1, costs.argmin(dim=1, keepdim=True))  # (N, 1)
            # A problem whose candidates are all infeasible (+inf) has no weights: it keeps its mean.
            feasible = torch.isfinite(best_cost)  # (N, 1)
            relative = torch.where(feasible, costs - best_cost, torch.zeros_like(costs))  # inf - inf: NaN
            weights = torch.exp(-relative / cfg.temperature)  # (N, P), best = 1, infeasible = 0
            weights = weights / weights.sum(dim=1, keepdim=True)
            # Averaging clipped samples keeps the mean inside the (convex) action box.
            weighted = (weights[:, :, None, None] * samples).sum(dim=1)  # (N, H, A)
            mean = torch.where(feasible[:, :, None], weighted, mean)
        # MPPI's answer is the weighted mean; score it so Solution.cost matches Solution.actions.
        cost = self._evaluate(objective, mean[:, None])[:, 0]  # (N,)
        return best.solution(actions=mean, cost=cost, mean=mean, std=std)
