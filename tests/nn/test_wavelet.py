"""Causal Haar patching: exact inverse, causality, the layout the Cosmos weights expect, errors."""

from __future__ import annotations

import pytest
import torch

from cosmos_sim.nn.wavelet import HaarPatcher3D, HaarUnpatcher3D, haar_dwt3d, haar_idwt3d


def _video(t: int, h: int = 16, w: int = 16, c: int = 3, seed: int = 0) -> torch.Tensor:
    return (
        torch.rand(2, c, t, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1
    )


@pytest.mark.parametrize("patch_size", [1, 2, 4])
def test_unpatch_inverts_patch(patch_size):
    x = _video(1 + 2 * patch_size)
    y = HaarPatcher3D(patch_size)(x)
    assert y.shape == (2, 3 * patch_size**3, 3, 16 // patch_size, 16 // patch_size)
    torch.testing.assert_close(HaarUnpatcher3D(patch_size)(y), x, rtol=0, atol=1e-12)


def test_images_are_one_frame_videos():
    x = _video(1)
    y = HaarPatcher3D(4)(x)
    assert y.shape == (2, 192, 1, 4, 4)
    torch.testing.assert_close(HaarUnpatcher3D(4)(y), x, rtol=0, atol=1e-12)


def test_patched_frames_never_depend_on_later_frames():
    x = _video(1 + 4 * 3)
    y = HaarPatcher3D(4)(x)
    for first_changed in (1, 5, 9):
        changed = x.clone()
        changed[:, :, first_changed:] = _video(x.shape[2] - first_changed, seed=1)
        y2 = HaarPatcher3D(4)(changed)
        kept = (first_changed - 1) // 4 + 1  # patched frames that only see frames < first_changed
        torch.testing.assert_close(y2[:, :, :kept], y[:, :, :kept], rtol=0, atol=0)
        assert not torch.allclose(y2[:, :, kept:], y[:, :, kept:])


def test_low_band_is_the_block_mean_and_channels_follow_the_published_order():
    x = _video(8, h=4, w=4, c=1)
    y = haar_dwt3d(x)  # one level
    torch.testing.assert_close(
        y[:, 0:1], x.unflatten(2, (4, 2)).unflatten(4, (2, 2)).unflatten(6, (2, 2)).mean((3, 5, 7))
    )
    # Band 1 (llh): high along W only: (left - right) summed over the T and H pairs, / 8.
    blocks = x.unflatten(2, (4, 2)).unflatten(4, (2, 2)).unflatten(6, (2, 2))  # (B, C, T', 2, H', 2, W', 2)
    w_difference = (blocks.select(7, 0) - blocks.select(7, 1)).sum((3, 5)) / 8
    torch.testing.assert_close(y[:, 1:2], w_difference)
    torch.testing.assert_close(haar_idwt3d(y), x, rtol=0, atol=1e-12)
    # Two levels on RGB give 192 channels indexed s2 * 24 + s1 * 3 + c: channel 2 is the blue mean.
    rgb = _video(1 + 4, h=8, w=8)
    patched = HaarPatcher3D(4)(rgb)
    torch.testing.assert_close(
        patched[:, 2, 0], rgb[:, 2, 0].unflatten(1, (2, 4)).unflatten(3, (2, 4)).mean((2, 4))
    )


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match=r"1 \+ 4\*n, got 6"):
        HaarPatcher3D(4)(_video(6))
    with pytest.raises(ValueError, match="divide by 4"):
        HaarPatcher3D(4)(_video(5, h=18))
    with pytest.raises(ValueError, match="power of two"):
        HaarPatcher3D(3)
    with pytest.raises(ValueError, match=r"C \* 64"):
        HaarUnpatcher3D(4)(torch.zeros(1, 100, 2, 4, 4))
