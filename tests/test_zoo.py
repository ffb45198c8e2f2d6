"""Every shipped checkpoint loads (world models against the zoo tokenizer they name, by the SHA-256 of
its weights), carries a model card, and its world models run one step."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cosmos_sim
from cosmos_sim.tokenizers.checkpoint import load_tokenizer
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model

ZOO = Path(cosmos_sim.__file__).resolve().parent / "zoo"
REPO = ZOO.parent.parent
WORLD_MODELS = {
    "wfm_pushblock": "cosmos_sim/PushBlock-v0",
    "wfm_physics": "cosmos_sim/Physics",
    "wfm_camera_orbit": "cosmos_sim/CameraOrbit-v0",
}
"""Each shipped world model and the task it must imitate (written out, so a checkpoint of the wrong task
fails instead of passing against its own config)."""


def _shipped(format_prefix: str) -> list[str]:
    """Zoo folders whose config.json has a ``format`` starting with ``format_prefix``."""
    return sorted(
        p.name
        for p in ZOO.iterdir()
        if (p / "config.json").is_file()
        and json.loads((p / "config.json").read_text())["format"].startswith(format_prefix)
    )


def test_every_shipped_world_model_is_tested_here():
    assert _shipped("cosmos_sim.diffusion_world_model/") == sorted(WORLD_MODELS)


@pytest.mark.parametrize("name", sorted(p.name for p in ZOO.iterdir() if (p / "config.json").is_file()))
def test_every_shipped_checkpoint_has_a_model_card(name):
    card = (ZOO / name / "README.md").read_text()
    assert "Reproduce" in card and "Measured" in card


@pytest.mark.parametrize("name", _shipped("cosmos_sim.tokenizer/"))
def test_shipped_tokenizers_load(name):
    assert load_tokenizer(ZOO / name).config.temporal_compression == 4


@pytest.mark.parametrize(("name", "task"), sorted(WORLD_MODELS.items()))
def test_shipped_world_models_load_with_their_tokenizer_and_step(name, task):
    world = load_world_model(ZOO / name, task=task)
    frames = torch.zeros(1, 5, 64, 64, 3, dtype=torch.uint8).numpy()
    state = world.encode(frames, torch.zeros(1, 4, world.action_dim).numpy())
    actions = torch.zeros(1, 1, world.actions_per_step, world.action_dim)
    latents = world.rollout(state, actions, torch.Generator().manual_seed(0))
    assert latents.shape[2] == 1 and torch.isfinite(latents).all()


def _ship(script: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / script), *map(str, args)], capture_output=True, text=True
    )


def test_shipping_never_replaces_a_tokenizer_world_models_are_bound_to(tmp_path):
    zoo = tmp_path / "cv4x8x8"
    shutil.copytree(ZOO / "cv4x8x8", zoo)
    before = (zoo / "model.safetensors").read_bytes()
    refused = _ship("ship_tokenizer.py", ZOO / "cv4x8x8_v2", zoo)  # another encoder: other latents
    assert refused.returncode != 0 and "makes other latents" in refused.stderr
    assert (zoo / "model.safetensors").read_bytes() == before
    assert _ship("ship_tokenizer.py", ZOO / "cv4x8x8", zoo).returncode == 0  # the same latents
    world = tmp_path / "wfm"
    shutil.copytree(ZOO / "wfm_pushblock", world)
    onto_a_model = _ship("ship_tokenizer.py", ZOO / "cv4x8x8", world)
    assert onto_a_model.returncode != 0 and "saving there would overwrite it" in onto_a_model.stderr


def test_a_world_model_ships_only_with_a_zoo_tokenizer(tmp_path):
    from cosmos_sim.tokenizers.checkpoint import save_tokenizer
    from cosmos_sim.world_models.diffusion.checkpoint import save_world_model, tokenizer_fingerprint

    world = load_world_model(ZOO / "wfm_pushblock")
    own = save_tokenizer(world.tokenizer, tmp_path / "run_tokenizer")  # float32: other latents than the zoo's
    world.model.config = dataclasses.replace(world.model.config, tokenizer=tokenizer_fingerprint(own))
    trained = save_world_model(world.model, tmp_path / "trained", tokenizer_dir=own)
    refused = _ship("ship_world_model.py", trained, tmp_path / "shipped")
    assert (
        refused.returncode != 0
        and "is not in" in refused.stderr
        and "ship the tokenizer first" in refused.stderr
    )
    assert not (tmp_path / "shipped").exists()
