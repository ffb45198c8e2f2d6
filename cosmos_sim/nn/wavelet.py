"""Causal 3D Haar wavelet patching, as the Cosmos tokenizers' first and last layers (arXiv 2501.03575,
"Cosmos World Foundation Model Platform", Sec. 3.1; NVIDIA Cosmos-Tokenizer ``modules/patching.py``).

``HaarPatcher3D(p)`` turns ``(B, C, 1 + p*n, H, W)`` into ``(B, C * p**3, 1 + n, H/p, W/p)``. The first
frame is encoded alone: it is repeated ``p`` times before the transform, so patched frame 0 depends
on frame 0 only and patched frame ``j >= 1`` on frames ``p*(j-1)+1 .. p*j``; an image is a 1-frame
video. The transform is ``log2(p)`` passes of a one-level 3D Haar DWT; each pass splits T, then H,
then W into low/high halves and stacks the 8 sub-bands on channels in the order
``[lll, llh, lhl, lhh, hll, hlh, hhl, hhh]`` (letters T, H, W), then divides by ``2*sqrt(2)`` so the
low band is the mean of each 2x2x2 block. ``HaarUnpatcher3D`` inverts it exactly and drops the
``p - 1`` repeated frames. See docs/design/cosmos_tokenizer_reference.md, Sec. 2.1-2.2.

``temporal=False`` patches space only (image tokenizers): ``log2(p)`` passes of a 2D Haar DWT on each
frame, 4 sub-bands ``[ll, lh, hl, hh]`` per pass, ``(B, C, T, H, W)`` -> ``(B, C * p**2, T, H/p, W/p)``.

Inside a ``cosmos_sim.nn.streaming`` block, a chunk after the first continues the clip: the patcher
does not repeat its first frame and the unpatcher does not drop frames.

The transform is written with reshapes rather than strided grouped convolutions: the same numbers
for even sizes (every size is even here), without padding or filter buffers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cosmos_sim.nn.streaming import continues_stream

_SQRT2 = math.sqrt(2.0)
_RESCALE = 2.0 * _SQRT2  # makes the all-low band the mean of its 2x2x2 block


def _split(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Haar analysis along ``dim``: (low, high) of consecutive pairs, each half the length."""
    pairs = x.unflatten(dim, (-1, 2))  # (..., L/2, 2, ...)
    a, b = pairs.select(dim + 1, 0), pairs.select(dim + 1, 1)
    return (a + b) / _SQRT2, (a - b) / _SQRT2


def _merge(low: torch.Tensor, high: torch.Tensor, dim: int) -> torch.Tensor:
    """Haar synthesis along ``dim``: interleave the reconstructed pairs, twice the length."""
    a, b = (low + high) / _SQRT2, (low - high) / _SQRT2
    return torch.stack([a, b], dim + 1).flatten(dim, dim + 1)


def haar_dwt3d(x: torch.Tensor) -> torch.Tensor:
    """One level: ``(B, C, T, H, W)`` with even T, H, W -> ``(B, 8C, T/2, H/2, W/2)``."""
    bands = []
    for x_t in _split(x, 2):  # T: low, high
        for x_th in _split(x_t, 3):  # H
            bands.extend(_split(x_th, 4))  # W
    return torch.cat(bands, dim=1) / _RESCALE


def haar_dwt2d(x: torch.Tensor) -> torch.Tensor:
    """One spatial level: ``(B, C, T, H, W)`` with even H, W -> ``(B, 4C, T, H/2, W/2)``."""
    bands = []
    for x_h in _split(x, 3):
        bands.extend(_split(x_h, 4))
    return torch.cat(bands, dim=1) / 2.0


def haar_idwt2d(y: torch.Tensor) -> torch.Tensor:
    """Inverse of ``haar_dwt2d``: ``(B, 4C, T, H, W)`` -> ``(B, C, T, 2H, 2W)``."""
    bands = list((y * 2.0).chunk(4, dim=1))
    return _merge(_merge(bands[0], bands[1], 4), _merge(bands[2], bands[3], 4), 3)


def haar_idwt3d(y: torch.Tensor) -> torch.Tensor:
    """Inverse of ``haar_dwt3d``: ``(B, 8C, T, H, W)`` -> ``(B, C, 2T, 2H, 2W)``."""
    bands = list((y * _RESCALE).chunk(8, dim=1))
    along_w = [_merge(bands[i], bands[i + 1], 4) for i in range(0, 8, 2)]
    along_h = [_merge(along_w[i], along_w[i + 1], 3) for i in range(0, 4, 2)]
    return _merge(along_h[0], along_h[1], 2)


def _levels(patch_size: int) -> int:
    levels = int(round(math.log2(patch_size))) if patch_size >= 1 else -1
    if levels < 0 or 2**levels != patch_size:
        raise ValueError(f"patch_size must be a power of two (1, 2, 4, ...), got {patch_size!r}")
    return levels


class HaarPatcher3D(nn.Module):
    """Causal Haar patching: ``(B, C, 1 + p*n, H, W)`` -> ``(B, C * p**3, 1 + n, H/p, W/p)``
    (``temporal=False``: ``(B, C, T, H, W)`` -> ``(B, C * p**2, T, H/p, W/p)``)."""

    def __init__(self, patch_size: int = 4, *, temporal: bool = True) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.levels = _levels(patch_size)
        self.temporal = temporal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch_size
        if x.ndim != 5:
            raise ValueError(f"HaarPatcher3D expects (B, C, T, H, W), got shape {tuple(x.shape)}")
        _, _, frames, height, width = x.shape
        if height % p or width % p:
            raise ValueError(
                f"HaarPatcher3D(patch_size={p}): H and W must divide by {p}, got {height}x{width}"
            )
        if not self.temporal:
            for _ in range(self.levels):
                x = haar_dwt2d(x)
            return x
        if continues_stream(self):
            if frames % p:
                raise ValueError(
                    f"HaarPatcher3D(patch_size={p}): a continuing chunk needs {p}*n frames, got {frames}"
                )
        else:
            if (frames - 1) % p:
                raise ValueError(
                    f"HaarPatcher3D(patch_size={p}): frame count must be 1 + {p}*n, got {frames}; "
                    f"e.g. {1 + p * max(1, (frames - 1) // p)}"
                )
            # The first frame stands alone: repeated p times it fills a whole temporal patch.
            x = torch.cat(
                [x[:, :, :1].expand(-1, -1, p, -1, -1), x[:, :, 1:]], dim=2
            )  # (B, C, p + p*n, H, W)
        for _ in range(self.levels):
            x = haar_dwt3d(x)
        return x


class HaarUnpatcher3D(nn.Module):
    """Inverse of ``HaarPatcher3D``: ``(B, C * p**3, 1 + n, h, w)`` -> ``(B, C, 1 + p*n, h*p, w*p)``."""

    def __init__(self, patch_size: int = 4, *, temporal: bool = True) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.levels = _levels(patch_size)
        self.temporal = temporal

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        bands = (8 if self.temporal else 4) ** self.levels
        if y.ndim != 5 or y.shape[1] % bands:
            raise ValueError(
                f"HaarUnpatcher3D(patch_size={self.patch_size}) expects (B, C * {bands}, T, H, W), "
                f"got shape {tuple(y.shape)}"
            )
        inverse = haar_idwt3d if self.temporal else haar_idwt2d
        for _ in range(self.levels):
            y = inverse(y)
        if not self.temporal or continues_stream(self):
            return y
        return y[:, :, self.patch_size - 1 :]  # drop the copies of the first frame
