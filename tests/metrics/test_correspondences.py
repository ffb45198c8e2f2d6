"""Correspondences on hand-made frames with known answers: identical frames match pixel to pixel, a
frame shifted by a known amount matches with that displacement, and bad input is refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cosmos_sim.metrics.correspondences import (
    find_correspondences,
    flow_correspondences,
    sift_correspondences,
)

SHIFT = (3, 2)  # (u, v) pixels


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    """An 80x80 smooth random colour texture (blobs a few pixels across, like CameraOrbit's floor)."""
    rng = np.random.default_rng(0)
    coarse = rng.uniform(0, 255, size=(20, 20, 3)).astype(np.float32)
    return np.clip(cv2.resize(coarse, (80, 80), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def test_identical_frames_match_pixel_to_pixel(texture):
    frame = texture[:64, :64]
    a, b = flow_correspondences(frame, frame)
    assert a.shape == b.shape and a.shape[1] == 2 and len(a) > 0.9 * 64 * 64
    assert np.abs(b - a).max() < 0.05
    np.testing.assert_allclose(np.diff(np.unique(a[:, 0])), 1.0)  # one per original pixel
    assert np.abs(a - np.round(a)).max() <= 0.125  # near its centre (4x upsampling)


@pytest.mark.parametrize("matcher", ["flow", "sift"])
def test_a_shifted_frame_matches_with_the_shift(texture, matcher):
    du, dv = SHIFT
    frame_a = texture[8 : 8 + 64, 8 : 8 + 64]
    frame_b = texture[8 - dv : 8 - dv + 64, 8 - du : 8 - du + 64]  # content moved right by du, down by dv
    a, b = find_correspondences(frame_a, frame_b, matcher)
    assert len(a) >= (1000 if matcher == "flow" else 8)
    displacement = np.median(b - a, axis=0)
    np.testing.assert_allclose(displacement, SHIFT, atol=0.1)
    # Points that move out of the frame have no partner; the rest agree with the shift.
    assert np.mean(np.linalg.norm(b - a - SHIFT, axis=1) < 0.5) > 0.9


def test_unrelated_frames_give_few_consistent_flow_matches(texture):
    noise = np.random.default_rng(1).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    a, _ = flow_correspondences(texture[:64, :64], noise)
    assert len(a) < 0.5 * 64 * 64  # the forward-backward check rejects most of the flow field


def test_bad_input_is_refused(texture):
    frame = texture[:64, :64]
    with pytest.raises(ValueError, match="uint8"):
        flow_correspondences(frame.astype(np.float32), frame.astype(np.float32))
    with pytest.raises(ValueError, match="one shape"):
        sift_correspondences(frame, texture[:32, :32])
    with pytest.raises(ValueError, match="upsample"):
        flow_correspondences(frame, frame, upsample=0)
    with pytest.raises(ValueError, match="unknown matcher"):
        find_correspondences(frame, frame, "orb")
