"""Fixtures shared across test folders."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from cosmos_sim.tokenizers import build_tokenizer, preset
from cosmos_sim.tokenizers.checkpoint import save_tokenizer
from cosmos_sim.world_models.diffusion import DiffusionWorldModelConfig, LatentDiffusionModel
from cosmos_sim.world_models.diffusion.checkpoint import save_world_model, tokenizer_fingerprint


def _save_tiny_world_model(root, task: str):
    """A tiny untrained CV4x8x8 tokenizer + DiT world model for ``task``, saved under ``root``."""
    torch.manual_seed(0)
    tok_config = preset("CV4x8x8", channels=8, channels_mult=(1, 2), num_res_blocks=1, attn_resolutions=())
    tok_dir = save_tokenizer(build_tokenizer(tok_config), root / "tok")
    config = DiffusionWorldModelConfig(dim=32, depth=1, heads=2, adaln_rank=4, window=3, task=task)
    config = dataclasses.replace(config, tokenizer=tokenizer_fingerprint(tok_dir))
    return save_world_model(LatentDiffusionModel(config), root / "wfm", tokenizer_dir=tok_dir)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): the
    tiny models do too little work per call to gain from threads; on a loaded 2-core machine the threads'
    barriers made steps 50x slower (1.6 s instead of 0.03 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def save_tiny_world_model():
    """``save(root, task) -> checkpoint folder`` of a tiny untrained world model (plumbing tests only:
    its frames and predicted states are meaningless)."""
    return _save_tiny_world_model


@pytest.fixture(scope="session")
def tiny_pushblock_world_model(tmp_path_factory):
    """Checkpoint folder of a tiny untrained PushBlock world model, shared by the session."""
    return _save_tiny_world_model(tmp_path_factory.mktemp("tiny_wfm"), "cosmos_sim/PushBlock-v0")
