"""Per-object masks of rendered frames from the objects' known, distinct hues.

The passive-physics scenes give every object its own saturated colour, hues spread around the
colour wheel, on a grey floor under grey (achromatic) lights. Shading scales an object's RGB and
anti-aliasing mixes it with grey: both change its brightness and saturation but keep its hue. So a
pixel belongs to object ``i`` when it is saturated and bright enough to be an object at all, and its
hue is closer to object ``i``'s than to any other object's, by at most ``max_hue_distance``. The
same rule applied to a true and a predicted video gives masks that can be compared; a model that
greys out or recolours an object loses it, which the object-level metrics then count.

A nearest-colour RGB mask (``cosmos_sim.metrics.objects.color_mask``) would need each object's
rendered colour, which varies face to face with the light; the hue does not.
"""

from __future__ import annotations

import numpy as np

MIN_SATURATION = 0.35
"""HSV saturation below which a pixel is floor, sky or fixture (all grey): under 0.07 when rendered,
while the objects' own pixels sit above 0.45 except where anti-aliasing blends them with grey."""
MIN_VALUE = 0.2
"""HSV value below which a pixel is too dark for its hue to mean anything."""
MAX_HUE_DISTANCE = 25.0
"""Degrees: neighbouring objects' hues are at least 30 apart, shading moves a hue by a few."""


def hue_saturation_value(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees [0, 360), saturation and value in [0, 1] of RGB values in [0, 1] ``(..., 3)``
    (computed in float32 unless ``rgb`` is float64)."""
    rgb = np.asarray(rgb)
    rgb = rgb if rgb.dtype == np.float64 else rgb.astype(np.float32)
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    delta = high - low
    safe = np.where(delta > 0, delta, 1.0)
    r, g, b = np.moveaxis(rgb, -1, 0)
    hue = np.where(
        high == r, ((g - b) / safe) % 6, np.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4)
    )
    hue = np.where(delta > 0, hue * 60.0, 0.0)
    saturation = np.where(high > 0, delta / np.where(high > 0, high, 1.0), 0.0)
    return hue, saturation, high


def hue_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angular distance in degrees [0, 180] between hues in degrees."""
    d = np.abs(np.asarray(a) - np.asarray(b)) % 360.0
    return np.minimum(d, 360.0 - d)


def object_masks(
    frames: np.ndarray,
    colours: np.ndarray,
    *,
    min_saturation: float = MIN_SATURATION,
    min_value: float = MIN_VALUE,
    max_hue_distance: float = MAX_HUE_DISTANCE,
) -> np.ndarray:
    """bool ``(..., N, H, W)``: the pixels of each of ``N`` objects in uint8 ``frames`` ``(..., H, W, 3)``.

    ``colours``: ``(N, 3)`` the objects' material RGB in [0, 1] (e.g. a scene's ``rgba[:3]``); they
    must be saturated (so their hue is defined). The masks are disjoint.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim < 3 or frames.shape[-1] != 3:
        raise ValueError(
            f"object_masks: frames must be uint8 (..., H, W, 3), got {frames.dtype} {frames.shape}"
        )
    colours = np.asarray(colours, dtype=np.float64)
    if colours.ndim != 2 or colours.shape[1] != 3 or len(colours) == 0:
        raise ValueError(f"object_masks: colours must be (N, 3) RGB in [0, 1], got shape {colours.shape}")
    object_hues, object_saturations, _ = hue_saturation_value(colours)
    if np.any(object_saturations < min_saturation):
        raise ValueError(
            f"object_masks: every colour must have saturation >= {min_saturation} to be told apart from grey, "
            f"got {np.round(object_saturations, 3).tolist()}"
        )
    hue, saturation, value = hue_saturation_value(frames.astype(np.float32) / 255)
    distances = hue_distance(hue[..., None], object_hues)  # (..., H, W, N)
    nearest = distances.argmin(axis=-1)
    coloured = (saturation >= min_saturation) & (value >= min_value)
    coloured &= distances.min(axis=-1) <= max_hue_distance
    masks = coloured[..., None] & (nearest[..., None] == np.arange(len(colours)))  # (..., H, W, N)
    return np.moveaxis(masks, -1, -3)
