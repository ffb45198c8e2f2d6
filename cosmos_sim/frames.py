"""The one conversion between frames at API boundaries and frames inside models (DESIGN.md).

Boundaries (envs, datasets, files, users): ``uint8 (..., T, H, W, 3)``, numpy or torch.
Models: ``float (B, 3, T, H, W)`` in ``[-1, 1]`` (the Cosmos convention).
"""

from __future__ import annotations

import numpy as np
import torch


def frames_to_model(
    frames: np.ndarray | torch.Tensor,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """``uint8 (B, T, H, W, 3)`` (or ``(T, H, W, 3)``, taken as B=1) -> ``float (B, 3, T, H, W)`` in [-1, 1]."""
    tensor = torch.as_tensor(frames)
    if tensor.dtype != torch.uint8:
        raise ValueError(
            f"frames must be uint8 in [0, 255] with shape (B, T, H, W, 3), got dtype {tensor.dtype}; "
            "convert floats in [0, 1] with (x * 255).round().astype(uint8)"
        )
    if tensor.ndim == 4:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 5 or tensor.shape[-1] != 3:
        raise ValueError(f"frames must have shape (B, T, H, W, 3) or (T, H, W, 3), got {tuple(tensor.shape)}")
    x = tensor.to(device=device).permute(0, 4, 1, 2, 3).to(dtype)  # (B, 3, T, H, W)
    return x / 127.5 - 1.0


def model_to_frames(x: torch.Tensor) -> torch.Tensor:
    """``float (B, 3, T, H, W)`` in [-1, 1] (clamped) -> ``uint8 (B, T, H, W, 3)`` on the CPU."""
    if not x.dtype.is_floating_point or x.ndim != 5 or x.shape[1] != 3:
        raise ValueError(f"model frames must be float (B, 3, T, H, W), got {x.dtype} {tuple(x.shape)}")
    pixels = ((x.detach().float().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 4, 1).cpu()  # (B, T, H, W, 3)


def check_uint8_clip(name: str, frames) -> np.ndarray:
    """``frames`` as a uint8 ``(T, H, W, 3)`` array with T >= 1 (the clips metrics score), or a ValueError
    naming ``name``: float frames in [0, 1] would be scored as nearly black."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise ValueError(f"{name} must be uint8 (T, H, W, 3) with T >= 1, got {frames.dtype} {frames.shape}")
    return frames
