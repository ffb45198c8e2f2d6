"""Causal 3D building blocks of the Cosmos tokenizers (arXiv 2501.03575, Sec. 3.1; NVIDIA
Cosmos-Tokenizer ``modules/layers3d.py``), with the published module and parameter names.

Causality holds by construction: every temporal convolution pads on the left only, by repeating
the first frame; normalization is per frame; downsampling in time puts frame 0 alone in the first
output. So output frame ``t`` of any block depends on input frames ``<= t`` only, and a clip can be
processed chunk by chunk through ``cosmos_sim.nn.streaming`` with the numbers of a whole-clip pass.
Layer semantics and key names are described in docs/design/cosmos_tokenizer_reference.md, Sec. 1-2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.nn.streaming import active_cache, continues_stream


def _triple(size: int | tuple[int, int, int]) -> tuple[int, int, int]:
    return (size, size, size) if isinstance(size, int) else tuple(size)


def causal_time_pad(layer: nn.Module, x: torch.Tensor, pad: int, kernel: int, stride: int) -> torch.Tensor:
    """Prepend ``pad`` frames to ``x`` (B, C, T, H, W): copies of frame 0 at the start of a clip, or the
    frames that ``layer`` kept from the previous chunk of a stream, whose windows were not used up."""
    cache = active_cache()
    past = cache.get(layer) if cache is not None else None
    if past is None:
        past = x[:, :, :1].expand(-1, -1, pad, -1, -1)
    padded = torch.cat([past, x], dim=2)  # (B, C, pad + T, H, W)
    if cache is not None:
        used = ((padded.shape[2] - kernel) // stride + 1) * stride  # start of the next output's window
        cache.put(layer, padded[:, :, used:])
    return padded


class CausalConv3d(nn.Module):
    """``nn.Conv3d`` (the child ``conv3d``) with causal time padding and zero spatial padding."""

    def __init__(
        self,
        chan_in: int,
        chan_out: int,
        kernel_size: int | tuple[int, int, int] = 3,
        *,
        stride: int = 1,
        time_stride: int = 1,
        padding: int = 1,
    ) -> None:
        super().__init__()
        kt, kh, kw = _triple(kernel_size)
        self.time_kernel = kt
        self.time_stride = time_stride
        self.time_pad = (kt - 1) + (1 - time_stride)
        self.padding = padding
        self.conv3d = nn.Conv3d(chan_in, chan_out, (kt, kh, kw), stride=(time_stride, stride, stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.time_pad > 0:
            x = causal_time_pad(self, x, self.time_pad, self.time_kernel, self.time_stride)
        if self.padding:
            # Zero padding inside the conv is F.pad(mode="constant") + conv, without the copy.
            return F.conv3d(
                x,
                self.conv3d.weight,
                self.conv3d.bias,
                self.conv3d.stride,
                (0, self.padding, self.padding),
            )
        return self.conv3d(x)


def factorized_conv(chan_in: int, chan_out: int, time_kernel: int = 3) -> nn.Sequential:
    """A 3x3x3 convolution factorized as spatial (1,3,3) then causal temporal (t,1,1): keys ``.0.``/``.1.``."""
    return nn.Sequential(
        CausalConv3d(chan_in, chan_out, (1, 3, 3), padding=1),
        CausalConv3d(chan_out, chan_out, (time_kernel, 1, 1), padding=0),
    )


class ChannelAffine(nn.Module):
    """A per-channel scale and shift with GroupNorm's parameter names (``weight``, ``bias``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return x * self.weight.view(shape) + self.bias.view(shape)


class CausalNormalize(nn.Module):
    """GroupNorm over (C, H, W) of each frame separately (child ``norm``), so nothing flows back in time.

    ``num_groups=0`` keeps only the per-channel affine (same parameter names and shapes). Small
    tokenizers trained for minutes on mostly flat synthetic frames learn several times faster without
    the normalization: it holds them at the background-only plateau (docs/design/tokenizer_training.md).
    """

    def __init__(self, channels: int, num_groups: int = 1) -> None:
        super().__init__()
        if num_groups == 0:
            self.norm = ChannelAffine(channels)
        elif num_groups < 0 or channels % num_groups:
            raise ValueError(
                f"CausalNormalize: num_groups must be 0 or divide {channels} channels, got {num_groups}"
            )
        else:
            self.norm = nn.GroupNorm(num_groups, channels, eps=1e-6, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.norm, ChannelAffine):
            return self.norm(x)  # per channel: nothing crosses frames
        batch, _, frames = x.shape[:3]
        per_frame = x.transpose(1, 2).flatten(0, 1)  # (B*T, C, H, W)
        return self.norm(per_frame).unflatten(0, (batch, frames)).transpose(1, 2)  # (B, C, T, H, W)


