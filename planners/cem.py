"""Cross-Entropy Method over action sequences (Rubinstein 1999; as an MPC optimizer in Chua et al.,
"Deep RL in a Handful of Trials using Probabilistic Dynamics Models", arXiv 1805.12114).

A diagonal Gaussian over the whole sequence ``(H, A)`` is sampled, the ``num_elites`` lowest-cost
samples are kept, and the Gaussian is refit to them, optionally smoothed towards its previous value
(``alpha``). The update follows mbrl-lib's ``CEMOptimizer`` (``trajectory_opt.py``), with samples
clipped to the action box instead of a truncated normal.
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
    top_k,
)


@dataclass(kw_only=True)
class CEMConfig(PlannerConfig):
    """Cross-Entropy Method settings (defaults sized for 2 CPU cores)."""

    population_size: int = 100
    """Sequences sampled per problem and iteration (P)."""
    num_elites: int = 10
    """Lowest-cost samples the Gaussian is refit to (K <= P)."""
    num_iterations: int = 5
    """Sample-and-refit rounds."""
    init_std: float = 0.5
    """Initial standard deviation of every action entry, in action units (a quarter of [-1, 1])."""
    alpha: float = 0.1
    """Smoothing: new = alpha * old + (1 - alpha) * elite fit, for mean and std; 0 refits fully."""
    min_std: float = 0.0
    """Floor on the refit std, to keep exploring once the elites agree; 0 lets it collapse."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "population_size", "num_elites", "num_iterations")
        check_positive(self, "init_std", integer=False)
        if self.num_elites > self.population_size:
            raise ValueError(
                f"CEMConfig.num_elites={self.num_elites} exceeds population_size={self.population_size}"
            )
        if not 0.0 <= self.alpha < 1.0:
            raise ValueError(f"CEMConfig.alpha must be in [0, 1), got {self.alpha!r}")
        if not 0.0 <= self.min_std:
            raise ValueError(f"CEMConfig.min_std must be >= 0, got {self.min_std!r}")


class CEMPlanner(TrajectoryOptimizer):
    """CEM: ``optimize(objective, init)`` with ``init (N, H, A)`` as the initial mean."""

    config_class = CEMConfig
    config: CEMConfig

    def _optimize(
        self, objective: BatchedObjective, init: torch.Tensor, elites: torch.Tensor | None
    ) -> Solution:
        cfg = self.config
        mean = init  # (N, H, A)
        std = torch.full_like(init, cfg.init_std)  # (N, H, A)
        best = BestSoFar()
        for i in range(cfg.num_iterations):
            samples = self._sample_gaussian(mean, std, cfg.population_size)  # (N, P, H, A)
            if i == 0 and elites is not None:
                # Earlier good sequences compete for elite slots in the first round.
                samples = torch.cat([samples, elites], dim=1)  # (N, P + K0, H, A)
            costs = self._evaluate(objective, samples)  # (N, P)
            best.update(samples, costs)
            # Refit the Gaussian to the elites, then smooth towards the previous fit so that one
            # lucky round does not collapse the search.
            top, _ = top_k(samples, costs, cfg.num_elites)  # (N, K, H, A)
            new_std = top.std(dim=1, unbiased=False).clamp_min(cfg.min_std)
            mean = cfg.alpha * mean + (1 - cfg.alpha) * top.mean(dim=1)
            std = cfg.alpha * std + (1 - cfg.alpha) * new_std
        return best.solution(mean=mean, std=std)
