"""Architecture of a causal tokenizer, and the named presets (published Cosmos settings)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from cosmos_sim.configs import check_field_types, check_known_fields

KINDS = ("CV", "DV")


def _log2(value: int, name: str) -> int:
    if not isinstance(value, int) or value < 1 or 2 ** round(math.log2(value)) != value:
        raise ValueError(f"TokenizerConfig.{name} must be a power of two >= 1, got {value!r}")
    return round(math.log2(value))


@dataclass(frozen=True)
class TokenizerConfig:
    """A causal video (or image) tokenizer after Cosmos; the defaults are the published CV4x8x8."""

    kind: str = "CV"
    """"CV": continuous latents; "DV": discrete FSQ tokens."""
    temporal_compression: int = 4
    """Video frames per latent frame after the first (1 = image tokenizer: frames are independent)."""
    spatial_compression: int = 8
    """Pixels per latent position along H and along W."""
    patch_size: int = 4
    """Haar patch along H, W (and T for video); the network compresses the rest."""
    channels: int = 128
    """Width of the first level; level i has channels * channels_mult[i]."""
    channels_mult: tuple[int, ...] = (2, 4, 4)
    """Width multipliers, one per resolution level."""
    num_res_blocks: int = 2
    """Residual blocks per encoder level (the decoder has one more)."""
    attn_resolutions: tuple[int, ...] = (32,)
    """Levels whose nominal side (resolution / patch_size / downs so far) is listed get attention."""
    resolution: int = 1024
    """Nominal input side, used only to place attention (the published value is 1024)."""
    z_channels: int = 16
    """Channels at the encoder output and decoder input."""
    latent_channels: int = 16
    """CV: channels of the latent."""
    levels: tuple[int, ...] = (8, 8, 8, 5, 5, 5)
    """DV: FSQ levels per token channel (codebook size = their product)."""
    dropout: float = 0.0
    """Dropout inside residual blocks."""
    norm_groups: int = 1
    """GroupNorm groups over each frame (1, published); 0 = no normalization, only its per-channel
    scale and shift (same parameters), which the small shipped models train much faster with."""
    in_channels: int = 3
    """Channels of the frames (RGB)."""

    def __post_init__(self) -> None:
        check_field_types(self)
        if self.kind not in KINDS:
            raise ValueError(f"TokenizerConfig.kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("channels_mult", "attn_resolutions", "levels"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _log2(self.temporal_compression, "temporal_compression")
        _log2(self.spatial_compression, "spatial_compression")
        _log2(self.patch_size, "patch_size")
        if self.patch_size > self.spatial_compression:
            raise ValueError(
                f"TokenizerConfig: patch_size {self.patch_size} exceeds spatial_compression {self.spatial_compression}"
            )
        if self.is_video and self.patch_size > self.temporal_compression:
            raise ValueError(
                f"TokenizerConfig: a video tokenizer patches time by patch_size, so temporal_compression "
                f"({self.temporal_compression}) must be >= patch_size ({self.patch_size})"
            )
        if (
            not self.channels_mult
            or self.channels < 1
            or self.num_res_blocks < 1
            or min(self.channels_mult) < 1
        ):
            raise ValueError(
                f"TokenizerConfig: need channels >= 1, num_res_blocks >= 1 and at least one level, each a "
                f"multiplier >= 1, got channels={self.channels}, num_res_blocks={self.num_res_blocks}, "
                f"channels_mult={self.channels_mult}"
            )
        for name in ("z_channels", "latent_channels", "in_channels", "resolution"):
            if getattr(self, name) < 1:
                raise ValueError(f"TokenizerConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        downs = len(self.channels_mult) - 1
        if self.num_spatial_downs > downs or self.num_temporal_downs > downs:
            raise ValueError(
                f"TokenizerConfig: {self.name} needs {self.num_spatial_downs} spatial and "
                f"{self.num_temporal_downs} temporal 2x downsamplings but channels_mult {self.channels_mult} "
                f"gives {downs} level transitions; add levels"
            )
        ups = [self.decoder_upsampling(i) for i in range(1, len(self.channels_mult))]
        if (
            sum(s for s, _ in ups) != self.num_spatial_downs
            or sum(t for _, t in ups) != self.num_temporal_downs
        ):
            raise ValueError(
                f"TokenizerConfig: with channels_mult {self.channels_mult} the decoder cannot undo "
                f"{self.num_temporal_downs} temporal downsamplings (it needs len(channels_mult) >= "
                f"{self.num_temporal_downs + 2}); add levels"
            )
        if self.kind == "DV" and (not self.levels or any(n < 2 for n in self.levels)):
            raise ValueError(f"TokenizerConfig.levels must be integers >= 2, got {self.levels}")
        if self.norm_groups < 0 or (
            self.norm_groups and any((self.channels * m) % self.norm_groups for m in (1, *self.channels_mult))
        ):
            raise ValueError(
                f"TokenizerConfig.norm_groups must be 0 or divide every width "
                f"{sorted({self.channels * m for m in (1, *self.channels_mult)})}, got {self.norm_groups}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"TokenizerConfig.dropout must be in [0, 1), got {self.dropout}")

    @property
    def is_video(self) -> bool:
        return self.temporal_compression > 1

    @property
    def name(self) -> str:
        prefix = self.kind if self.is_video else {"CV": "CI", "DV": "DI"}[self.kind]
        factors = [self.temporal_compression] if self.is_video else []
        return prefix + "x".join(
            str(f) for f in [*factors, self.spatial_compression, self.spatial_compression]
        )

    @property
    def num_spatial_downs(self) -> int:
        return _log2(self.spatial_compression, "spatial_compression") - _log2(self.patch_size, "patch_size")

    @property
    def num_temporal_downs(self) -> int:
        if not self.is_video:
            return 0
        return _log2(self.temporal_compression, "temporal_compression") - _log2(self.patch_size, "patch_size")

    @property
    def patched_channels(self) -> int:
        return self.in_channels * self.patch_size ** (3 if self.is_video else 2)

    @property
    def latent_dim(self) -> int:
        """Channels of the latent the world models see: latent_channels (CV) or len(levels) (DV)."""
        return self.latent_channels if self.kind == "CV" else len(self.levels)

    @property
    def temporal_kernel(self) -> int:
        """Video: causal temporal convs of 3 frames; image: 1 (frames never mix)."""
        return 3 if self.is_video else 1

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels) if self.kind == "DV" else 0

    def encoder_downsampling(self, i_level: int) -> tuple[bool, bool]:
        """(spatial, temporal) 2x downsampling after encoder level ``i_level``."""
        return i_level < self.num_spatial_downs, i_level < self.num_temporal_downs

    def decoder_upsampling(self, i_level: int) -> tuple[bool, bool]:
        """(spatial, temporal) 2x upsampling after decoder level ``i_level`` (the published rule: time is
        restored at the levels nearest the latent, space wherever time is, and first)."""
        r = len(self.channels_mult) - 1 - i_level
        temporal = 0 < r < self.num_temporal_downs + 1
        spatial = temporal or (
            r < self.num_spatial_downs and self.num_spatial_downs > self.num_temporal_downs
        )
        return spatial, temporal

    def latent_frames(self, frames: int) -> int:
        return 1 + (frames - 1) // self.temporal_compression

    def check_frames(self, frames: int, height: int, width: int, *, continuing: bool = False) -> None:
        """Raise a ValueError naming the expected sizes unless a clip of this size can be tokenized."""
        k, s = self.temporal_compression, self.spatial_compression
        if continuing and (frames < k or frames % k):
            raise ValueError(
                f"{self.name}: a continuing stream chunk needs {k}*n frames (n >= 1), got {frames}"
            )
        if not continuing and (frames < 1 or (frames - 1) % k):
            raise ValueError(
                f"{self.name}: the frame count must be 1 + {k}*n, got {frames}; e.g. {1 + k * max(1, (frames - 1) // k)}"
            )
        if height < s or width < s or height % s or width % s:
            raise ValueError(f"{self.name}: height and width must be multiples of {s}, got {height}x{width}")

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.update({k: list(v) for k, v in out.items() if isinstance(v, tuple)})
        return out

    @classmethod
    def from_dict(cls, data: dict) -> TokenizerConfig:
        check_known_fields(cls, data)
        return cls(**data)


def _published(kind: str, temporal: int, spatial: int) -> TokenizerConfig:
    return TokenizerConfig(kind=kind, temporal_compression=temporal, spatial_compression=spatial)


PRESETS: dict[str, TokenizerConfig] = {
    c.name: c
    for c in [
        *(_published(kind, t, s) for kind in KINDS for t, s in [(4, 8), (8, 8), (8, 16)]),
        *(_published(kind, 1, s) for kind in KINDS for s in (8, 16)),
    ]
}
"""Published hyper-parameters by name: CV4x8x8, DV4x8x8, CV8x8x8, DV8x8x8, CV8x16x16, DV8x16x16 and the
image-only CI8x8, CI16x16, DI8x8, DI16x16 (the image ones reuse the factorized network with temporal
kernel 1, not the 2D module tree of NVIDIA's image checkpoints)."""


def preset(name: str, **overrides) -> TokenizerConfig:
    """A named preset, optionally with fields replaced (for example a smaller ``channels``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown tokenizer preset {name!r}; known: {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)
