"""Causal video tokenizers after NVIDIA Cosmos Tokenizer (arXiv 2501.03575, Sec. 3.1): continuous
(``CausalContinuousVideoTokenizer``, "CV") and discrete FSQ (``CausalDiscreteVideoTokenizer``, "DV").

A clip of ``1 + k*n`` frames maps to ``1 + n`` latent frames; frame 0 is encoded alone, so an image is a
1-frame video, and a latent frame never depends on later video frames. ``stream_encoder()`` /
``stream_decoder()`` process a clip chunk by chunk with the numbers of a whole-clip pass.

Inputs are model frames (``cosmos_sim.frames.frames_to_model``): float ``(B, 3, T, H, W)`` in [-1, 1].
The module tree is the published one (children ``encoder``, ``decoder``, ``quant_conv``,
``post_quant_conv``, and the parameter-free ``quantizer`` for DV), so published weights load strictly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from cosmos_sim.nn.causal import CausalConv3d
from cosmos_sim.nn.fsq import FSQuantizer
from cosmos_sim.nn.streaming import TemporalCache, streaming
from cosmos_sim.tokenizers.config import TokenizerConfig
from cosmos_sim.tokenizers.networks import DecoderFactorized, EncoderFactorized

# Inputs may exceed [-1, 1] by rounding or resampling noise; anything further is a convention mistake.
_RANGE_TOLERANCE = 1e-3


@dataclass
class TokenizerOutput:
    """A training forward pass: the reconstruction and the latent it went through."""

    reconstruction: torch.Tensor
    """float (B, 3, T, H, W), unclamped."""
    latent: torch.Tensor
    """CV: float (B, latent_channels, 1 + n, h, w); DV: FSQ codes in [-1, 1], (B, len(levels), 1 + n, h, w)."""
    indices: torch.Tensor | None = None
    """DV: int64 token indices (B, 1 + n, h, w)."""


class CausalVideoTokenizer(nn.Module):
    """What CV and DV share: the networks, input checks, streaming, latent statistics."""

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = EncoderFactorized(config)
        self.decoder = DecoderFactorized(config)
        self.quant_conv = CausalConv3d(config.z_channels, config.latent_dim, 1, padding=0)
        self.post_quant_conv = CausalConv3d(config.latent_dim, config.z_channels, 1, padding=0)
        # Per-channel (and per latent frame) statistics for world models, not part of the state dict.
        self.latent_mean: torch.Tensor | None = None
        self.latent_std: torch.Tensor | None = None

    # ---- input checks -------------------------------------------------------------------------------

    def check_video(self, x: torch.Tensor, *, continuing: bool = False) -> None:
        """Raise a ValueError saying what was expected unless ``x`` is a valid model-frame clip."""
        name = self.config.name
        if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
            kind = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"{name}: frames must be a float tensor (B, 3, T, H, W) in [-1, 1], got {kind}; "
                "convert uint8 frames with cosmos_sim.frames.frames_to_model"
            )
        if x.ndim != 5 or x.shape[1] != self.config.in_channels or 0 in x.shape:
            raise ValueError(
                f"{name}: frames must have shape (B, {self.config.in_channels}, T, H, W) with B, T >= 1, got "
                f"{tuple(x.shape)}"
            )
        self._check_dtype(x, "frames")
        self.config.check_frames(x.shape[2], x.shape[3], x.shape[4], continuing=continuing)
        low, high = x.aminmax()
        if not (torch.isfinite(low) and torch.isfinite(high)):
            raise ValueError(f"{name}: frames contain NaN or inf")
        if low < -1 - _RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
            raise ValueError(
                f"{name}: frames must lie in [-1, 1], got [{low.item():.3g}, {high.item():.3g}]; "
                "uint8 frames go through cosmos_sim.frames.frames_to_model"
            )

    def check_latent(self, z: torch.Tensor) -> None:
        c = self.config
        if (
            not isinstance(z, torch.Tensor)
            or not z.dtype.is_floating_point
            or z.ndim != 5
            or z.shape[1] != c.latent_dim
            or 0 in z.shape
        ):
            got = f"{z.dtype} {tuple(z.shape)}" if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(
                f"{c.name}: latents must be float (B, {c.latent_dim}, T', h, w) with B, T' >= 1, got {got}"
            )
        self._check_dtype(z, "latents")

    def _check_dtype(self, x: torch.Tensor, what: str) -> None:
        """The input in the weights' dtype (autocast lowers the arithmetic, not the input), as a convolution
        needs: float64 or float16 into float32 weights would fail inside torch."""
        weights = self.quant_conv.conv3d.weight.dtype
        if x.dtype != weights:
            raise ValueError(
                f"{self.config.name}: {what} must be {weights} like the weights, got {x.dtype}; convert with "
                f".to({weights})"
            )

    # ---- encode / decode (subclasses add quantization) -----------------------------------------------

    def _encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        return self.quant_conv(self.encoder(x))  # (B, latent_dim, 1 + n, h, w)

    def _decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant_conv(z))  # (B, 3, 1 + k*n, H, W)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Encode and decode ``x``; the result is clamped to [-1, 1]."""
        return self.forward(x).reconstruction.clamp(-1.0, 1.0)

    # ---- streaming ----------------------------------------------------------------------------------

    def stream_encoder(self) -> StreamingEncoder:
        """Encode a clip chunk by chunk: first chunk ``1 + k*m`` frames, later ones ``k*m``."""
        return StreamingEncoder(self)

    def stream_decoder(self) -> StreamingDecoder:
        """Decode latents chunk by chunk (any number of latent frames per chunk)."""
        return StreamingDecoder(self)

    # ---- latent statistics --------------------------------------------------------------------------

    def set_latent_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-channel statistics ``(C,)``, or per channel and latent frame ``(C*T,)`` / ``(C, T)`` flattened
        channel-major as in the published ``mean_std`` files. Latent frames beyond T use the last column."""
        c = self.config.latent_dim
        mean, std = (torch.as_tensor(t, dtype=torch.float32) for t in (mean, std))
        if mean.shape != std.shape or mean.numel() % c or mean.numel() == 0:
            raise ValueError(
                f"{self.config.name}: latent mean/std must have {c}*T elements each (per channel, per latent "
                f"frame), got shapes {tuple(mean.shape)} and {tuple(std.shape)}"
            )
        if not torch.all(std > 0):
            raise ValueError(f"{self.config.name}: latent std must be positive everywhere")
        self.latent_mean, self.latent_std = mean.reshape(c, -1), std.reshape(c, -1)

    def _stats_for(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.latent_mean is None:
            raise ValueError(f"{self.config.name}: no latent statistics; call set_latent_stats first")
        frames = z.shape[2]
        idx = torch.arange(frames).clamp(max=self.latent_mean.shape[1] - 1)
        shape = (1, self.config.latent_dim, frames, 1, 1)
        mean = self.latent_mean[:, idx].reshape(shape).to(z)
        std = self.latent_std[:, idx].reshape(shape).to(z)
        return mean, std

    def normalize_latent(self, z: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats_for(z)
        return (z - mean) / std

    def denormalize_latent(self, z: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats_for(z)
        return z * std + mean


class CausalContinuousVideoTokenizer(CausalVideoTokenizer):
    """CV: a deterministic autoencoder with ``latent_channels`` continuous channels."""

    def __init__(self, config: TokenizerConfig) -> None:
        if config.kind != "CV":
            raise ValueError(f"CausalContinuousVideoTokenizer needs kind='CV', got {config.kind!r}")
        super().__init__(config)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, 1 + k*n, H, W)`` in [-1, 1] -> latent ``(B, C, 1 + n, H/s, W/s)``."""
        self.check_video(x)
        return self._encode_latent(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent ``(B, C, 1 + n, h, w)`` -> frames ``(B, 3, 1 + k*n, h*s, w*s)`` (unclamped)."""
        self.check_latent(z)
        return self._decode_latent(z)

    def forward(self, x: torch.Tensor) -> TokenizerOutput:
        z = self.encode(x)
        return TokenizerOutput(reconstruction=self._decode_latent(z), latent=z)


class CausalDiscreteVideoTokenizer(CausalVideoTokenizer):
    """DV: latents quantized by FSQ to ``prod(levels)`` codes; tokens are 0-based int64 indices."""

    def __init__(self, config: TokenizerConfig) -> None:
        if config.kind != "DV":
            raise ValueError(f"CausalDiscreteVideoTokenizer needs kind='DV', got {config.kind!r}")
        super().__init__(config)
        self.quantizer = FSQuantizer(config.levels, dim=1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, 3, 1 + k*n, H, W)`` in [-1, 1] -> (indices int64 ``(B, 1 + n, h, w)``, codes
        ``(B, len(levels), 1 + n, h, w)`` in [-1, 1])."""
        self.check_video(x)
        codes, indices = self.quantizer(self._encode_latent(x))
        return indices, codes

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Token indices ``(B, 1 + n, h, w)`` -> frames ``(B, 3, 1 + k*n, H, W)`` (unclamped)."""
        if not isinstance(indices, torch.Tensor) or indices.ndim != 4:
            got = tuple(indices.shape) if isinstance(indices, torch.Tensor) else type(indices).__name__
            raise ValueError(f"{self.config.name}: token indices must be integer (B, T', h, w), got {got}")
        codes = self.quantizer.indices_to_codes(indices).to(self.post_quant_conv.conv3d.weight.dtype)
        return self._decode_latent(codes)

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """FSQ codes ``(B, len(levels), 1 + n, h, w)`` -> frames."""
        self.check_latent(codes)
        return self._decode_latent(codes)

    def forward(self, x: torch.Tensor) -> TokenizerOutput:
        self.check_video(x)
        codes, indices = self.quantizer(self._encode_latent(x))  # straight-through gradients
        return TokenizerOutput(reconstruction=self._decode_latent(codes), latent=codes, indices=indices)


TOKENIZER_CLASSES: dict[str, type[CausalVideoTokenizer]] = {
    "CV": CausalContinuousVideoTokenizer,
    "DV": CausalDiscreteVideoTokenizer,
}


def build_tokenizer(config: TokenizerConfig) -> CausalVideoTokenizer:
    """The tokenizer class for ``config.kind``, freshly initialized."""
    return TOKENIZER_CLASSES[config.kind](config)


def _same_clip(first: tuple[int, ...] | None, now: tuple[int, ...], name: str, what: str) -> tuple[int, ...]:
    """A stream's (B, H, W): every chunk continues the clips of the first, so it must match them."""
    if first is not None and now != first:
        raise ValueError(
            f"{name}: a streamed chunk continues the first chunk's clips: {what} must be (B, H, W) = {first} "
            f"in batch and size, got {now}; start a new stream for other clips"
        )
    return now


class StreamingEncoder:
    """Encodes one clip chunk by chunk, remembering each causal layer's past (``TemporalCache``)."""

    def __init__(self, tokenizer: CausalVideoTokenizer) -> None:
        self.tokenizer = tokenizer
        self.cache = TemporalCache()
        self.frames_seen = 0
        self._shape: tuple[int, ...] | None = None  # (B, H, W) of the first chunk

    def push(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The next frames ``(B, 3, T, H, W)`` -> their latent frames (CV latent, or DV (indices, codes))."""
        self.tokenizer.check_video(x, continuing=self.frames_seen > 0)
        self._shape = _same_clip(
            self._shape, (x.shape[0], *x.shape[3:]), self.tokenizer.config.name, "frames"
        )
        with streaming(self.cache):
            z = self.tokenizer._encode_latent(x)
        self.frames_seen += x.shape[2]
        if isinstance(self.tokenizer, CausalDiscreteVideoTokenizer):
            codes, indices = self.tokenizer.quantizer(z)
            return indices, codes
        return z


class StreamingDecoder:
    """Decodes one clip's latents chunk by chunk; the first chunk's first latent frame is the clip's first."""

    def __init__(self, tokenizer: CausalVideoTokenizer) -> None:
        self.tokenizer = tokenizer
        self.cache = TemporalCache()
        self._shape: tuple[int, ...] | None = None  # (B, h, w) of the first chunk

    def push(self, latent: torch.Tensor) -> torch.Tensor:
        """CV latents or DV codes ``(B, C, T', h, w)`` -> frames (the first chunk gives ``1 + k*(T'-1)``,
        later chunks ``k*T'``)."""
        self.tokenizer.check_latent(latent)
        self._shape = _same_clip(
            self._shape, (latent.shape[0], *latent.shape[3:]), self.tokenizer.config.name, "latents"
        )
        with streaming(self.cache):
            return self.tokenizer._decode_latent(latent)
