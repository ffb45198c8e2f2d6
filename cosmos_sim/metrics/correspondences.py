"""Two-view correspondences between video frames (OpenCV), the input of the epipolar metrics.

Two matchers, each ``(frame_a, frame_b) -> (points_a, points_b)``, float64 ``(N, 2)`` pixel coordinates
``(u, v)`` of the original frames in the OpenCV convention (pixel centres at integers, ``u`` right):

- ``flow_correspondences`` (the default): dense DIS optical flow (``cv2.DISOpticalFlow``, preset
  MEDIUM) computed on frames upsampled ``upsample`` times (bicubic), sampled once per original pixel
  and kept where the forward and backward flows agree within ``max_fb_error`` pixels (a pixel that is
  occluded, leaves the frame or has no texture to track fails that check);
- ``sift_correspondences``: SIFT keypoints on the upsampled frames, matched by brute force with Lowe's
  ratio test.

Why dense flow by default: a 64x64 frame has few corners. On CameraOrbit-v0's own videos (204 frame
pairs 4 frames apart), SIFT at 2x upsampling finds a median of 56 matches, and relative poses estimated
from them (``cosmos_sim.metrics.epipolar``) have median errors of 1.0 degree (rotation) and 3.4 degrees
(translation direction); dense flow gives ~3,100 correspondences and 0.33 and 1.1 degrees. Upsampling
matters for flow: 1x gives 1.8 and 5.8 degrees, 2x 0.7 and 2.1, 4x 0.33 and 1.1
(``scripts/study_3d_matching.py``; the table is in ``benchmarks/consistency_3d.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Correspondences = tuple[np.ndarray, np.ndarray]
"""``(points_a, points_b)``: float64 ``(N, 2)`` pixel coordinates of the same scene points in two frames."""


def _gray(frame: np.ndarray, upsample: int, name: str) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(f"{name}: frames must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
    gray = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    if upsample > 1:
        gray = cv2.resize(gray, None, fx=upsample, fy=upsample, interpolation=cv2.INTER_CUBIC)
    return gray


def _check_pair(frame_a: np.ndarray, frame_b: np.ndarray, upsample: int, name: str) -> None:
    if np.shape(frame_a) != np.shape(frame_b):
        raise ValueError(
            f"{name}: the two frames must have one shape, got {np.shape(frame_a)} and {np.shape(frame_b)}"
        )
    if isinstance(upsample, bool) or not isinstance(upsample, int) or upsample < 1:
        raise ValueError(f"{name}: upsample must be an int >= 1, got {upsample!r}")


def _to_original(points: np.ndarray, upsample: int) -> np.ndarray:
    """Upsampled pixel coordinates -> original ones (``cv2.resize`` aligns pixel centres)."""
    return (points.astype(np.float64) + 0.5) / upsample - 0.5


def flow_correspondences(
    frame_a: np.ndarray, frame_b: np.ndarray, *, upsample: int = 4, max_fb_error: float = 0.5
) -> Correspondences:
    """Dense correspondences from DIS optical flow, forward-backward checked (see the module docstring).

    ``frame_a``, ``frame_b``: uint8 ``(H, W, 3)``. ``max_fb_error``: in original pixels.
    """
    _check_pair(frame_a, frame_b, upsample, "flow_correspondences")
    gray_a = _gray(frame_a, upsample, "flow_correspondences")
    gray_b = _gray(frame_b, upsample, "flow_correspondences")
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    forward = dis.calc(gray_a, gray_b, None)  # (H', W', 2): where each pixel of a lands in b
    backward = dis.calc(gray_b, gray_a, None)
    height, width = gray_a.shape
    grid_v, grid_u = np.mgrid[0:height, 0:width].astype(np.float32)
    target_u, target_v = grid_u + forward[..., 0], grid_v + forward[..., 1]
    # The backward flow at each forward target: a consistent match returns to where it started.
    back = cv2.remap(backward, target_u, target_v, cv2.INTER_LINEAR)
    keep = np.linalg.norm(forward + back, axis=-1) < max_fb_error * upsample
    keep &= (target_u >= 0) & (target_u <= width - 1) & (target_v >= 0) & (target_v <= height - 1)
    sample = np.zeros_like(keep)
    # One correspondence per original pixel, at the upsampled pixel nearest its centre.
    sample[upsample // 2 :: upsample, upsample // 2 :: upsample] = True
    v, u = np.nonzero(keep & sample)
    points_a = np.stack([u, v], axis=1)
    points_b = np.stack([target_u[v, u], target_v[v, u]], axis=1)
    return _to_original(points_a, upsample), _to_original(points_b, upsample)


def sift_correspondences(
    frame_a: np.ndarray, frame_b: np.ndarray, *, upsample: int = 2, ratio: float = 0.8
) -> Correspondences:
    """SIFT keypoints on the upsampled frames, brute-force L2 matching with Lowe's ratio test."""
    _check_pair(frame_a, frame_b, upsample, "sift_correspondences")
    sift = cv2.SIFT_create()
    keypoints, descriptors = [], []
    for frame in (frame_a, frame_b):
        kp, desc = sift.detectAndCompute(_gray(frame, upsample, "sift_correspondences"), None)
        keypoints.append(np.array([k.pt for k in kp], np.float64).reshape(-1, 2))
        descriptors.append(desc)
    empty = np.zeros((0, 2))
    if any(d is None or len(d) < 2 for d in descriptors):
        return empty, empty.copy()
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(descriptors[0], descriptors[1], k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < ratio * m[1].distance]
    index_a = np.array([m.queryIdx for m in good], dtype=int)
    index_b = np.array([m.trainIdx for m in good], dtype=int)
    return _to_original(keypoints[0][index_a], upsample), _to_original(keypoints[1][index_b], upsample)


MATCHERS: dict[str, Callable[..., Correspondences]] = {
    "flow": flow_correspondences,
    "sift": sift_correspondences,
}
"""Matchers by name."""


def find_correspondences(frame_a: np.ndarray, frame_b: np.ndarray, matcher: str = "flow") -> Correspondences:
    """Correspondences between two uint8 ``(H, W, 3)`` frames with the named matcher's defaults."""
    if matcher not in MATCHERS:
        raise ValueError(f"unknown matcher {matcher!r}; choose from {sorted(MATCHERS)}")
    return MATCHERS[matcher](frame_a, frame_b)
