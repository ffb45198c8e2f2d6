"""Epipolar metrics on synthetic two-view geometry with known answers: exact projections have zero
Sampson error and give back their relative pose; a known offset from the epipolar line gives a known
Sampson distance; degenerate and malformed input is refused or reported as no estimate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cosmos_sim.metrics.epipolar import (
    MIN_CORRESPONDENCES,
    estimate_relative_pose,
    fit_fundamental,
    fundamental_from_poses,
    relative_pose,
    rotation_error_deg,
    sampson_distances,
    score_two_views,
    translation_direction_error_deg,
)

# A 64x64 camera with CameraOrbit's 45-degree field of view.
K = np.array([[77.25, 0.0, 31.5], [0.0, 77.25, 31.5], [0.0, 0.0, 1.0]])


def _pose(rotation: np.ndarray, position) -> np.ndarray:
    """Camera-to-world (4, 4) from a rotation (camera axes in world columns) and a position."""
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, position
    return pose


def _project(points: np.ndarray, cam_to_world: np.ndarray) -> np.ndarray:
    camera = (points - cam_to_world[:3, 3]) @ cam_to_world[:3, :3]  # world -> camera: R^T (X - c)
    pixels = camera @ K.T
    return pixels[:, :2] / pixels[:, 2:]


@pytest.fixture(scope="module")
def scene():
    """300 points 1.5-3 m in front of camera a; camera b turned 10 degrees about its y axis and moved
    25 cm right and 5 cm down (an orbit-like move at CameraOrbit's scale)."""
    rng = np.random.default_rng(0)
    camera = np.stack(
        [rng.uniform(-0.6, 0.6, 300), rng.uniform(-0.6, 0.6, 300), rng.uniform(1.5, 3.0, 300)], 1
    )
    pose_a = _pose(np.eye(3), [0.0, 0.0, 0.0])
    pose_b = _pose(Rotation.from_euler("y", -10, degrees=True).as_matrix(), [0.25, 0.05, 0.0])
    points = camera  # camera a sits at the world origin with world axes
    a, b = _project(points, pose_a), _project(points, pose_b)
    inside = np.all((a > 0) & (a < 63) & (b > 0) & (b < 63), axis=1)
    return a[inside], b[inside], pose_a, pose_b


def test_relative_pose_of_known_transforms():
    pose_a = _pose(np.eye(3), [0.0, 0.0, 0.0])
    pose_b = _pose(np.eye(3), [1.0, 0.0, 0.0])  # one metre to the right, same orientation
    motion = relative_pose(pose_a, pose_b)
    np.testing.assert_allclose(motion.rotation, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(motion.translation, [-1.0, 0.0, 0.0], atol=1e-12)  # x_b = x_a - (1, 0, 0)
    turned = _pose(Rotation.from_euler("z", 30, degrees=True).as_matrix(), [0.0, 0.0, 0.0])
    assert rotation_error_deg(relative_pose(pose_a, turned).rotation, np.eye(3)) == pytest.approx(30.0)


def test_exact_projections_have_zero_sampson_error_under_the_calibrated_f(scene):
    a, b, pose_a, pose_b = scene
    assert len(a) > 100
    distances = sampson_distances(a, b, fundamental_from_poses(K, pose_a, pose_b))
    assert distances.shape == (len(a),) and distances.max() < 1e-8
    fitted = fit_fundamental(a, b)
    assert fitted is not None and np.median(sampson_distances(a, b, fitted)) < 1e-3


def test_a_known_offset_from_the_epipolar_line_gives_a_known_sampson_distance():
    # Rectified stereo (camera b 10 cm to the right): epipolar lines are the image rows, and moving a
    # point of image b by d pixels across them gives a Sampson distance of d / sqrt(2) (the first-order
    # error splits the offset between the two images).
    pose_a, pose_b = _pose(np.eye(3), [0.0, 0.0, 0.0]), _pose(np.eye(3), [0.1, 0.0, 0.0])
    points = np.array([[0.1, -0.2, 2.0], [-0.3, 0.1, 1.5], [0.0, 0.3, 3.0]])
    a, b = _project(points, pose_a), _project(points, pose_b)
    f = fundamental_from_poses(K, pose_a, pose_b)
    for d in (0.5, 2.0):
        shifted = b + [0.0, d]
        np.testing.assert_allclose(sampson_distances(a, shifted, f), d / np.sqrt(2), rtol=1e-9)
    along = b + [3.0, 0.0]  # along the epipolar line: consistent with the geometry (a depth change)
    assert sampson_distances(a, along, f).max() < 1e-9


def test_the_relative_pose_is_recovered_from_exact_and_from_noisy_correspondences(scene):
    a, b, pose_a, pose_b = scene
    truth = relative_pose(pose_a, pose_b)
    estimate = estimate_relative_pose(a, b, K)
    assert estimate is not None and estimate.inliers > 0.9 * len(a)
    assert rotation_error_deg(estimate.rotation, truth.rotation) < 0.01
    assert translation_direction_error_deg(estimate.translation, truth.translation) < 0.05
    # 0.2 px of noise, about what dense flow achieves: still well within a fraction of a degree
    # (OpenCV's plain RANSAC, without refinement, is off by a degree or more here).
    noisy = b + np.random.default_rng(1).normal(0.0, 0.2, b.shape)
    estimate = estimate_relative_pose(a, noisy, K)
    assert rotation_error_deg(estimate.rotation, truth.rotation) < 0.5
    assert translation_direction_error_deg(estimate.translation, truth.translation) < 3.0


def test_score_two_views_reports_the_commanded_motion_and_a_frozen_pair(scene):
    a, b, pose_a, pose_b = scene
    good = score_two_views(a, b, K, pose_a, pose_b)
    assert good.estimated and good.correspondences == len(a)
    assert good.sampson_calibrated_px < 1e-6 and good.sampson_fitted_px < 1e-3
    assert good.rotation_error_deg < 0.01 and good.translation_error_deg < 0.05
    # A frozen video: every point stays put although the camera was commanded to move.
    frozen = score_two_views(a, a.copy(), K, pose_a, pose_b)
    assert frozen.sampson_calibrated_px > 1.0
    assert not frozen.estimated or frozen.rotation_error_deg > 5.0


def test_too_few_correspondences_give_no_estimate():
    a = np.array([[10.0, 10.0], [20.0, 30.0], [40.0, 12.0]])
    assert fit_fundamental(a, a + 1) is None and estimate_relative_pose(a, a + 1, K) is None
    pose = _pose(np.eye(3), [0.0, 0.0, 0.0])
    score = score_two_views(a, a + 1, K, pose, _pose(np.eye(3), [0.1, 0.0, 0.0]))
    assert len(a) < MIN_CORRESPONDENCES and not score.estimated
    assert np.isnan(score.rotation_error_deg) and np.isnan(score.sampson_fitted_px)
    assert np.isfinite(score.sampson_calibrated_px)  # the commanded geometry needs no fit


def test_angle_errors_of_known_rotations_and_directions():
    assert rotation_error_deg(Rotation.from_euler("x", 12, degrees=True).as_matrix(), np.eye(3)) == (
        pytest.approx(12.0)
    )
    assert translation_direction_error_deg(np.array([1.0, 0, 0]), np.array([0, 2.0, 0])) == pytest.approx(
        90.0
    )
    assert translation_direction_error_deg(np.array([1.0, 0, 0]), np.array([-3.0, 0, 0])) == pytest.approx(
        180.0
    )
    assert np.isnan(translation_direction_error_deg(np.zeros(3), np.array([1.0, 0, 0])))


def test_malformed_input_is_refused():
    a = np.zeros((10, 2))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        sampson_distances(a, np.zeros((9, 2)), np.eye(3))
    with pytest.raises(ValueError, match="intrinsics"):
        fundamental_from_poses(np.eye(2), np.eye(4), np.eye(4))
    with pytest.raises(ValueError, match="cam_to_world_b"):
        relative_pose(np.eye(4), np.full((4, 4), np.nan))
