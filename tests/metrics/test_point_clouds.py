"""Depth consistency on hand-made depth maps with known answers: a depth map lifts to the points the
pinhole model says, the same view twice is perfectly consistent, a known depth offset is measured."""

from __future__ import annotations

import numpy as np
import pytest

from cosmos_sim.metrics.point_clouds import cloud_consistency, depth_point_cloud

K = np.array([[77.25, 0.0, 31.5], [0.0, 77.25, 31.5], [0.0, 0.0, 1.0]])


def _pose(position) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, 3] = position
    return pose


def test_a_depth_map_lifts_to_the_pinhole_points():
    depth = np.full((64, 64), 1.5, np.float32)
    depth[:, :8] = 50.0  # "sky": beyond the maximum depth, dropped
    depth[0, 8] = np.nan  # not a surface either
    cloud = depth_point_cloud(depth, K, _pose([1.0, 2.0, 3.0]))
    points = np.asarray(cloud.points)
    assert len(points) == 64 * 56 - 1
    np.testing.assert_allclose(points[:, 2], 3.0 + 1.5)  # camera axes = world axes, 1.5 m ahead
    u, v = 40, 20  # a pixel lifts to (u - cx, v - cy) * depth / f, shifted by the camera position
    expected = [1.0 + (u - 31.5) * 1.5 / 77.25, 2.0 + (v - 31.5) * 1.5 / 77.25, 4.5]
    assert np.linalg.norm(points - expected, axis=1).min() < 1e-6


def test_the_same_view_is_consistent_and_a_depth_offset_is_measured():
    depth = np.full((64, 64), 1.0, np.float32)
    pose = _pose([0.0, 0.0, 0.0])
    cloud = depth_point_cloud(depth, K, pose)
    same = cloud_consistency(cloud, depth_point_cloud(depth.copy(), K, pose))
    assert same == {"median_distance_m": 0.0, "fitness": 1.0}
    # The same wall 10 cm further: every point is at least 10 cm from the other cloud, none within 2 cm.
    farther = cloud_consistency(cloud, depth_point_cloud(depth + 0.1, K, pose))
    assert 0.1 <= farther["median_distance_m"] < 0.11 and farther["fitness"] == 0.0
    # A camera 10 cm further back seeing the wall 10 cm further away: the same surface again.
    back = cloud_consistency(cloud, depth_point_cloud(depth + 0.1, K, _pose([0.0, 0.0, -0.1])))
    assert back["median_distance_m"] < 0.01 and back["fitness"] > 0.9


def test_empty_clouds_and_bad_shapes():
    empty = depth_point_cloud(np.full((8, 8), 50.0), K, np.eye(4))
    assert not empty.has_points()
    assert all(np.isnan(v) for v in cloud_consistency(empty, empty).values())
    with pytest.raises(ValueError, match="depth"):
        depth_point_cloud(np.ones((2, 8, 8)), K, np.eye(4))
