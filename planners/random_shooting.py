"""Random shooting (Nagabandi et al., "Neural Network Dynamics for Model-Based Deep Reinforcement
Learning with Model-Free Fine-Tuning", ICRA 2018, arXiv 1708.02596).

Sample ``P`` action sequences uniformly in the action box, score them all, keep the best. The warm
start ``init`` (and any ``elites``) join the candidates, so under MPC the plan never gets worse than
the shifted previous one. It is the baseline the other optimizers must beat: its chance of landing
near an optimum shrinks exponentially with ``H * A``.
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
class RandomShootingConfig(PlannerConfig):
    """Random shooting settings."""

    population_size: int = 1000
    """Uniform samples per problem (P), besides the warm start."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "population_size")


class RandomShootingPlanner(TrajectoryOptimizer):
    """Random shooting: ``optimize(objective, init)``; ``init (N, H, A)`` is one of the candidates."""

    config_class = RandomShootingConfig
    config: RandomShootingConfig

    def _optimize(
        self, objective: BatchedObjective, init: torch.Tensor, elites: torch.Tensor | None
    ) -> Solution:
        samples = self._sample_uniform(init, self.config.population_size)  # (N, P, H, A)
        parts = [init[:, None], samples] + ([] if elites is None else [elites])
        candidates = torch.cat(parts, dim=1)  # (N, 1 + P (+ K), H, A)
        best = BestSoFar()
        best.update(candidates, self._evaluate(objective, candidates))
        return best.solution()
