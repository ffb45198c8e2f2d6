"""Configuration of the diffusion world model: the DiT network, EDM and the Video2World window."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from cosmos_sim.configs import check_field_types, check_finite, check_known_fields


@dataclass(frozen=True)
class EDMConfig:
    """EDM (Karras et al., arXiv 2206.00364) noise levels, as the Cosmos diffusion WFMs use them."""

    sigma_data: float = 0.5
    """Standard deviation of the (normalized) latents; the preconditioning assumes it."""
    p_mean: float = 0.0
    """Training noise levels are log-normal: ln(sigma) ~ N(p_mean, p_std^2)."""
    p_std: float = 1.2
    """See ``p_mean``."""
    sigma_min: float = 0.002
    """Lowest noise level of the sampler."""
    sigma_max: float = 80.0
    """Highest noise level of the sampler (where sampling starts)."""
    rho: float = 7.0
    """Spacing of the sampler's noise levels (Karras et al., Eq. 5)."""
    condition_sigma_max: float = 0.1
    """Conditioning frames get noise up to this level in training (log-uniform from sigma_min), so the
    model tolerates the errors of its own earlier predictions when it rolls out."""
    condition_sigma: float = 0.01
    """Noise level the conditioning frames are given at sampling time."""

    def __post_init__(self) -> None:
        check_field_types(self)
        check_finite(
            self, "sigma_data", "p_std", "sigma_min", "sigma_max", "rho", "condition_sigma_max", above=0
        )
        check_finite(self, "p_mean")
        if not self.sigma_min < self.sigma_max:
            raise ValueError(
                f"EDMConfig: sigma_min ({self.sigma_min}) must be below sigma_max ({self.sigma_max})"
            )
        if not 0 <= self.condition_sigma <= self.condition_sigma_max:
            raise ValueError(
                f"EDMConfig.condition_sigma must be in [0, condition_sigma_max={self.condition_sigma_max}], "
                f"got {self.condition_sigma}"
            )