class CausalResnetBlockFactorized3d(nn.Module):
    """Pre-norm residual block: norm, SiLU, factorized conv, twice; 1x1x1 shortcut when widths differ."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        dropout: float = 0.0,
        time_kernel: int = 3,
        norm_groups: int = 1,
    ) -> None:
        super().__init__()
        self.norm1 = CausalNormalize(in_channels, norm_groups)
        self.conv1 = factorized_conv(in_channels, out_channels, time_kernel)
        self.norm2 = CausalNormalize(out_channels, norm_groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = factorized_conv(out_channels, out_channels, time_kernel)
        self.nin_shortcut = (
            CausalConv3d(in_channels, out_channels, 1, padding=0)
            if in_channels != out_channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.nin_shortcut(x) + h


class CausalHybridDownsample3d(nn.Module):
    """2x down in space and/or time as a learned strided conv plus an average pool (published layout:
    ``conv1`` spatial, ``conv2`` temporal, ``conv3`` 1x1x1 mix; only the convs in use exist)."""

    def __init__(self, channels: int, *, spatial_down: bool, temporal_down: bool) -> None:
        super().__init__()
        self.spatial_down = spatial_down
        self.temporal_down = temporal_down
        if spatial_down:
            self.conv1 = CausalConv3d(channels, channels, (1, 3, 3), stride=2, padding=0)
        if temporal_down:
            self.conv2 = CausalConv3d(channels, channels, (3, 1, 1), time_stride=2, padding=0)
        if spatial_down or temporal_down:
            self.conv3 = CausalConv3d(channels, channels, 1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.spatial_down or self.temporal_down):
            return x
        if self.spatial_down:
            # Pad right and bottom so the stride-2 3x3 window covers even sides exactly.
            padded = F.pad(x, (0, 1, 0, 1, 0, 0))
            x = self.conv1(padded) + F.avg_pool3d(x, (1, 2, 2), stride=(1, 2, 2))
        if self.temporal_down:
            # Frame 0 is paired with itself, so output 0 sees frame 0 only and output j frames 2j-1, 2j
            # (and 2j-2 through conv2); a continuing stream starts on a pair boundary.
            if not continues_stream(self):
                x = torch.cat([x[:, :, :1], x], dim=2)  # (B, C, 1 + T, H, W)
            x = self.conv2(x) + F.avg_pool3d(x, (2, 1, 1), stride=(2, 1, 1))
        return self.conv3(x)


class CausalHybridUpsample3d(nn.Module):
    """2x up in time and/or space by repetition plus a residual conv (published layout: ``conv1``
    temporal, ``conv2`` spatial, ``conv3`` 1x1x1 mix; only the convs in use exist)."""

    def __init__(self, channels: int, *, spatial_up: bool, temporal_up: bool) -> None:
        super().__init__()
        self.spatial_up = spatial_up
        self.temporal_up = temporal_up
        if temporal_up:
            self.conv1 = CausalConv3d(channels, channels, (3, 1, 1), padding=0)
        if spatial_up:
            self.conv2 = CausalConv3d(channels, channels, (1, 3, 3), padding=1)
        if spatial_up or temporal_up:
            self.conv3 = CausalConv3d(channels, channels, 1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.spatial_up or self.temporal_up):
            return x
        if self.temporal_up:
            # 1 + n -> 1 + 2n: latent frame 0 gives one frame, every later one two.
            x = x.repeat_interleave(2, dim=2)
            if not continues_stream(self):
                x = x[:, :, 1:]
            x = self.conv1(x) + x
        if self.spatial_up:
            x = x.repeat_interleave(2, dim=3).repeat_interleave(2, dim=4)  # (B, C, T, 2H, 2W)
            x = self.conv2(x) + x
        return self.conv3(x)
