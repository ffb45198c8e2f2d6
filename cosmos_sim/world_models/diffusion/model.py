"""The trained part of the diffusion world model: the latent DiT as an EDM denoiser with Video2World
conditioning, the state head, and the statistics that normalize latents, actions and states.

Video2World (arXiv 2501.03575, Sec. 5.1.3): a window of latent frames is split per sample into
conditioning frames (the past: ground truth with a little noise, flagged by the condition-mask
channel) and frames to generate. The denoiser's output is overwritten with the ground truth on the
conditioning frames, so the network's job is only the future, and the loss counts only the future.
Sampling one new latent frame runs the Heun sampler on the last frame of a window whose other frames
are the context; ``guidance`` > 1 mixes in the action-free prediction (classifier-free guidance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.configs import check_field_types, check_finite
from cosmos_sim.world_models.diffusion.config import DiffusionWorldModelConfig
from cosmos_sim.world_models.diffusion.dit import LatentDiT
from cosmos_sim.world_models.diffusion.edm import (
    expand_frames,
    loss_weight,
    preconditioning,
    sample_condition_sigma,
    sample_training_sigma,
)
from cosmos_sim.world_models.diffusion.sampler import heun_sample, karras_sigmas


@dataclass(frozen=True)
class SamplerConfig:
    """How a new latent frame is sampled."""

    steps: int = 8
    """Heun steps (2 * steps - 1 network calls per frame)."""
    guidance: float = 1.0
    """Classifier-free guidance on actions; 1 = none (one network call per evaluation, not two)."""
    solver: str = "heun"
    """``heun`` (2nd order, 2 * steps - 1 calls) or ``euler`` (1st order, ``steps`` calls)."""
    sigma_min: float | None = None
    """Lowest noise level of the schedule before the final step to 0 (None: the model's EDM sigma_min).
    Few-step sampling needs it well above EDM's 0.002: Heun's correction divides by the level it lands
    on, so a jump from 80 straight to 0.002 multiplies the denoiser's error by 500."""

    def __post_init__(self) -> None:
        check_field_types(self)
        if self.steps < 1:
            raise ValueError(f"SamplerConfig.steps must be >= 1, got {self.steps}")
        check_finite(self, "guidance", at_least=0)
        if self.solver not in ("heun", "euler"):
            raise ValueError(f"SamplerConfig.solver must be 'heun' or 'euler', got {self.solver!r}")
        if self.sigma_min is not None:
            check_finite(self, "sigma_min", above=0)


CONTROL_SAMPLER = SamplerConfig(steps=2, solver="euler", sigma_min=2.0)
"""The few-step setting for planning loops: Euler 80 -> 2 -> 0, two network calls per latent frame. On
held-out windows it lands closer to the truth than 16-32 Heun steps (which sample the spread of the
future as well as its mean), and Heun at 2 steps diverges (``scripts/compare_samplers.py``,
docs/design/world_model_sampling.md)."""


class StateHead(nn.Module):
    """Normalized latent frames (B, C, T, h, w) -> normalized task state (B, T, S), frame by frame."""

    def __init__(self, config: DiffusionWorldModelConfig, width: int = 64) -> None:
        super().__init__()
        h, w = config.latent_size
        self.net = nn.Sequential(
            nn.Conv2d(config.latent_channels, width, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1),  # (width, h/2, w/2)
            nn.SiLU(),
            nn.Flatten(),
            nn.Linear(width * ((h + 1) // 2) * ((w + 1) // 2), 128),
            nn.SiLU(),
            nn.Linear(128, config.state_dim),
        )

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        b, _, t = latents.shape[:3]
        frames = latents.transpose(1, 2).flatten(0, 1)  # (B*T, C, h, w)
        return self.net(frames).unflatten(0, (b, t))  # (B, T, S)


class LatentDiffusionModel(nn.Module):
    """EDM denoiser around ``LatentDiT`` plus the state head; everything a checkpoint holds."""

    def __init__(self, config: DiffusionWorldModelConfig) -> None:
        super().__init__()
        self.config = config
        self.dit = LatentDiT(config)
        self.state_head = StateHead(config)
        c = config.latent_channels
        # Dataset statistics, set before training (set_statistics) and saved with the weights.
        self.register_buffer("latent_mean", torch.zeros(c))
        self.register_buffer("latent_std", torch.ones(c))
        self.register_buffer("state_mean", torch.zeros(config.state_dim))
        self.register_buffer("state_std", torch.ones(config.state_dim))

    # ---- normalization ----------------------------------------------------------------------------

    def set_statistics(self, latent_mean, latent_std, state_mean, state_std) -> None:
        for name, value in (
            ("latent_mean", latent_mean),
            ("latent_std", latent_std),
            ("state_mean", state_mean),
            ("state_std", state_std),
        ):
            value = torch.as_tensor(value, dtype=torch.float32)
            if value.shape != getattr(self, name).shape or not torch.isfinite(value).all():
                raise ValueError(
                    f"{name}: expected finite {tuple(getattr(self, name).shape)}, got {tuple(value.shape)}"
                )
            if name.endswith("std") and not (value > 0).all():
                raise ValueError(f"{name} must be > 0, got {value.tolist()}")
            getattr(self, name).copy_(value)

    def normalize_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Tokenizer latents (B, C, T, h, w) -> per-channel standardized, scaled to sigma_data."""
        shape = (1, -1, 1, 1, 1)
        return (z - self.latent_mean.view(shape)) / self.latent_std.view(shape) * self.config.edm.sigma_data

    def denormalize_latents(self, z: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1, 1)
        return z / self.config.edm.sigma_data * self.latent_std.view(shape) + self.latent_mean.view(shape)

    def normalize_states(self, s: torch.Tensor) -> torch.Tensor:
        return (s - self.state_mean) / self.state_std

    def predict_state(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalized latents (B, C, T, h, w) -> task state (B, T, S) in its own units."""
        return self.state_head(latents) * self.state_std + self.state_mean

    # ---- the denoiser -----------------------------------------------------------------------------

    def denoise(
        self,
        noisy: torch.Tensor,
        sigma: torch.Tensor,
        condition_mask: torch.Tensor,
        condition: torch.Tensor,
        actions: torch.Tensor | None,
        keep_actions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``D(x; sigma)`` per frame, with the conditioning frames overwritten by ``condition``.

        noisy, condition: (B, C, T, h, w); sigma: (B, T) > 0; condition_mask: bool (B, T);
        actions: (B, T-1, k, A) or None.
        """
        c_skip, c_out, c_in, c_noise = preconditioning(sigma, self.config.edm.sigma_data)
        flat_actions = actions.flatten(2) if actions is not None else None  # (B, T-1, k*A)
        out = self.dit(
            expand_frames(c_in, noisy) * noisy, condition_mask, c_noise, flat_actions, keep_actions
        )
        denoised = expand_frames(c_skip, noisy) * noisy + expand_frames(c_out, noisy) * out.to(noisy.dtype)
        return torch.where(condition_mask[:, None, :, None, None], condition, denoised)

    def training_loss(
        self,
        latents: torch.Tensor,
        actions: torch.Tensor,
        states: torch.Tensor | None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Denoising score matching on the future frames of windows, plus the state head's error.

        latents: normalized (B, C, T, h, w); actions: (B, T-1, k, A); states: normalized (B, T, S) or None.
        """
        b, _, t = latents.shape[:3]
        edm, device = self.config.edm, latents.device
        # Per sample: 1 .. T-1 conditioning frames, a noise level for the rest, one for the context.
        # A 1-frame window (an image batch) has no context: the model learns to generate a first frame.
        n_cond = torch.randint(1, t, (b,), generator=generator) if t > 1 else torch.zeros(b, dtype=torch.long)
        n_cond = n_cond.to(device)
        condition_mask = torch.arange(t, device=device)[None] < n_cond[:, None]  # (B, T)
        sigma_gen = sample_training_sigma((b,), edm, generator).to(device)
        sigma_cond = sample_condition_sigma((b,), edm, generator).to(device)
        sigma = torch.where(condition_mask, sigma_cond[:, None], sigma_gen[:, None])  # (B, T)
        noise = torch.randn(latents.shape, generator=generator).to(device, latents.dtype)
        noisy = latents + expand_frames(sigma, latents) * noise
        keep = torch.rand(b, generator=generator).to(device) >= self.config.action_dropout
        denoised = self.denoise(noisy, sigma, condition_mask, latents, actions, keep)

        weight = loss_weight(sigma, edm.sigma_data) * (~condition_mask)  # (B, T): future frames only
        per_frame = (denoised.float() - latents.float()).square().mean(dim=(1, 3, 4))  # (B, T)
        diffusion = (weight * per_frame).sum() / (~condition_mask).sum().clamp_min(1)
        metrics = {"diffusion_loss": float(diffusion.detach())}
        loss = diffusion
        if states is not None:
            state_loss = F.mse_loss(self.state_head(latents).float(), states.float())
            metrics["state_loss"] = float(state_loss.detach())
            loss = loss + state_loss
            future = ~condition_mask  # (B, T)

            def future_state_error(read: torch.Tensor) -> torch.Tensor:
                """Mean squared state error of a reading (B, T, S) over the generated frames."""
                error = (read.float() - states.float()).square().mean(-1)
                return (error * future).sum() / future.sum().clamp_min(1)

            if self.config.state_on_predictions:
                # The generated frames' estimates, detached: the head learns to read them, the
                # denoiser is not pulled towards latents that are easy to read.
                predicted_loss = future_state_error(self.state_head(denoised.detach()))
                metrics["state_loss_predicted"] = float(predicted_loss.detach())
                loss = loss + predicted_loss
            if self.config.state_consistency > 0 and t > 1:
                # The other way round: the head held fixed, the denoiser learns to predict latents in
                # which it reads the true next state. Windows only: a first frame generated from
                # nothing cannot be predicted, and the term would only pull it towards the mean state.
                # (The head's parameters belong to the root's FSDP2 group, gathered by the time this
                # runs; a head sharded on its own would re-gather over these detached copies.)
                fixed = {name: p.detach() for name, p in self.state_head.named_parameters()}
                consistency = future_state_error(
                    torch.func.functional_call(self.state_head, fixed, (denoised,))
                )
                metrics["state_consistency"] = float(consistency.detach())
                loss = loss + self.config.state_consistency * consistency
        metrics["loss"] = float(loss.detach())
        return loss, metrics

    def forward(
        self,
        latents: torch.Tensor,
        actions: torch.Tensor,
        states: torch.Tensor | None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The training loss (``training_loss``), as ``forward`` so DDP and FSDP2 wrappers see the call."""
        return self.training_loss(latents, actions, states, generator)

    # ---- sampling ---------------------------------------------------------------------------------

    def sample_next(
        self,
        context: torch.Tensor,
        actions: torch.Tensor,
        generator: torch.Generator,
        sampler: SamplerConfig = SamplerConfig(),
        noise_groups: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The next latent frame (B, C, 1, h, w) after ``context`` (B, C, Tc, h, w), Tc < window.

        actions: (B, Tc, k, A): the intervals leading to context frames 1 .. Tc-1 and to the new frame.
        noise_groups: optional int64 (B,) labels >= 0; rows with the same label get the same noise
        (G draws instead of B), so rows that differ only in their actions differ only by them.
        Differentiable in the actions and context when autograd is on; sample under ``torch.no_grad()``.
        """
        b, c, tc, h, w = context.shape
        edm, device = self.config.edm, context.device
        window = tc + 1
        condition_mask = torch.zeros(b, window, dtype=torch.bool, device=device)
        condition_mask[:, :tc] = True
        aug = _grouped_randn(context.shape, generator, noise_groups).to(device, context.dtype)
        clean = torch.cat([context, context.new_zeros(b, c, 1, h, w)], dim=2)
        condition = clean.clone()
        condition_input = torch.cat(
            [context + edm.condition_sigma * aug, context.new_zeros(b, c, 1, h, w)], dim=2
        )
        cond_sigma = max(edm.condition_sigma, edm.sigma_min)
        keep_all = torch.ones(b, dtype=torch.bool, device=device)

        def denoise_new(x_new: torch.Tensor, sigma: float) -> torch.Tensor:
            noisy = torch.cat([condition_input[:, :, :tc], x_new], dim=2)
            sigmas = torch.full((b, window), cond_sigma, device=device)
            sigmas[:, tc] = sigma
            if sampler.guidance == 1.0:
                return self.denoise(noisy, sigmas, condition_mask, condition, actions)[:, :, tc:]
            both = self.denoise(
                torch.cat([noisy, noisy]),
                torch.cat([sigmas, sigmas]),
                torch.cat([condition_mask, condition_mask]),
                torch.cat([condition, condition]),
                torch.cat([actions, actions]),
                torch.cat([keep_all, ~keep_all]),
            )[:, :, tc:]
            cond, uncond = both.chunk(2)
            return uncond + sampler.guidance * (cond - uncond)

        sigma_min = sampler.sigma_min if sampler.sigma_min is not None else edm.sigma_min
        if sigma_min > edm.sigma_max / 2:
            raise ValueError(
                f"SamplerConfig.sigma_min={sigma_min} must be at most half the model's sigma_max "
                f"({edm.sigma_max}): the schedule runs from sigma_max down to it"
            )
        sigmas = karras_sigmas(sampler.steps, sigma_min, edm.sigma_max, edm.rho)
        noise = _grouped_randn((b, c, 1, h, w), generator, noise_groups).to(device, context.dtype)
        return heun_sample(denoise_new, noise, sigmas, second_order=sampler.solver == "heun")


def _grouped_randn(
    shape: tuple[int, ...], generator: torch.Generator, groups: torch.Tensor | None
) -> torch.Tensor:
    """Standard normal noise of ``shape`` (B, ...); with ``groups`` (B,), one draw per group, shared."""
    if groups is None:
        return torch.randn(shape, generator=generator)
    if (
        not isinstance(groups, torch.Tensor)
        or groups.shape != shape[:1]
        or groups.dtype != torch.int64
        or (groups < 0).any()
    ):
        got = (
            f"{groups.dtype} {tuple(groups.shape)}"
            if isinstance(groups, torch.Tensor)
            else type(groups).__name__
        )
        raise ValueError(
            f"noise_groups must be an int64 tensor of shape ({shape[0]},) with values >= 0, got {got}"
        )
    # One draw per distinct value, in value order (0 .. G-1 map to themselves): labels such as env
    # seeds need not be small.
    values, index = torch.unique(groups.cpu(), return_inverse=True)
    draws = torch.randn((len(values), *shape[1:]), generator=generator)
    return draws[index]
