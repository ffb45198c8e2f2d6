"""EDM preconditioning, training noise and loss (Karras et al., "Elucidating the Design Space of
Diffusion-Based Generative Models", arXiv 2206.00364, Table 1), as the Cosmos diffusion WFMs train.

The network ``F`` never sees raw noisy latents: the denoiser is
``D(x; sigma) = c_skip(sigma) * x + c_out(sigma) * F(c_in(sigma) * x, c_noise(sigma))``, with
coefficients chosen so that F's input and its training target both have unit variance at every
noise level, given latents of standard deviation ``sigma_data``. Noise levels here are per latent
frame, ``(B, T)``: conditioning frames carry a small augmentation level, generated frames the
sampler's level, and each frame is preconditioned with its own.
"""

from __future__ import annotations

import torch

from cosmos_sim.world_models.diffusion.config import EDMConfig


def preconditioning(
    sigma: torch.Tensor, sigma_data: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(c_skip, c_out, c_in, c_noise)`` for noise levels ``sigma`` (any shape, > 0)."""
    total = sigma**2 + sigma_data**2
    c_skip = sigma_data**2 / total
    c_out = sigma * sigma_data / total.sqrt()
    c_in = 1 / total.sqrt()
    c_noise = sigma.log() / 4
    return c_skip, c_out, c_in, c_noise


def loss_weight(sigma: torch.Tensor, sigma_data: float) -> torch.Tensor:
    """EDM's lambda(sigma) = 1 / c_out^2: the denoising error of every level then counts alike."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def sample_training_sigma(
    shape: tuple[int, ...], config: EDMConfig, generator: torch.Generator | None
) -> torch.Tensor:
    """Log-normal training noise levels, ``ln sigma ~ N(p_mean, p_std^2)``."""
    normal = torch.randn(shape, generator=generator)
    return (config.p_mean + config.p_std * normal).exp()


def sample_condition_sigma(
    shape: tuple[int, ...], config: EDMConfig, generator: torch.Generator | None
) -> torch.Tensor:
    """Augmentation levels of conditioning frames in training: log-uniform in [sigma_min, condition_sigma_max]."""
    lo, hi = torch.tensor(config.sigma_min).log(), torch.tensor(config.condition_sigma_max).log()
    return (lo + (hi - lo) * torch.rand(shape, generator=generator)).exp()


def expand_frames(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-frame values (B, T) as (B, 1, T, 1, 1), to scale latents (B, C, T, H, W)."""
    return values[:, None, :, None, None].to(like.dtype)
