"""Deterministic second-order sampling (EDM, Karras et al., arXiv 2206.00364, Algorithm 1 without
churn): Heun's method on the probability-flow ODE ``dx/dsigma = (x - D(x; sigma)) / sigma``.

``steps`` noise levels ``sigma_max .. sigma_min`` spaced by ``rho`` (Eq. 5), then 0; each step costs
two denoiser calls except the last, which is an Euler step to 0. A few steps suffice for planning
(the "control" setting of a world model); more give sharper samples. The only randomness is the
starting noise, drawn from the caller's ``torch.Generator``, so a seed fixes the result.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float) -> torch.Tensor:
    """``steps`` decreasing noise levels from ``sigma_max`` to ``sigma_min``, then a final 0: (steps + 1,)."""
    if steps < 1:
        raise ValueError(f"sampler steps must be >= 1, got {steps}")
    if steps == 1:
        return torch.tensor([sigma_max, 0.0], dtype=torch.float64)
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    inv_rho = 1.0 / rho
    sigmas = (sigma_max**inv_rho + ramp * (sigma_min**inv_rho - sigma_max**inv_rho)) ** rho
    return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])


Denoiser = Callable[[torch.Tensor, float], torch.Tensor]
"""``denoise(x, sigma) -> D(x; sigma)``, the clean estimate of noisy latents ``x`` at level ``sigma``."""


def heun_sample(
    denoise: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor, *, second_order: bool = True
) -> torch.Tensor:
    """Integrate from ``noise * sigmas[0]`` down to ``sigmas[-1] = 0`` with Heun steps (or Euler steps,
    ``second_order=False``: one call per step, and stable over the few long steps of a control loop,
    where Heun's end-of-step slope from an imperfect denoiser is extrapolated over the whole step).

    Autograd records the integration when it is enabled (gradient planners differentiate through it);
    callers that only sample run it under ``torch.no_grad()``."""
    x = noise * float(sigmas[0])
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = float(sigmas[i]), float(sigmas[i + 1])
        slope = (x - denoise(x, sigma)) / sigma
        x_next = x + (sigma_next - sigma) * slope
        if second_order and sigma_next > 0:  # second-order correction with the slope at the end of the step
            slope_next = (x_next - denoise(x_next, sigma_next)) / sigma_next
            x_next = x + (sigma_next - sigma) * 0.5 * (slope + slope_next)
        x = x_next
    return x
