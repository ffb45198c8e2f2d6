"""AdaLN-LoRA modulation (arXiv 2501.03575, Sec. 5.1): the adaptive layer norm of DiT (Peebles and Xie,
arXiv 2212.09748) whose per-block projection of the conditioning vector is a low-rank product.

A DiT block modulates each of its sub-layers with a shift, a scale and a gate computed from the
conditioning embedding ``c`` (noise level, plus actions here). Plain AdaLN spends a ``D x 3D`` matrix
per sub-layer and block; AdaLN-LoRA replaces it with ``D x r`` and ``r x 3D`` (rank ``r``, 256 in Cosmos
at D = 4096), and adds a shared ``3D`` vector computed once for the whole network. The last
projection starts at zero, so every block starts as the identity (DiT's "adaLN-Zero").
"""

from __future__ import annotations

import torch
from torch import nn


class AdaLNLoRA(nn.Module):
    """``c`` (..., D) -> (shift, scale, gate), each (..., D), for one sub-layer of a block."""

    def __init__(self, dim: int, rank: int) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"AdaLNLoRA rank must be >= 1, got {rank}")
        self.down = nn.Linear(dim, rank, bias=False)
        self.up = nn.Linear(rank, 3 * dim, bias=False)
        nn.init.zeros_(self.up.weight)

    def forward(
        self, c: torch.Tensor, shared: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.up(self.down(torch.nn.functional.silu(c)))  # (..., 3D)
        if shared is not None:
            h = h + shared
        shift, scale, gate = h.chunk(3, dim=-1)
        return shift, scale, gate


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x * (1 + scale) + shift``; shift and scale broadcast over ``x``'s token axis."""
    return x * (1 + scale) + shift
