"""3D rotary position embedding (RoPE; Su et al., arXiv 2104.09864) over (T, H, W) token grids, as the
Cosmos diffusion world models use it (arXiv 2501.03575, Sec. 5.1: "3D RoPE").

Each attention head's dimension is split into three parts, one per axis (time gets what is left
after two equal spatial parts, all even). Within a part, channel pairs ``(2i, 2i+1)`` are rotated by
the angle ``position * theta**(-2i / part)``. Attention scores then depend on relative positions
only, so the same model runs on grids of any size (more frames in a rollout, another resolution).
"""

from __future__ import annotations

import torch
from torch import nn


def split_head_dim(head_dim: int) -> tuple[int, int, int]:
    """Channels of a head given to (T, H, W): equal even spatial parts, time takes the rest."""
    if head_dim % 2 or head_dim < 6:
        raise ValueError(f"3D RoPE needs an even head dimension >= 6, got {head_dim}")
    spatial = (head_dim // 3) // 2 * 2
    return head_dim - 2 * spatial, spatial, spatial


class RotaryEmbedding3D(nn.Module):
    """Angles for a (T, H, W) grid of tokens, flattened in (T, H, W) order."""

    def __init__(self, head_dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.theta = theta
        self.parts = split_head_dim(head_dim)

    def _angles(self, positions: torch.Tensor, part: int) -> torch.Tensor:
        freqs = self.theta ** (-torch.arange(0, part, 2, dtype=torch.float64) / part)  # (part/2,)
        return positions.double()[:, None] * freqs[None]  # (N, part/2)

    def forward(
        self, grid: tuple[int, int, int], *, t_offset: int = 0, device: torch.device | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin, each float32 ``(T*H*W, head_dim / 2)``; ``t_offset`` shifts the time index."""
        t, h, w = grid
        tt, hh, ww = torch.meshgrid(
            torch.arange(t) + t_offset, torch.arange(h), torch.arange(w), indexing="ij"
        )
        angles = torch.cat(
            [self._angles(p.flatten(), part) for p, part in zip((tt, hh, ww), self.parts, strict=True)],
            dim=1,
        )  # (T*H*W, head_dim/2)
        return angles.cos().float().to(device), angles.sin().float().to(device)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs of ``x`` (B, heads, N, head_dim) by the angles of ``cos``/``sin`` (N, head_dim/2)."""
    pairs = x.float().unflatten(-1, (-1, 2))  # (B, heads, N, head_dim/2, 2)
    a, b = pairs[..., 0], pairs[..., 1]
    rotated = torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1)
    return rotated.flatten(-2).to(x.dtype)
