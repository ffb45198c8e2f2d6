"""Tiny tokenizer configs: every code path of the published architecture at a few thousand parameters."""

from __future__ import annotations

import pytest
import torch

from cosmos_sim.tokenizers import build_tokenizer, preset


def tiny(name: str, **overrides):
    """Preset ``name`` shrunk to 8 channels, with attention inside level 0 as well as in the middle."""
    fields = dict(
        channels=8, channels_mult=(1, 2, 2), num_res_blocks=1, resolution=64, attn_resolutions=(16,)
    )
    fields.update(overrides)
    torch.manual_seed(0)
    return build_tokenizer(preset(name, **fields)).eval()


def video(frames: int, height: int = 32, width: int = 32, *, batch: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, frames, height, width, generator=g) * 2 - 1


@pytest.fixture
def make_tiny():
    return tiny
