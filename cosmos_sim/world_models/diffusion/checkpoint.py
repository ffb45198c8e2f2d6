"""Saving and loading diffusion world models: safetensors weights + a JSON config that names the
tokenizer (its folder and the SHA-256 of its latent side, ``latent_fingerprint``) and the task, so a
model is never run on the latents of another tokenizer or for another task."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import cosmos_sim
from cosmos_sim.tokenizers.checkpoint import (
    check_save_destination,
    latent_fingerprint,
    load_state_dict_strict,
    load_tokenizer,
    read_record,
    sha256_file,
    weights_to_save,
)
from cosmos_sim.world_models.diffusion.config import DiffusionWorldModelConfig
from cosmos_sim.world_models.diffusion.model import CONTROL_SAMPLER, LatentDiffusionModel, SamplerConfig
from cosmos_sim.world_models.diffusion.world_model import DiffusionWorldModel

FORMAT = "cosmos_sim.diffusion_world_model/1"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
PACKAGE_ROOT = Path(cosmos_sim.__file__).resolve().parent.parent


def tokenizer_fingerprint(directory: str | Path) -> str:
    """What binds a world model to its tokenizer: the SHA-256 of the tokenizer's latent side
    (``latent_fingerprint``), so the model runs with a fine-tuned decoder but never on other latents."""
    return latent_fingerprint(directory)


def tokenizer_file_sha256(directory: str | Path) -> str | None:
    """The SHA-256 of a tokenizer's whole weights file as its config records it (None if unreadable):
    what world models saved before the latent fingerprint recorded instead, and what a training run
    checks to notice a tokenizer retrained in place, decoder included."""
    try:
        return json.loads((Path(directory) / "config.json").read_text(encoding="utf-8")).get("weights_sha256")
    except (OSError, ValueError, AttributeError):
        return None


def in_package(path: str | Path) -> Path:
    """``path``, or, when it is relative, not found from the working folder and found under the
    repository / installed package, that one: zoo paths such as ``cosmos_sim/zoo/cv4x8x8`` from any folder."""
    path = Path(path)
    if not path.is_absolute() and not path.exists() and (PACKAGE_ROOT / path).exists():
        return PACKAGE_ROOT / path
    return path


def _portable(path: str | Path) -> str:
    """A tokenizer folder as stored: relative to the repository when inside it (the zoo), else absolute."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(PACKAGE_ROOT))
    except ValueError:
        return str(resolved)


