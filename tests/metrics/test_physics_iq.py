"""Physics-IQ metrics on hand-made masks and videos whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from cosmos_sim.metrics.frame_quality import frame_quality
from cosmos_sim.metrics.physics_iq import (
    MOTION_THRESHOLD,
    PhysicsIQMetrics,
    frame_mses,
    mean_metrics,
    motion_masks,
    physics_iq_metrics,
    physics_iq_score,
    spatial_iou,
    spatiotemporal_ious,
    weighted_spatial_iou,
)


def _square_video(columns: list[int], size: int = 16, side: int = 4) -> np.ndarray:
    """uint8 (T, size, size, 3): a white ``side`` x ``side`` square at rows 6.., at column ``columns[t]``."""
    video = np.full((len(columns), size, size, 3), 100, np.uint8)
    for t, col in enumerate(columns):
        video[t, 6 : 6 + side, col : col + side] = 255
    return video


def _band(columns: slice, frames: int = 2, size: int = 8) -> np.ndarray:
    masks = np.zeros((frames, size, size), bool)
    masks[:, :, columns] = True
    return masks


def test_motion_mask_of_a_moving_square_is_what_it_left_and_what_it_entered():
    video = _square_video([2, 4])  # context frame at column 2, one predicted frame at column 4
    (mask,) = motion_masks(video[1:], video[0])
    expected = np.zeros((16, 16), bool)
    expected[6:10, 2:4] = True  # uncovered floor
    expected[6:10, 6:8] = True  # newly covered floor
    np.testing.assert_array_equal(mask, expected)


def test_motion_threshold_is_strict_and_any_channel_counts():
    previous = np.zeros((2, 2, 3), np.uint8)
    frame = np.zeros((1, 2, 2, 3), np.uint8)
    frame[0, 0, 0, 1] = MOTION_THRESHOLD  # at the threshold: not motion
    frame[0, 1, 1, 2] = MOTION_THRESHOLD + 1  # one channel above it: motion
    np.testing.assert_array_equal(motion_masks(frame, previous)[0], [[False, False], [False, True]])


def test_identical_videos_are_perfect():
    video = _square_video([1, 3, 5, 7, 9])
    metrics, curves = physics_iq_metrics(video[1:], video[1:], video[0])
    assert metrics == PhysicsIQMetrics(1.0, 1.0, 1.0, 0.0)
    np.testing.assert_array_equal(curves["spatiotemporal_iou"], np.ones(4))
    assert physics_iq_score(metrics, metrics) == 100.0


def test_shifted_motion_has_the_overlap_iou():
    # Bands of columns 0..3 and 2..5: 2 shared columns of 6 -> IoU 1/3, whatever the reduction.
    pred, true = _band(slice(2, 6)), _band(slice(0, 4))
    assert spatial_iou(pred, true) == pytest.approx(1 / 3)
    np.testing.assert_allclose(spatiotemporal_ious(pred, true), [1 / 3, 1 / 3])
    assert weighted_spatial_iou(pred, true) == pytest.approx(1 / 3)


def test_motion_in_the_right_place_at_the_wrong_time():
    true = _band(slice(0, 4))
    pred = true.copy()
    pred[1] = False  # moves in the first frame only
    assert spatial_iou(pred, true) == 1.0  # where: right
    np.testing.assert_allclose(spatiotemporal_ious(pred, true), [1.0, 0.0])  # when: half wrong
    assert weighted_spatial_iou(pred, true) == pytest.approx(0.5)  # how often: min 0.5 / max 1


def test_empty_masks_are_defined():
    empty, moving = np.zeros((3, 8, 8), bool), _band(slice(0, 2), frames=3)
    # Nothing moves in either video: a perfect match, as in the reference code (not 0/0).
    assert spatial_iou(empty, empty) == weighted_spatial_iou(empty, empty) == 1.0
    np.testing.assert_array_equal(spatiotemporal_ious(empty, empty), np.ones(3))
    # Motion in one only: no overlap.
    assert spatial_iou(empty, moving) == weighted_spatial_iou(moving, empty) == 0.0
    np.testing.assert_array_equal(spatiotemporal_ious(empty, moving), np.zeros(3))


def test_frame_mse_in_unit_range():
    black = np.zeros((2, 4, 4, 3), np.uint8)
    other = black.copy()
    other[0] = 255
    other[1] = 51
    np.testing.assert_allclose(frame_mses(other, black), [1.0, 0.04])


def test_frozen_prediction_of_a_moving_square_scores_no_overlap():
    video = _square_video([0, 2, 4, 6, 8])
    frozen = np.repeat(video[:1], 4, axis=0)
    metrics, _ = physics_iq_metrics(frozen, video[1:], video[0])
    assert (metrics.spatial_iou, metrics.spatiotemporal_iou, metrics.weighted_spatial_iou) == (0, 0, 0)
    assert metrics.mse > 0


def test_physics_iq_score_formula():
    variance = PhysicsIQMetrics(1.0, 0.8, 0.6, 0.001)
    # Every IoU at half the variance's, MSE 0.01 above it: 100 * (0.5 - 0.01) = 49.
    model = PhysicsIQMetrics(0.5, 0.4, 0.3, 0.011)
    assert physics_iq_score(model, variance) == pytest.approx(49.0)
    assert physics_iq_score(variance, variance) == pytest.approx(100.0)
    # Better than physics (the truth itself) is clipped to 100; no overlap at all to 0.
    assert physics_iq_score(PhysicsIQMetrics(1, 1, 1, 0), variance) == 100.0
    assert physics_iq_score(PhysicsIQMetrics(0, 0, 0, 0.05), variance) == 0.0
    # A variance IoU of 0 cannot normalize: that metric counts as matched, the others still count.
    zero = PhysicsIQMetrics(0.0, 0.8, 0.6, 0.0)
    assert physics_iq_score(PhysicsIQMetrics(0.0, 0.0, 0.0, 0.0), zero) == pytest.approx(100 / 3)


def test_mean_metrics_and_bad_input():
    a, b = PhysicsIQMetrics(1, 1, 1, 0), PhysicsIQMetrics(0, 0.5, 0, 0.2)
    assert mean_metrics([a, b]) == PhysicsIQMetrics(0.5, 0.75, 0.5, 0.1)
    with pytest.raises(ValueError, match="no metrics"):
        mean_metrics([])
    with pytest.raises(ValueError, match="uint8"):
        motion_masks(np.zeros((2, 4, 4, 3), np.float32), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="previous must be uint8"):
        motion_masks(np.zeros((2, 4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="differ in shape"):
        physics_iq_metrics(
            np.zeros((2, 4, 4, 3), np.uint8), np.zeros((3, 4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)
        )
    with pytest.raises(ValueError, match=r"with T >= 1, got uint8 \(0, 4, 4, 3\)"):
        physics_iq_metrics(
            np.zeros((0, 4, 4, 3), np.uint8), np.zeros((0, 4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)
        )


def test_frame_quality_takes_uint8_frames_of_one_shape_only():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8) for _ in range(2))
    psnr, ssim = frame_quality(a, b)
    assert psnr.shape == ssim.shape == (3,) and (psnr < 10).all()
    flipped, _ = frame_quality(a[..., ::-1], b[..., ::-1])  # a negative-stride view is fine
    assert np.allclose(flipped, psnr, atol=1e-4)
    for pred, true, message in (
        (a / 255.0, b / 255.0, r"pred must be uint8 \(T, H, W, 3\)"),  # floats in [0, 1] would score ~56 dB
        (a, b[:2], "differ in shape"),
        (a[:0], b[:0], "T >= 1"),
        (a[:, :8, :8], b[:, :8, :8], "at least 11x11"),
    ):
        with pytest.raises(ValueError, match=message):
            frame_quality(pred, true)
