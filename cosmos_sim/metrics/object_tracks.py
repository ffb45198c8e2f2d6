"""Object-level comparison of a predicted video with a simulated one: masks, tracks, permanence, floor.

Given per-object masks of both videos (``cosmos_sim.metrics.object_masks``) and what only a
simulator knows (the camera, each object's true 3D centre and size, the floor plane ``z = 0``):

- **mask IoU** per object and frame (1 where neither video shows the object);
- **centroid error** in pixels between the masks' centroids, where both show the object, and in
  metres: the pixel offset lifted to the plane through the object's true centre parallel to the
  image (``offset * depth / focal``). A single video has no depth of its own, so an error along the
  viewing ray is invisible to this metric;
- **object permanence**: object-frames where the truth shows an object and the prediction does not
  (*vanished*) or the reverse (*appeared*), each at least ``min_pixels`` pixels;
- **floor interpenetration**: object-frames where the prediction shows less than ``SUNK_FRACTION``
  of the object's smallest possible height above the floor. The lowest pixel of an object resting
  on the floor touches the floor, so the ray through it meets the floor plane at the object's
  depth; the silhouette's height in pixels, at that depth, is the height the object shows in metres.
  A shape's smallest height is twice its lowest resting height (a sphere's diameter, a box's
  smallest side, a cylinder's smaller of diameter and length). An object in the air is measured at
  the floor behind it, so too tall: never counted. Not measured (NaN) where the silhouette touches
  the image border or another object (occlusion may cut it) or its lowest ray misses the floor.
  On MuJoCo's own clips the smallest measured fraction is ~0.9.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cosmos_sim.metrics.objects import mask_centroids

MIN_PIXELS = 4
"""An object is visible in a frame when its mask has at least this many pixels."""
SUNK_FRACTION = 0.5
"""An object showing less than this fraction of its smallest height above the floor is in the floor."""


def mask_ious(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """float ``(..., N)``: IoU of bool masks ``(..., N, H, W)``; 1 where both are empty."""
    pred, true = np.asarray(pred, bool), np.asarray(true, bool)
    if pred.shape != true.shape:
        raise ValueError(f"mask_ious: pred {pred.shape} and true {true.shape} differ in shape")
    union = (pred | true).sum(axis=(-2, -1))
    inter = (pred & true).sum(axis=(-2, -1))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def centroids(masks: np.ndarray, min_pixels: int = MIN_PIXELS) -> np.ndarray:
    """float ``(..., N, 2)`` (row, column) of bool masks ``(..., N, H, W)``; NaN where not visible."""
    return mask_centroids(masks, min_pixels=min_pixels)


def lift_offsets(
    pred_px: np.ndarray,
    true_px: np.ndarray,
    depth: np.ndarray,
    intrinsics: np.ndarray,
    extrinsics: np.ndarray,
) -> np.ndarray:
    """World-frame offsets ``(..., 3)`` in metres of (row, column) pixel positions ``pred_px`` from
    ``true_px`` ``(..., 2)``, both taken at camera depth ``depth`` ``(...)`` (m along the viewing axis).

    ``intrinsics`` (3, 3) OpenCV pinhole; ``extrinsics`` (4, 4) camera-to-world in OpenCV axes.
    """
    delta_v = pred_px[..., 0] - true_px[..., 0]
    delta_u = pred_px[..., 1] - true_px[..., 1]
    fx, fy = intrinsics[0, 0], intrinsics[1, 1]
    offset_cam = np.stack([delta_u / fx * depth, delta_v / fy * depth, np.zeros_like(depth)], axis=-1)
    return offset_cam @ extrinsics[:3, :3].T


def camera_depths(points: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """Depth along the viewing axis ``(...)`` of world points ``(..., 3)`` (camera-to-world ``extrinsics``)."""
    rotation, origin = extrinsics[:3, :3], extrinsics[:3, 3]
    return (np.asarray(points) - origin) @ rotation[:, 2]


def visible_heights(
    masks: np.ndarray, intrinsics: np.ndarray, extrinsics: np.ndarray, min_pixels: int = MIN_PIXELS
) -> np.ndarray:
    """float ``(..., N)``: metres of each object's silhouette height in bool masks ``(..., N, H, W)``,
    at the depth where the ray through its lowest pixel's bottom edge meets the floor ``z = 0``.

    NaN where not measurable: fewer than ``min_pixels`` pixels, touching the image border or another
    object's mask, or a lowest ray that does not reach the floor.
    """
    masks = np.asarray(masks, bool)
    flat = masks.reshape(-1, *masks.shape[-3:])  # (F, N, H, W)
    height, width = masks.shape[-2:]
    rotation, origin = extrinsics[:3, :3], extrinsics[:3, 3]
    inverse_k = np.linalg.inv(intrinsics)
    out = np.full(flat.shape[:2], np.nan)
    for f, frame in enumerate(flat):
        every = frame.any(axis=0)
        for i, mask in enumerate(frame):
            if mask.sum() < min_pixels:
                continue
            rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
            if rows[0] == 0 or cols[0] == 0 or rows[-1] == height - 1 or cols[-1] == width - 1:
                continue
            if (ndimage.binary_dilation(mask) & every & ~mask).any():
                continue
            bottom = rows[-1]
            ray = rotation @ inverse_k @ np.array([np.nonzero(mask[bottom])[0].mean(), bottom + 0.5, 1.0])
            if ray[2] >= 0:
                continue  # at or above the horizon
            depth = -origin[2] / ray[2]  # the camera-frame ray has z = 1: its scale is the depth
            out[f, i] = (bottom - rows[0] + 1) * depth / intrinsics[1, 1]
    return out.reshape(masks.shape[:-2])


def rest_height(shape: str, size: list[float]) -> float:
    """Lowest height of the centre of a MuJoCo ``sphere``/``box``/``cylinder`` of geom ``size`` resting on
    the floor (on its flattest side)."""
    if shape == "sphere":
        return float(size[0])
    if shape == "box":
        return float(min(size))
    if shape == "cylinder":
        return float(min(size[0], size[1]))
    raise ValueError(f"rest_height: unknown shape {shape!r}; known: sphere, box, cylinder")


def compare_objects(
    pred_masks: np.ndarray,
    true_masks: np.ndarray,
    centres: np.ndarray,
    rest_heights: np.ndarray,
    intrinsics: np.ndarray,
    extrinsics: np.ndarray,
    *,
    min_pixels: int = MIN_PIXELS,
    sunk_fraction: float = SUNK_FRACTION,
) -> dict[str, np.ndarray]:
    """Per-frame, per-object comparison of predicted with true object masks.

    ``pred_masks``, ``true_masks``: bool ``(T, N, H, W)``; ``centres``: ``(T, N, 3)`` the objects' true
    world centres (m), for the depth of the centroid error in metres; ``rest_heights``: ``(N,)``
    (``rest_height``). Returns ``(T, N)`` arrays:
    ``iou``; ``centroid_px`` and ``centroid_m`` (NaN where either video lacks the object);
    bool ``vanished``, ``appeared``, ``penetrating``.
    """
    pred_c, true_c = centroids(pred_masks, min_pixels), centroids(true_masks, min_pixels)
    pred_seen, true_seen = ~np.isnan(pred_c[..., 0]), ~np.isnan(true_c[..., 0])
    offsets = lift_offsets(pred_c, true_c, camera_depths(centres, extrinsics), intrinsics, extrinsics)
    shown = visible_heights(pred_masks, intrinsics, extrinsics, min_pixels)
    with np.errstate(invalid="ignore"):  # NaN (not measurable) compares False
        penetrating = shown < sunk_fraction * 2 * np.asarray(rest_heights)
    return {
        "iou": mask_ious(pred_masks, true_masks),
        "centroid_px": np.linalg.norm(pred_c - true_c, axis=-1),
        "centroid_m": np.linalg.norm(offsets, axis=-1),
        "vanished": true_seen & ~pred_seen,
        "appeared": pred_seen & ~true_seen,
        "penetrating": penetrating,
    }
