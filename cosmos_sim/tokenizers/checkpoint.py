"""Saving and loading tokenizers: our checkpoints (safetensors + JSON config) and the published Cosmos
weights (TorchScript ``encoder.jit`` / ``decoder.jit`` / ``autoencoder.jit`` state dicts, or a plain state
dict, plus the latent ``mean_std`` file). Every mismatch is an error that lists the keys and shapes.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from cosmos_sim.tokenizers.config import TokenizerConfig, preset
from cosmos_sim.tokenizers.tokenizer import CausalVideoTokenizer, build_tokenizer

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "cosmos_sim.tokenizer/1"
_STATS_PREFIX = "latent_stats."
LATENT_SIDE = ("encoder.", "quant_conv.", _STATS_PREFIX)
"""What a tokenizer's latents are made by: a world model trained on them is bound to these tensors, not
to the decoder, which a decoder fine-tune (``cosmos-sim train tokenizer train=decoder``) changes."""

# Buffers that TorchScript state dicts carry but the published modules do not persist (see
# docs/design/cosmos_tokenizer_reference.md, Sec. 1.6): dropped by exact name before a strict load.
PUBLISHED_BUFFER_KEYS = frozenset(
    [
        "encoder.patcher3d.wavelets",
        "encoder.patcher3d._arange",
        "encoder.patcher3d.patch_size_buffer",
        "decoder.unpatcher3d.wavelets",
        "decoder.unpatcher3d._arange",
        *(
            f"{prefix}{name}"
            for prefix in ("quantizer.", "inv_quant.quantizer.")
            for name in ("_levels", "_basis", "implicit_codebook")
        ),
    ]
)


def load_state_dict_strict(
    model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str
) -> None:
    """``model.load_state_dict(strict=True)`` with an error that says which keys and shapes differ."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = [
        f"{key}: expected {tuple(expected[key].shape)}, got {tuple(state_dict[key].shape)}"
        for key in expected
        if key in state_dict and tuple(state_dict[key].shape) != tuple(expected[key].shape)
    ] + [
        # Casting would load int8-quantized or boolean tensors as if they were the weights.
        f"{key}: expected a {expected[key].dtype} tensor, got {state_dict[key].dtype}"
        for key in expected
        if key in state_dict and state_dict[key].is_floating_point() != expected[key].is_floating_point()
    ]
    if missing or unexpected or wrong:
        what = (
            f"{model.config.name} tokenizer"
            if isinstance(model, CausalVideoTokenizer)
            else type(model).__name__
        )
        lines = [f"{source} does not match a {what} with config {model.config}:"]
        for label, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape or dtype mismatches", wrong),
        ):
            if keys:
                lines.append(f"  {len(keys)} {label}: {keys[:8]}{' ...' if len(keys) > 8 else ''}")
        if unexpected and all(".downsample.conv" in k or ".upsample.conv" in k for k in unexpected):
            lines.append(
                "  the unexpected keys are resampler convs that are never used; this file follows the older "
                "'always create conv1-3' layout: drop those keys, they do not affect the output"
            )
        raise ValueError("\n".join(lines))
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state_dict.items()}, strict=True)


def check_save_destination(directory: Path, fmt: str, owner: str) -> None:
    """Refuse, before anything is written, a ``directory`` that is a file or whose config.json is not a
    ``fmt`` checkpoint (another kind of model, a training run's recipe): saving would overwrite it."""
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{owner}: {directory} is a file, not a folder")
    existing = directory / CONFIG_FILE
    if existing.is_file():
        try:
            kind = json.loads(existing.read_text(encoding="utf-8")).get("format")
        except (ValueError, AttributeError):
            kind = None
        if kind != fmt:
            raise ValueError(
                f"{owner}: {directory} holds {kind or 'a config.json that is not a ' + fmt + ' checkpoint'}; "
                f"saving there would overwrite it: choose another folder"
            )


def weights_to_save(state_dict: Mapping[str, torch.Tensor], dtype: torch.dtype, owner: str) -> dict:
    """``state_dict`` as contiguous CPU tensors, floats in ``dtype``; a ValueError naming any tensor that
    ``dtype`` cannot hold (float16 overflows at 65,504 and would ship inf)."""
    tensors = {}
    for key, value in state_dict.items():
        value = value.detach().cpu()
        cast = value.to(dtype) if value.is_floating_point() else value
        if value.is_floating_point() and torch.isfinite(value).all() and not torch.isfinite(cast).all():
            raise ValueError(
                f"{owner}: {key} does not fit in {dtype} (largest magnitude {value.abs().max().item():.4g}); "
                f"save it in float32 (weights_dtype=torch.float32)"
            )
        tensors[key] = cast.contiguous()
    return tensors


