"""Object-level comparison on hand-made masks seen by a hand-made camera."""

from __future__ import annotations

import numpy as np
import pytest

from cosmos_sim.metrics.object_tracks import (
    camera_depths,
    compare_objects,
    mask_ious,
    rest_height,
    visible_heights,
)

FOCAL = 100.0
INTRINSICS = np.array([[FOCAL, 0, 15.5], [0, FOCAL, 15.5], [0, 0, 1]])
# A camera 0.5 m above the floor looking along +y (OpenCV axes: x right = world x, y down = world -z).
EXTRINSICS = np.eye(4)
EXTRINSICS[:3, :3] = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]])
EXTRINSICS[2, 3] = 0.5
DEPTH = 2.0


def _square(row: int, col: int, rows: int = 4, size: int = 32) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[row : row + rows, col : col + 4] = True
    return mask


def _compare(pred: np.ndarray, true: np.ndarray, rest: float = 0.1) -> dict[str, np.ndarray]:
    """One object, one frame, its true centre 2 m in front of the camera at height 0.1 m."""
    centres = np.array([[[0.0, DEPTH, 0.1]]])
    return compare_objects(
        pred[None, None], true[None, None], centres, np.array([rest]), INTRINSICS, EXTRINSICS
    )


def test_mask_iou_of_identical_shifted_and_empty_masks():
    square = _square(10, 10)
    empty = np.zeros_like(square)
    masks_pred = np.stack([square, _square(10, 12), empty, empty])
    masks_true = np.stack([square, square, square, empty])
    # A 4x4 square shifted by 2 columns shares 8 of 24 pixels; both empty counts as agreement.
    np.testing.assert_allclose(mask_ious(masks_pred, masks_true), [1.0, 1 / 3, 0.0, 1.0])


def test_centroid_error_in_pixels_and_metres():
    result = _compare(_square(10, 13), _square(10, 10))
    assert result["centroid_px"][0, 0] == pytest.approx(3.0)
    assert result["centroid_m"][0, 0] == pytest.approx(3.0 * DEPTH / FOCAL)  # 6 cm at 2 m


def test_an_object_showing_less_than_half_its_height_above_the_floor_is_in_it():
    # The ray through the bottom edge of row 23 (8 px below the horizon at row 15.5) meets the floor
    # 0.5 m below the camera at a depth of 0.5 * 100 / 8 = 6.25 m, where a pixel spans 6.25 cm.
    whole = visible_heights(_square(20, 10)[None, None], INTRINSICS, EXTRINSICS)
    assert whole[0, 0] == pytest.approx(4 * 0.0625)
    # Smallest height 0.2 m (rest height 0.1 m): 2 rows (0.125 m) pass, 1 row (0.0625 m) is sunk.
    assert not _compare(_square(22, 10, rows=2), _square(20, 10))["penetrating"][0, 0]
    assert _compare(_square(23, 10, rows=1), _square(20, 10))["penetrating"][0, 0]
    # In the air (its lowest ray above the horizon) or touching the border: not measured, not counted.
    assert np.isnan(visible_heights(_square(8, 10, rows=1)[None, None], INTRINSICS, EXTRINSICS)[0, 0])
    assert np.isnan(visible_heights(_square(28, 10, rows=4)[None, None], INTRINSICS, EXTRINSICS)[0, 0])
    # Touching another object (which may hide part of it): not measured.
    pair = np.stack([_square(23, 10, rows=1), _square(20, 14)])[None]
    heights = visible_heights(pair, INTRINSICS, EXTRINSICS)
    assert np.isnan(heights).all()


def test_vanished_and_appeared_objects():
    square, empty = _square(10, 10), np.zeros((32, 32), bool)
    vanished = _compare(empty, square)
    assert vanished["vanished"][0, 0] and not vanished["appeared"][0, 0]
    assert np.isnan(vanished["centroid_px"][0, 0]) and not vanished["penetrating"][0, 0]
    appeared = _compare(square, empty)
    assert appeared["appeared"][0, 0] and not appeared["vanished"][0, 0]
    tiny = np.zeros((32, 32), bool)
    tiny[0, :3] = True  # 3 pixels: below MIN_PIXELS, not an object
    assert _compare(tiny, square)["vanished"][0, 0]


def test_camera_depth_and_rest_heights():
    np.testing.assert_allclose(
        camera_depths(np.array([[0.3, 2.0, -1.0], [0, 0.5, 0]]), EXTRINSICS), [2.0, 0.5]
    )
    assert rest_height("sphere", [0.05]) == 0.05
    assert rest_height("box", [0.1, 0.02, 0.05]) == 0.02  # lying on its largest face
    assert rest_height("cylinder", [0.04, 0.03]) == 0.03
    with pytest.raises(ValueError, match="unknown shape"):
        rest_height("torus", [0.1])
