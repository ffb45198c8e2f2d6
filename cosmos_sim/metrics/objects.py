"""Objects in rendered frames by colour: masks and centroids, to score where a predicted object is.

The MuJoCo scenes render flat colours under a headlight, so an object is the set of pixels near its
material colour. Centroids come from ``scipy.ndimage.center_of_mass``; a frame where the object is
not visible gets NaN, which callers count as a missed detection rather than a position.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

PUSHBLOCK_BLOCK_RGB = (217, 38, 38)
"""The PushBlock block as rendered (material rgba 0.85, 0.15, 0.15 under the headlight)."""


def color_mask(frames: np.ndarray, rgb: tuple[int, int, int], tolerance: float = 60.0) -> np.ndarray:
    """bool ``(..., H, W)``: pixels of uint8 ``frames`` ``(..., H, W, 3)`` within ``tolerance`` (RGB distance) of ``rgb``."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.shape[-1] != 3:
        raise ValueError(
            f"color_mask: frames must be uint8 (..., H, W, 3), got {frames.dtype} {frames.shape}"
        )
    distance = np.linalg.norm(frames.astype(np.float32) - np.asarray(rgb, np.float32), axis=-1)
    return distance < tolerance


def mask_centroids(masks: np.ndarray, min_pixels: int = 4) -> np.ndarray:
    """float ``(..., 2)`` (row, column) centroid of each ``(H, W)`` mask; NaN where fewer than ``min_pixels``."""
    masks = np.asarray(masks, dtype=bool)
    flat = masks.reshape(-1, *masks.shape[-2:])
    out = np.full((len(flat), 2), np.nan)
    for i, mask in enumerate(flat):
        if mask.sum() >= min_pixels:
            out[i] = ndimage.center_of_mass(mask)
    return out.reshape(*masks.shape[:-2], 2)
