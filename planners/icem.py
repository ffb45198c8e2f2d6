"""Improved Cross-Entropy Method (Pinneri et al., "Sample-efficient Cross-Entropy Method for Real-time
Planning", CoRL 2020, arXiv 2008.06389).

CEM with the paper's changes (its Algorithm 1):

- colored noise: samples are correlated in time, power spectral density ``1 / f^beta`` (beta = 0
  is CEM's white noise; larger beta gives smoother, lower-frequency action sequences);
- the population decays as ``P_i = max(P * gamma^-i, 2K)``, since later iterations refine;
- a fraction ``xi`` of each iteration's elites is kept into the next iteration, and across MPC steps
  the previous step's elites, shifted by the caller (``MPCController``), enter the first iteration;
- the distribution mean joins the last iteration's samples, and the best sequence ever seen (not the
  mean) is returned.

Colored noise follows the FFT method of Timmer & Koenig (1995), as in the ``colorednoise`` package
that the paper's code uses, normalised so that every time step has unit variance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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


def colored_noise(
    shape: Sequence[int], beta: float, *, generator: torch.Generator, like: torch.Tensor
) -> torch.Tensor:
    """Gaussian noise of unit variance, correlated along the last axis with PSD ``1 / f^beta``.

    ``shape`` ends with the time axis (length T); the result has ``like``'s device and dtype.
    """
    *batch, t = shape
    if t == 1:  # a single step has no frequencies to shape
        return torch.randn(tuple(shape), generator=generator, device=like.device, dtype=like.dtype)
    freqs = torch.fft.rfftfreq(t, device=like.device, dtype=torch.float64)  # (F,), F = t // 2 + 1
    freqs[0] = freqs[1]  # the DC term gets the lowest resolvable frequency's power instead of infinity
    scale = freqs ** (-beta / 2)  # amplitude = sqrt(PSD)
    real = torch.randn((*batch, len(freqs)), generator=generator, device=like.device, dtype=torch.float64)
    imag = torch.randn((*batch, len(freqs)), generator=generator, device=like.device, dtype=torch.float64)
    # The DC (and, for even t, Nyquist) coefficients of a real signal are real: drop their imaginary
    # part and give the real part the power of both, so that beta = 0 is exactly white noise.
    real_only = [0] if t % 2 else [0, -1]
    imag[..., real_only] = 0
    real[..., real_only] *= math.sqrt(2)
    noise = torch.fft.irfft(torch.complex(real * scale, imag * scale), n=t)  # (..., t)
    # Var(noise_t) = sum_k multiplicity_k * E|c_k|^2 / t^2, with E|c_k|^2 = 2 scale_k^2 and the
    # interior frequencies counted twice (their mirrored negative frequency): the same for every t.
    multiplicity = torch.full_like(scale, 2.0)
    multiplicity[real_only] = 1.0
    std = torch.sqrt((multiplicity * 2 * scale**2).sum()) / t
    return (noise / std).to(like.dtype)


@dataclass(kw_only=True)
class ICEMConfig(PlannerConfig):
    """iCEM settings; defaults follow the paper's (K = 10, gamma = 1.25, xi = 0.3, alpha = 0.1, beta = 2,
    3 iterations), with a population sized for 2 CPU cores."""

    population_size: int = 100
    """Samples per problem in the first iteration (P); later iterations use fewer."""
    num_elites: int = 10
    """Elite set size (K); the population never decays below 2K."""
    num_iterations: int = 3
    """Sample-and-refit rounds per ``optimize`` call."""
    init_std: float = 0.5
    """Initial standard deviation of every action entry, in action units."""
    alpha: float = 0.1
    """Momentum: new = alpha * old + (1 - alpha) * elite fit, for mean and std."""
    noise_beta: float = 2.0
    """Colored-noise exponent beta (PSD ~ 1 / f^beta); 0 is white noise."""
    population_decay: float = 1.25
    """gamma: iteration i samples max(P * gamma^-i, 2K) sequences; 1 keeps P constant."""
    keep_elites_fraction: float = 0.3
    """xi: fraction of the elites carried into the next iteration (and, shifted, the next MPC step)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "population_size", "num_elites", "num_iterations")
        check_positive(self, "init_std", integer=False)
        if 2 * self.num_elites > self.population_size:
            raise ValueError(
                f"ICEMConfig: the population decays to 2 * num_elites = {2 * self.num_elites}, which must not "
                f"exceed population_size={self.population_size}"
            )
        if not 0.0 <= self.alpha < 1.0:
            raise ValueError(f"ICEMConfig.alpha must be in [0, 1), got {self.alpha!r}")
        if not self.noise_beta >= 0.0:
            raise ValueError(f"ICEMConfig.noise_beta must be >= 0, got {self.noise_beta!r}")
        if not self.population_decay >= 1.0:
            raise ValueError(f"ICEMConfig.population_decay must be >= 1, got {self.population_decay!r}")
        if not 0.0 <= self.keep_elites_fraction <= 1.0:
            raise ValueError(
                f"ICEMConfig.keep_elites_fraction must be in [0, 1], got {self.keep_elites_fraction!r}"
            )

    def population_at(self, iteration: int) -> int:
        """Samples drawn in ``iteration`` (0-based), before kept elites and the mean are added."""
        return max(int(self.population_size * self.population_decay**-iteration), 2 * self.num_elites)

    @property
    def num_kept(self) -> int:
        """Elites carried from one iteration (or MPC step) to the next."""
        return int(self.keep_elites_fraction * self.num_elites)


class ICEMPlanner(TrajectoryOptimizer):
    """iCEM: ``optimize(objective, init, elites=shifted previous elites)``; returns its elites."""

    config_class = ICEMConfig
    config: ICEMConfig

    def _optimize(
        self, objective: BatchedObjective, init: torch.Tensor, elites: torch.Tensor | None
    ) -> Solution:
        cfg = self.config
        n, h, a = init.shape
        mean = init  # (N, H, A)
        std = torch.full_like(init, cfg.init_std)  # (N, H, A)
        # Before the first iteration the kept elites are the previous MPC step's, already shifted.
        kept = init.new_zeros((n, 0, h, a)) if elites is None else elites[:, : cfg.num_kept]  # (N, k, H, A)
        best = BestSoFar()
        for i in range(cfg.num_iterations):
            p = cfg.population_at(i)
            # Noise is colored along time, independently per action dim: draw (N, P, A, H), move H forward.
            noise = colored_noise((n, p, a, h), cfg.noise_beta, generator=self.generator, like=init)
            samples = self.bounds.clip(mean[:, None] + std[:, None] * noise.transpose(-1, -2))  # (N, P, H, A)
            parts = [samples, kept]
            if i == cfg.num_iterations - 1:
                parts.append(mean[:, None])  # the mean itself is often the best sequence near convergence
            samples = torch.cat(parts, dim=1)  # (N, P + k (+ 1), H, A)
            costs = self._evaluate(objective, samples)
            best.update(samples, costs)
            # Refit to the elites with momentum; keep the best xi * K for the next round.
            top, _ = top_k(samples, costs, cfg.num_elites)  # (N, K, H, A)
            kept = top[:, : cfg.num_kept]
            mean = cfg.alpha * mean + (1 - cfg.alpha) * top.mean(dim=1)
            std = cfg.alpha * std + (1 - cfg.alpha) * top.std(dim=1, unbiased=False)
        return best.solution(mean=mean, std=std, elites=top)