def save_world_model(
    model: LatentDiffusionModel,
    directory: str | Path,
    *,
    tokenizer_dir: str | Path,
    metadata: dict | None = None,
    weights_dtype: torch.dtype = torch.float32,
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` (weights and statistics) into ``directory``;
    ``weights_dtype=torch.float16`` halves a shipped file (loading casts back to float32).

    Refused, before anything is written: a ``directory`` that holds another kind of checkpoint (a
    tokenizer, whose files have the same names), and a ``tokenizer_dir`` that does not make the latents
    ``model.config.tokenizer`` names (the saved model could never be loaded)."""
    directory = Path(directory)
    check_save_destination(directory, FORMAT, "save_world_model")
    tokenizer_dir = in_package(tokenizer_dir)  # recorded as the folder that is checked here
    _check_tokenizer(directory, model.config.tokenizer, tokenizer_dir, None)
    tensors = weights_to_save(model.state_dict(), weights_dtype, "save_world_model")
    directory.mkdir(parents=True, exist_ok=True)
    weights_tmp, config_tmp = directory / (WEIGHTS_FILE + ".tmp"), directory / (CONFIG_FILE + ".tmp")
    save_file(tensors, str(weights_tmp))
    config = {
        "format": FORMAT,
        "class": type(model).__name__,
        "config": model.config.to_dict(),
        "tokenizer_dir": _portable(tokenizer_dir),
        "weights_sha256": sha256_file(weights_tmp),
        "metadata": metadata or {},
    }
    config_tmp.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(weights_tmp, directory / WEIGHTS_FILE)
    os.replace(config_tmp, directory / CONFIG_FILE)
    return directory


def read_world_model_config(directory: str | Path) -> tuple[DiffusionWorldModelConfig, dict]:
    """The model config and the whole JSON record of a saved world model."""
    path = Path(directory) / CONFIG_FILE
    record = read_record(directory, FORMAT, "diffusion world model")
    try:
        return DiffusionWorldModelConfig.from_dict(record["config"]), record
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"{path}: bad world model config: {error}") from error


def _check_tokenizer(directory, expected: str, tok_dir: Path, recorded_dir) -> None:
    """Refuse ``tok_dir`` unless it makes the latents the model at ``directory`` was trained on: its latent
    fingerprint is ``expected``, or (a model saved before the fingerprint) ``expected`` is the whole-file
    SHA-256 of this tokenizer or of the recorded one whose latent side this one shares."""
    fingerprint = tokenizer_fingerprint(tok_dir)
    if not expected:
        raise ValueError(
            f"{directory}: the world model's config names no tokenizer (config.tokenizer is empty); set it to "
            f"tokenizer_fingerprint({str(tok_dir)!r}), the latents it was trained on (train wfm does)"
        )
    if expected in (fingerprint, tokenizer_file_sha256(tok_dir)):
        return
    recorded = in_package(recorded_dir) if isinstance(recorded_dir, str) and recorded_dir else None
    if recorded is not None and recorded.is_dir() and expected == tokenizer_file_sha256(recorded):
        if tokenizer_fingerprint(recorded) == fingerprint:
            return  # a decoder fine-tune of the recorded tokenizer
    raise ValueError(
        f"{directory}: the world model records tokenizer {expected[:12]}..., which is neither the latent "
        f"fingerprint of {tok_dir} ({fingerprint[:12]}...) nor the SHA-256 of its weights file: pass the "
        f"tokenizer it was trained with, or one that differs from it in the decoder only. (A model saved "
        f"before latent fingerprints records its tokenizer's whole file; if that tokenizer was since "
        f"decoder-fine-tuned in place, its latents are unchanged but cannot be verified: set the model's "
        f"config.tokenizer to tokenizer_fingerprint({str(tok_dir)!r}) to bind it again.)"
    )


def load_world_model(
    directory: str | Path,
    *,
    tokenizer_dir: str | Path | None = None,
    task: str | None = None,
    sampler: SamplerConfig = CONTROL_SAMPLER,
    device: str | torch.device = "cpu",
    bf16: bool = True,
    compile: bool = False,
) -> DiffusionWorldModel:
    """A saved world model with its tokenizer, ready to ``encode``/``step``/``decode``.

    ``tokenizer_dir`` defaults to the one the model was trained with; another tokenizer is refused
    unless its latent side is identical (a decoder fine-tune of it is accepted). ``task`` (an env id),
    if given, must be the model's task.
    """
    directory = in_package(directory)  # zoo names such as cosmos_sim/zoo/wfm_pushblock from any folder
    config, record = read_world_model_config(directory)
    if task is not None and task != config.task:
        raise ValueError(f"{directory}: this world model imitates {config.task}, not {task}")
    if tokenizer_dir is None:
        tokenizer_dir = record.get("tokenizer_dir")
        if not isinstance(tokenizer_dir, str) or not tokenizer_dir:
            raise ValueError(
                f"{Path(directory) / CONFIG_FILE}: 'tokenizer_dir' must name the tokenizer's folder, got "
                f"{tokenizer_dir!r} (or pass tokenizer_dir=)"
            )
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"no world model weights at {weights} (its config.json is there)")
    tok_dir = in_package(tokenizer_dir)
    _check_tokenizer(directory, config.tokenizer, tok_dir, record.get("tokenizer_dir"))
    if sha256_file(weights) != record.get("weights_sha256"):
        raise ValueError(
            f"{weights} does not match the SHA-256 in its config: the checkpoint is torn or edited"
        )
    model = LatentDiffusionModel(config)
    load_state_dict_strict(model, load_file(str(weights)), source=str(weights))
    # A loaded model is for inference: frozen, so a planner's gradient reaches the actions only.
    model.requires_grad_(False)
    tokenizer = load_tokenizer(tok_dir).requires_grad_(False)
    return DiffusionWorldModel(model, tokenizer, sampler=sampler, device=device, bf16=bf16, compile=compile)