@dataclass(frozen=True)
class DiffusionWorldModelConfig:
    """An action-conditioned latent DiT after the Cosmos diffusion WFM (arXiv 2501.03575, Sec. 5.1)."""

    latent_channels: int = 16
    """Channels of the tokenizer's latent (16 for the CV tokenizers)."""
    latent_size: tuple[int, int] = (8, 8)
    """Latent height and width (64x64 frames through an 8x spatial tokenizer)."""
    patch: tuple[int, int, int] = (1, 2, 2)
    """Latent (T, H, W) per transformer token."""
    dim: int = 256
    """Transformer width."""
    depth: int = 6
    """Transformer blocks."""
    heads: int = 4
    """Attention heads (head dimension = dim / heads)."""
    mlp_ratio: float = 4.0
    """Hidden width of each block's MLP, as a multiple of ``dim``."""
    gelu: str = "tanh"
    """The MLP's GELU: ``tanh`` (the tanh approximation, as the shipped checkpoints were trained) or
    ``exact`` (erf). They differ by at most 5e-4, below bfloat16's resolution, but on a CPU with AMX
    the exact one runs 5x faster in bfloat16 (0.44 vs 2.24 ms on a 3,072 x 768 activation, 2 threads):
    the tanh GELU is 16% of ``world.step``'s time, and the shipped PushBlock weights run with
    ``exact`` take 141 instead of 169 ms a ``world.step`` at N=64 (``scripts/inference_precision.py``,
    README "Speed"). New recipes should use ``exact``; a checkpoint keeps the one it was trained
    with."""
    adaln_rank: int = 64
    """Rank of the AdaLN-LoRA projections."""
    absolute_pos_emb: bool = False
    """Add a learnable absolute (T, H, W) embedding to the tokens on top of 3D RoPE."""
    window: int = 5
    """Latent frames the network sees at once: conditioning frames plus frames to generate."""
    action_dim: int = 2
    """Dimension of one action (PushBlock: pusher velocity; CameraOrbit: camera motion)."""
    actions_per_latent: int = 4
    """Actions per latent frame: the tokenizer's temporal compression (one control interval)."""
    state_dim: int = 5
    """Dimension of the task's low-dimensional state read by ``predict_state``."""
    action_dropout: float = 0.1
    """Probability of dropping a sample's actions in training (classifier-free guidance)."""
    state_on_predictions: bool = True
    """Train the state head on the denoiser's estimates of the future frames as well as on the true
    latents: a planner's rollout hands the head the sampler's output, which is smoother than any
    encoded frame, and a head fitted on true latents alone misreads it."""
    state_consistency: float = 0.0
    """Weight of the state head's error on the denoiser's estimates of the future frames, with the
    gradient going into the denoiser (the head's own weights held fixed for this term); 0: the denoiser
    learns from the diffusion loss alone. A push moves few latent positions, so the latents' squared
    error barely sees it, and a denoiser trained on that error alone under-moves the block
    (``scripts/contact_response.py``); this term scores a prediction by what a planner reads from it.
    Windows of 2 frames or more only (not the image batch's single generated frames)."""
    edm: EDMConfig = field(default_factory=EDMConfig)
    """Noise levels of training and sampling."""
    task: str = "cosmos_sim/PushBlock-v0"
    """Environment the model imitates; a checkpoint of another task is refused."""
    tokenizer: str = ""
    """Tokenizer the latents come from (``latent_fingerprint``: the SHA-256 of its config and encoder
    side); a tokenizer that makes other latents is refused."""

    def __post_init__(self) -> None:
        check_field_types(self)
        for name in ("latent_size", "patch"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if isinstance(self.edm, dict):
            object.__setattr__(self, "edm", EDMConfig(**self.edm))
        if not isinstance(self.edm, EDMConfig):
            raise ValueError(
                f"DiffusionWorldModelConfig.edm must be an EDMConfig or a dict, got {self.edm!r}"
            )
        if len(self.patch) != 3 or self.patch[0] != 1 or min(self.patch) < 1:
            raise ValueError(
                f"DiffusionWorldModelConfig.patch must be (1, ph, pw) (one latent frame per token row), "
                f"got {self.patch}"
            )
        if (
            len(self.latent_size) != 2
            or min(self.latent_size) < 1
            or any(s % p for s, p in zip(self.latent_size, self.patch[1:], strict=True))
        ):
            raise ValueError(
                f"DiffusionWorldModelConfig.latent_size {self.latent_size} must be two sizes >= 1 that divide by the patch "
                f"{self.patch[1:]}"
            )
        if (
            self.heads < 1
            or self.dim % self.heads
            or (self.dim // self.heads) % 2
            or self.dim // self.heads < 6
        ):
            raise ValueError(
                f"DiffusionWorldModelConfig: dim ({self.dim}) / heads ({self.heads}) must be an even head "
                f"dimension >= 6 (3D RoPE splits it over T, H and W)"
            )
        for name in (
            "latent_channels",
            "depth",
            "adaln_rank",
            "action_dim",
            "actions_per_latent",
            "state_dim",
        ):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"DiffusionWorldModelConfig.{name} must be >= 1, got {getattr(self, name)!r}"
                )
        if self.window < 2:
            raise ValueError(
                f"DiffusionWorldModelConfig.window must be >= 2 (a conditioning frame and a frame to "
                f"generate), got {self.window}"
            )
        if not 0 < self.mlp_ratio < math.inf or int(self.dim * self.mlp_ratio) < 1:
            raise ValueError(
                f"DiffusionWorldModelConfig.mlp_ratio must be a finite number > 0 (the MLP's width over dim), "
                f"got {self.mlp_ratio!r}"
            )
        if self.gelu not in ("tanh", "exact"):
            raise ValueError(f"DiffusionWorldModelConfig.gelu must be 'tanh' or 'exact', got {self.gelu!r}")
        if not self.state_consistency >= 0:
            raise ValueError(
                f"DiffusionWorldModelConfig.state_consistency must be >= 0, got {self.state_consistency}"
            )
        if not 0 <= self.action_dropout < 1:
            raise ValueError(
                f"DiffusionWorldModelConfig.action_dropout must be in [0, 1), got {self.action_dropout}"
            )

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def grid(self) -> tuple[int, int]:
        """Tokens along H and W of one latent frame."""
        return self.latent_size[0] // self.patch[1], self.latent_size[1] // self.patch[2]

    @property
    def interval_action_dim(self) -> int:
        """Inputs of the action embedding: the actions of one control interval, concatenated."""
        return self.action_dim * self.actions_per_latent

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.update({k: list(v) for k, v in out.items() if isinstance(v, tuple)})
        return out

    @classmethod
    def from_dict(cls, data: dict) -> DiffusionWorldModelConfig:
        check_known_fields(cls, data)
        if isinstance(data.get("edm"), dict):
            check_known_fields(EDMConfig, data["edm"])
        return cls(**data)
