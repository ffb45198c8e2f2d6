"""The frame conversion between API boundaries and models round-trips exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cosmos_sim.frames import frames_to_model, model_to_frames


def test_round_trip_is_exact_and_layouts_are_right():
    frames = np.random.default_rng(0).integers(0, 256, (2, 5, 8, 6, 3), dtype=np.uint8)  # (B, T, H, W, 3)
    x = frames_to_model(frames)
    assert x.shape == (2, 3, 5, 8, 6) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert float(x[1, 2, 3, 4, 5]) == pytest.approx(frames[1, 3, 4, 5, 2] / 127.5 - 1)
    np.testing.assert_array_equal(model_to_frames(x).numpy(), frames)
    assert frames_to_model(frames[0]).shape == (1, 3, 5, 8, 6)  # a single clip is a batch of one


def test_out_of_range_model_output_is_clamped():
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 5.0]).view(1, 1, 5, 1, 1).expand(1, 3, 5, 1, 1)
    assert model_to_frames(x)[0, :, 0, 0, 0].tolist() == [0, 0, 128, 255, 255]


def test_bad_frames_are_clear_errors():
    with pytest.raises(ValueError, match="uint8"):
        frames_to_model(np.zeros((1, 2, 4, 4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(B, T, H, W, 3\)"):
        frames_to_model(np.zeros((2, 4, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="float"):
        model_to_frames(torch.zeros(1, 3, 2, 4, 4, dtype=torch.uint8))
