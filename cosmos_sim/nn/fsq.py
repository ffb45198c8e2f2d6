"""Finite Scalar Quantization (Mentzer et al., "Finite Scalar Quantization: VQ-VAE Made Simple",
arXiv 2309.15505), as the discrete Cosmos tokenizers use it.

Each of the ``d = len(levels)`` latent channels is squashed into a bounded range and rounded to
one of ``levels[i]`` values, so the implicit codebook is the grid of ``prod(levels)`` points
(64,000 for the default ``[8, 8, 8, 5, 5, 5]``) and needs no learned embedding, no commitment
loss and no codebook collapse handling. Rounding passes gradients straight through.

Codes are the rounded values rescaled to ``[-1, 1]``; indices are 0-based integers in
``[0, prod(levels))``, mixed-radix with the first channel least significant. The buffers are
not persistent: the quantizer adds no keys to a state dict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def round_ste(z: torch.Tensor) -> torch.Tensor:
    """Round to the nearest integer, with the identity as gradient (straight-through estimator)."""
    return z + (z.round() - z).detach()


class FSQuantizer(nn.Module):
    """Quantize the channel axis ``dim`` of a latent to the FSQ grid given by ``levels``."""

    def __init__(
        self, levels: Sequence[int] = (8, 8, 8, 5, 5, 5), *, dim: int = 1, eps: float = 1e-3
    ) -> None:
        super().__init__()
        levels = list(levels)
        if not levels or any(not isinstance(n, int) or n < 2 for n in levels):
            raise ValueError(f"FSQuantizer: levels must be integers >= 2, got {levels!r}")
        self.levels = levels
        self.dim = dim
        self.eps = eps
        self.register_buffer("_levels", torch.tensor(levels, dtype=torch.int64), persistent=False)
        basis = [math.prod(levels[:i]) for i in range(len(levels))]
        self.register_buffer("_basis", torch.tensor(basis, dtype=torch.int64), persistent=False)

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels)

    @property
    def num_channels(self) -> int:
        return len(self.levels)

    def _channels_last(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[self.dim] != self.num_channels:
            raise ValueError(
                f"FSQuantizer: expected {self.num_channels} channels on dim {self.dim} (levels {self.levels}), "
                f"got shape {tuple(z.shape)}"
            )
        return z.movedim(self.dim, -1)

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        """Squash channels-last ``z`` so that rounding yields exactly ``levels[i]`` values per channel."""
        levels = self._levels.to(z.dtype)
        half_l = (levels - 1) * (1 + self.eps) / 2
        # Even level counts have no zero level: shift by half a step so the grid is symmetric.
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0).to(z.dtype)
        shift = torch.atanh(offset / half_l)
        return torch.tanh(z + shift) * half_l - offset

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``z`` float with ``len(levels)`` channels on ``dim`` -> (codes in [-1, 1], same shape; indices int64,
        ``dim`` removed)."""
        z_last = self._channels_last(z)
        half_width = (self._levels // 2).to(z.dtype)
        codes = round_ste(self.bound(z_last)) / half_width
        return codes.movedim(-1, self.dim), self._codes_to_indices_last(codes)

    def _codes_to_indices_last(self, codes: torch.Tensor) -> torch.Tensor:
        half_width = self._levels // 2
        digits = (codes * half_width + half_width).round().to(torch.int64)  # (..., d) in [0, levels)
        return (digits * self._basis).sum(-1)

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes with channels on ``dim`` -> 0-based indices (``dim`` removed)."""
        return self._codes_to_indices_last(self._channels_last(codes))

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        """0-based indices -> codes, with the channel axis inserted at ``dim``."""
        if indices.dtype.is_floating_point:
            raise ValueError(f"FSQuantizer: indices must be integers, got {indices.dtype}")
        if indices.numel() and (indices.min() < 0 or indices.max() >= self.codebook_size):
            raise ValueError(
                f"FSQuantizer: indices must lie in [0, {self.codebook_size}), got "
                f"[{int(indices.min())}, {int(indices.max())}]"
            )
        digits = (indices.unsqueeze(-1) // self._basis) % self._levels  # (..., d)
        half_width = self._levels // 2
        codes = (digits - half_width).to(torch.float32) / half_width.to(torch.float32)
        return codes.movedim(-1, self.dim)
