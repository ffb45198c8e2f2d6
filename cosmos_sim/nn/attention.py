"""Single-head attention blocks of the Cosmos tokenizers' middle stage (NVIDIA Cosmos-Tokenizer
``modules/layers3d.py``: ``CausalAttnBlock``, ``CausalTemporalAttnBlock``), with the published names
``norm``, ``q``, ``k``, ``v``, ``proj_out``: spatial attention within each frame, and causal
temporal attention in which each position attends to itself and earlier frames only. The temporal
block keeps past keys and values in the active ``TemporalCache`` when streaming.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.nn.causal import CausalConv3d, CausalNormalize
from cosmos_sim.nn.streaming import active_cache


class _AttentionProjections(nn.Module):
    def __init__(self, channels: int, norm_groups: int = 1) -> None:
        super().__init__()
        self.norm = CausalNormalize(channels, norm_groups)
        self.q = CausalConv3d(channels, channels, 1, padding=0)
        self.k = CausalConv3d(channels, channels, 1, padding=0)
        self.v = CausalConv3d(channels, channels, 1, padding=0)
        self.proj_out = CausalConv3d(channels, channels, 1, padding=0)

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.norm(x)
        return self.q(h), self.k(h), self.v(h)


class CausalAttnBlock(_AttentionProjections):
    """Attention over the H*W positions of each frame; residual."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, height, width = x.shape
        q, k, v = (
            t.permute(0, 2, 3, 4, 1).reshape(batch * frames, 1, height * width, channels)
            for t in self._qkv(x)
        )
        h = F.scaled_dot_product_attention(q, k, v)  # (B*T, 1, H*W, C)
        h = h.reshape(batch, frames, height, width, channels).permute(0, 4, 1, 2, 3)  # (B, C, T, H, W)
        return x + self.proj_out(h)


class CausalTemporalAttnBlock(_AttentionProjections):
    """Attention over the frames at each spatial position, masked so frame t sees frames <= t; residual."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, frames, height, width = x.shape
        q, k, v = (
            t.permute(0, 3, 4, 2, 1).reshape(batch * height * width, 1, frames, channels)
            for t in self._qkv(x)
        )
        cache = active_cache()
        past = cache.get(self) if cache is not None else None
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)  # (B*H*W, 1, P+T, C)
        if cache is not None:
            cache.put(self, (k, v))
        num_past = k.shape[2] - frames
        # Query i is frame num_past + i of the stream: it may see keys 0 .. num_past + i.
        allowed = torch.ones(frames, k.shape[2], dtype=torch.bool, device=x.device).tril(num_past)
        h = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # (B*H*W, 1, T, C)
        h = h.reshape(batch, height, width, frames, channels).permute(0, 4, 3, 1, 2)  # (B, C, T, H, W)
        return x + self.proj_out(h)
