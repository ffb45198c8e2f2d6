"""Factorized causal encoder and decoder of the Cosmos video tokenizers (arXiv 2501.03575, Sec. 3.1;
NVIDIA Cosmos-Tokenizer ``modules/layers3d.py``: ``EncoderFactorized``, ``DecoderFactorized``).

Module and parameter names follow the published checkpoints so their weights load with
``strict=True`` (docs/design/cosmos_tokenizer_reference.md, Sec. 1.3-1.4). Attention placement follows
the corrected rule of NVIDIA/Cosmos: the nominal side halves only where the encoder downsamples space.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.nn.attention import CausalAttnBlock, CausalTemporalAttnBlock
from cosmos_sim.nn.causal import (
    CausalHybridDownsample3d,
    CausalHybridUpsample3d,
    CausalNormalize,
    CausalResnetBlockFactorized3d,
    factorized_conv,
)
from cosmos_sim.nn.wavelet import HaarPatcher3D, HaarUnpatcher3D
from cosmos_sim.tokenizers.config import TokenizerConfig


def _attention(channels: int, config: TokenizerConfig) -> nn.Sequential:
    """Spatial then causal temporal attention (keys ``.0.`` / ``.1.``); images need no temporal half."""
    blocks = [CausalAttnBlock(channels, config.norm_groups)]
    if config.is_video:
        blocks.append(CausalTemporalAttnBlock(channels, config.norm_groups))
    return nn.Sequential(*blocks)


def _res_block(in_channels: int, out_channels: int, config: TokenizerConfig) -> CausalResnetBlockFactorized3d:
    return CausalResnetBlockFactorized3d(
        in_channels,
        out_channels,
        dropout=config.dropout,
        time_kernel=config.temporal_kernel,
        norm_groups=config.norm_groups,
    )


def _middle(channels: int, config: TokenizerConfig) -> nn.Module:
    mid = nn.Module()
    mid.block_1 = _res_block(channels, channels, config)
    mid.attn_1 = _attention(channels, config)
    mid.block_2 = _res_block(channels, channels, config)
    return mid


def _run_middle(mid: nn.Module, h: torch.Tensor) -> torch.Tensor:
    return mid.block_2(mid.attn_1(mid.block_1(h)))


def _run_level(level: nn.Module, h: torch.Tensor) -> torch.Tensor:
    for i, block in enumerate(level.block):
        h = block(h)
        if len(level.attn):
            h = level.attn[i](h)
    return h


class EncoderFactorized(nn.Module):
    """Frames ``(B, 3, 1 + k*n, H, W)`` in [-1, 1] -> ``(B, z_channels, 1 + n, H/s, W/s)``."""

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        tk, ch, mult = config.temporal_kernel, config.channels, config.channels_mult
        self.patcher3d = HaarPatcher3D(config.patch_size, temporal=config.is_video)
        self.conv_in = factorized_conv(config.patched_channels, ch, tk)

        curr_res = config.resolution // config.patch_size
        in_mult = (1, *mult)
        self.down = nn.ModuleList()
        block_in = ch
        for i_level in range(len(mult)):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_in, block_out = ch * in_mult[i_level], ch * mult[i_level]
            for _ in range(config.num_res_blocks):
                level.block.append(_res_block(block_in, block_out, config))
                block_in = block_out
                if curr_res in config.attn_resolutions:
                    level.attn.append(_attention(block_in, config))
            if i_level != len(mult) - 1:
                spatial, temporal = config.encoder_downsampling(i_level)
                level.downsample = CausalHybridDownsample3d(
                    block_in, spatial_down=spatial, temporal_down=temporal
                )
                curr_res = curr_res // 2 if spatial else curr_res
            self.down.append(level)

        self.mid = _middle(block_in, config)
        self.norm_out = CausalNormalize(block_in, config.norm_groups)
        self.conv_out = factorized_conv(block_in, config.z_channels, tk)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(self.patcher3d(x))  # (B, C, 1 + n', H/p, W/p)
        for i_level, level in enumerate(self.down):
            h = _run_level(level, h)
            if i_level != len(self.down) - 1:
                h = level.downsample(h)
        h = _run_middle(self.mid, h)
        return self.conv_out(F.silu(self.norm_out(h)))  # (B, z, 1 + n, H/s, W/s)


class DecoderFactorized(nn.Module):
    """``(B, z_channels, 1 + n, h, w)`` -> frames ``(B, 3, 1 + k*n, h*s, w*s)`` (unclamped, ~[-1, 1])."""

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        self.config = config
        tk, ch, mult = config.temporal_kernel, config.channels, config.channels_mult
        block_in = ch * mult[-1]
        curr_res = config.resolution // config.patch_size // 2**config.num_spatial_downs
        self.conv_in = factorized_conv(config.z_channels, block_in, tk)
        self.mid = _middle(block_in, config)

        # Built from the latent side up, stored so that up[i] mirrors encoder level i.
        self.up = nn.ModuleList()
        for i_level in reversed(range(len(mult))):
            level = nn.Module()
            level.block, level.attn = nn.ModuleList(), nn.ModuleList()
            block_out = ch * mult[i_level]
            for _ in range(config.num_res_blocks + 1):
                level.block.append(_res_block(block_in, block_out, config))
                block_in = block_out
                if curr_res in config.attn_resolutions:
                    level.attn.append(_attention(block_in, config))
            if i_level != 0:
                spatial, temporal = config.decoder_upsampling(i_level)
                level.upsample = CausalHybridUpsample3d(block_in, spatial_up=spatial, temporal_up=temporal)
                curr_res = curr_res * 2 if spatial else curr_res
            self.up.insert(0, level)

        self.norm_out = CausalNormalize(block_in, config.norm_groups)
        self.conv_out = factorized_conv(block_in, config.patched_channels, tk)
        self.unpatcher3d = HaarUnpatcher3D(config.patch_size, temporal=config.is_video)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = _run_middle(self.mid, self.conv_in(z))
        for i_level in reversed(range(len(self.up))):
            h = _run_level(self.up[i_level], h)
            if i_level != 0:
                h = self.up[i_level].upsample(h)
        h = self.conv_out(F.silu(self.norm_out(h)))  # (B, 3 * p^3, 1 + n', H/p, W/p)
        return self.unpatcher3d(h)