def _tokenizer_tensors(model: CausalVideoTokenizer, weights_dtype: torch.dtype, owner: str) -> dict:
    """What ``save_tokenizer`` writes: the weights in ``weights_dtype`` and the latent stats in float32."""
    tensors = weights_to_save(model.state_dict(), weights_dtype, owner)
    if model.latent_mean is not None:
        tensors[_STATS_PREFIX + "mean"] = model.latent_mean.detach().cpu().contiguous()
        tensors[_STATS_PREFIX + "std"] = model.latent_std.detach().cpu().contiguous()
    return tensors


def save_tokenizer(
    model: CausalVideoTokenizer,
    directory: str | Path,
    *,
    metadata: dict | None = None,
    weights_dtype: torch.dtype = torch.float32,
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` (weights and latent stats) into ``directory``.
    Each file is written to a temporary name and renamed, and the config records the weights' SHA-256,
    so a crash between the two renames leaves a pair that ``load_tokenizer`` refuses, never a silent mix."""
    directory = Path(directory)
    check_save_destination(directory, FORMAT, "save_tokenizer")
    # float16 halves a shipped file; loading casts back to the model's float32.
    tensors = _tokenizer_tensors(model, weights_dtype, "save_tokenizer")
    directory.mkdir(parents=True, exist_ok=True)
    weights_tmp, config_tmp = directory / (WEIGHTS_FILE + ".tmp"), directory / (CONFIG_FILE + ".tmp")
    save_file(tensors, str(weights_tmp))
    config = {
        "format": FORMAT,
        "class": type(model).__name__,
        "config": model.config.to_dict(),
        "weights_sha256": sha256_file(weights_tmp),
        "metadata": metadata or {},
    }
    config_tmp.write_text(json.dumps(config, indent=2) + "\n")
    os.replace(weights_tmp, directory / WEIGHTS_FILE)
    os.replace(config_tmp, directory / CONFIG_FILE)
    return directory


def latent_fingerprint(directory: str | Path) -> str:
    """SHA-256 of a saved tokenizer's latent side: its config (fields such as ``norm_groups`` change the
    latents without changing a tensor) and the ``LATENT_SIDE`` tensors (names, shapes and float32 values,
    in name order). Two tokenizers with the same fingerprint give the same latents, whatever their
    decoders' weights; float16 zoo weights hash as their exact float32 values."""
    config, _ = read_tokenizer_config(directory)  # a folder that is not a tokenizer is named as such
    weights = Path(directory) / WEIGHTS_FILE
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{weights}: cannot read the tokenizer's weights ({error})") from error
    return _fingerprint(config, tensors, str(weights))


def model_latent_fingerprint(model: CausalVideoTokenizer, weights_dtype: torch.dtype = torch.float32) -> str:
    """``latent_fingerprint`` of ``model`` as ``save_tokenizer(model, ..., weights_dtype=...)`` would save it."""
    tensors = _tokenizer_tensors(model, weights_dtype, "model_latent_fingerprint")
    return _fingerprint(model.config, tensors, f"{model.config.name} tokenizer")


def _fingerprint(config: TokenizerConfig, tensors: Mapping[str, torch.Tensor], where: str) -> str:
    names = sorted(name for name in tensors if name.startswith(LATENT_SIDE))
    if not any(name.startswith("encoder.") for name in names):
        raise ValueError(f"{where}: no encoder weights (encoder.*); not a cosmos-sim tokenizer's weights")
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode() + b"\n")
    for name in names:
        values = tensors[name].float().contiguous()
        digest.update(f"{name} {tuple(values.shape)}\n".encode())
        digest.update(values.numpy().tobytes())
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, as checkpoint configs record their weights'."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_record(directory: str | Path, fmt: str, kind: str) -> dict:
    """The JSON config of a saved checkpoint of format ``fmt`` (with a ``config`` entry), with errors
    that name the file and say what kind of checkpoint was expected."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} checkpoint at {directory}: {CONFIG_FILE} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON text: {error}") from error
    if not isinstance(data, dict) or data.get("format") != fmt or "config" not in data:
        raise ValueError(f"{path} is not a cosmos-sim {kind} config (expected format {fmt!r})")
    return data


def read_tokenizer_config(directory: str | Path) -> tuple[TokenizerConfig, dict]:
    """The ``TokenizerConfig`` and metadata of a saved tokenizer, with errors naming the file."""
    path = Path(directory) / CONFIG_FILE
    data = read_record(directory, FORMAT, "tokenizer")
    try:
        return TokenizerConfig.from_dict(data["config"]), data.get("metadata", {})
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: bad tokenizer config: {error}") from error


def load_tokenizer(directory: str | Path, *, device: str | torch.device = "cpu") -> CausalVideoTokenizer:
    """A tokenizer saved by ``save_tokenizer`` (or shipped in the zoo), in eval mode."""
    config, _ = read_tokenizer_config(directory)
    weights = Path(directory) / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(f"no tokenizer weights at {weights}")
    expected_hash = json.loads((Path(directory) / CONFIG_FILE).read_text()).get("weights_sha256")
    if expected_hash is not None and sha256_file(weights) != expected_hash:
        raise ValueError(
            f"{weights} is not the file {CONFIG_FILE} was saved with (SHA-256 differs): the save was "
            "interrupted or one file was replaced; save the tokenizer again"
        )
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{weights} is not a readable safetensors file: {error}") from error
    model = build_tokenizer(config)
    mean, std = tensors.pop(_STATS_PREFIX + "mean", None), tensors.pop(_STATS_PREFIX + "std", None)
    load_state_dict_strict(model, tensors, str(weights))
    if mean is not None and std is not None:
        # load_file memory-maps the file: copy, or the stats would change with (or crash on) a rewrite of it.
        model.set_latent_stats(mean.clone(), std.clone())
    return model.to(device).eval()


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a TorchScript archive (``.jit``), a safetensors file or a ``torch.save``d dict (weights only)."""
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        if path.suffix == ".jit":
            # TorchScript archives hold code and tensors, not arbitrary pickles; we only keep the tensors.
            with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; the published files use it
                warnings.filterwarnings("ignore", r"`torch\.jit\.load` is deprecated", DeprecationWarning)
                return dict(torch.jit.load(str(path), map_location="cpu").state_dict())
        if path.suffix == ".safetensors":
            return load_file(str(path))
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged file fails in many ways (the unpickler even with IndexError)
        raise ValueError(
            f"cannot read {path} as a .jit, .safetensors or weights-only torch file: {error}"
        ) from error
    if isinstance(loaded, Mapping) and "state_dict" in loaded:
        loaded = loaded["state_dict"]
    if not isinstance(loaded, Mapping) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return dict(loaded)


def load_published(
    config: TokenizerConfig | str,
    *files: str | Path,
    mean_std: str | Path | None = None,
) -> CausalVideoTokenizer:
    """A tokenizer with published Cosmos weights, loaded strictly.

    ``config``: a preset name such as ``"CV4x8x8"`` or a ``TokenizerConfig``. ``files``: ``encoder.jit``
    and ``decoder.jit``, or ``autoencoder.jit``, or a plain state dict (``.safetensors`` / ``.pt``); their
    tensors are merged. ``mean_std``: the latent statistics file (a ``(mean, std)`` pair).
    """
    config = preset(config) if isinstance(config, str) else config
    if not files:
        raise ValueError(
            "load_published needs at least one weights file (encoder.jit + decoder.jit, or a state dict)"
        )
    merged: dict[str, torch.Tensor] = {}
    for path in map(Path, files):
        merged.update({k: v for k, v in _read_state_dict(path).items() if k not in PUBLISHED_BUFFER_KEYS})
    model = build_tokenizer(config)
    load_state_dict_strict(model, merged, " + ".join(str(f) for f in files))
    if mean_std is not None:
        path = Path(mean_std)
        if not path.is_file():
            raise FileNotFoundError(f"latent statistics file not found: {path}")
        try:
            stats = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as error:  # as in _read_state_dict: any failure to parse the file
            raise ValueError(f"cannot read latent statistics {path}: {error}") from error
        if isinstance(stats, Mapping):
            stats = (stats.get("mean"), stats.get("std"))
        if not (
            isinstance(stats, tuple | list)
            and len(stats) == 2
            and all(isinstance(t, torch.Tensor) for t in stats)
        ):
            raise ValueError(f"{path}: expected a (mean, std) pair of tensors")
        model.set_latent_stats(stats[0].flatten(), stats[1].flatten())
    return model.eval()
