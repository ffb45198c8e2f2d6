"""FSQ: grid, index bijection, straight-through gradients, clear errors."""

from __future__ import annotations

import pytest
import torch

from cosmos_sim.nn.fsq import FSQuantizer


def test_codes_lie_on_the_grid_and_indices_cover_the_codebook():
    fsq = FSQuantizer([8, 8, 8, 5, 5, 5])
    assert fsq.codebook_size == 64_000
    z = torch.randn(4, 6, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 3  # (B, C, T, H, W)
    codes, indices = fsq(z)
    assert codes.shape == z.shape and indices.shape == (4, 3, 8, 8) and indices.dtype == torch.int64
    half_width = torch.tensor([4, 4, 4, 2, 2, 2.0]).view(1, 6, 1, 1, 1)
    steps = codes * half_width
    assert torch.equal(steps, steps.round())
    # Even level counts have no zero level: 8 levels give steps -4..3, 5 levels give -2..2.
    assert steps[:, :3].min() >= -4 and steps[:, :3].max() <= 3
    assert steps[:, 3:].abs().max() <= 2
    assert 0 <= int(indices.min()) and int(indices.max()) < 64_000


def test_indices_and_codes_are_a_bijection():
    fsq = FSQuantizer([4, 3, 5])
    all_indices = torch.arange(fsq.codebook_size)
    codes = fsq.indices_to_codes(all_indices)  # (N, 3) with dim=1
    assert codes.shape == (60, 3)
    assert torch.equal(fsq.codes_to_indices(codes), all_indices)
    assert len({tuple(c.tolist()) for c in codes}) == 60
    # The indices forward() returns decode to the codes it returns.
    z = torch.randn(7, 3, 4, generator=torch.Generator().manual_seed(1)) * 2
    quantized, indices = fsq(z)
    assert torch.equal(fsq.indices_to_codes(indices), quantized)


def test_first_channel_is_least_significant():
    fsq = FSQuantizer([8, 5])
    codes = fsq.indices_to_codes(torch.tensor([0, 1, 8]))
    # index 1 moves channel 0 one step; index 8 moves channel 1 one step.
    assert torch.allclose(codes[1] - codes[0], torch.tensor([0.25, 0.0]))
    assert torch.allclose(codes[2] - codes[0], torch.tensor([0.0, 0.5]))


def test_gradients_pass_straight_through_and_no_state_dict_keys():
    fsq = FSQuantizer([8, 5, 5], dim=-1)
    z = torch.randn(5, 3, requires_grad=True)
    codes, _ = fsq(z)
    codes.sum().backward()
    assert z.grad is not None and torch.all(z.grad > 0)
    assert list(fsq.state_dict()) == []


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="levels must be integers >= 2"):
        FSQuantizer([8, 1])
    fsq = FSQuantizer([8, 8, 8, 5, 5, 5])
    with pytest.raises(ValueError, match="expected 6 channels on dim 1"):
        fsq(torch.zeros(1, 16, 1, 2, 2))
    with pytest.raises(ValueError, match=r"\[0, 64000\)"):
        fsq.indices_to_codes(torch.tensor([64_000]))
    with pytest.raises(ValueError, match="integers"):
        fsq.indices_to_codes(torch.tensor([1.0]))
