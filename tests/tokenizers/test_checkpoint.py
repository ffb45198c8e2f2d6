"""Checkpoints of the tokenizers: the pinned published key layout, our save/load round trip, loading
published-style files (plain state dicts, TorchScript ``encoder.jit`` / ``decoder.jit``, ``mean_std``),
and the errors that bad files give (docs/design/cosmos_tokenizer_reference.md, Sec. 1.3-1.7)."""

from __future__ import annotations

import json
import re
import warnings
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from cosmos_sim.tokenizers import build_tokenizer, preset
from cosmos_sim.tokenizers.checkpoint import (
    CONFIG_FILE,
    PUBLISHED_BUFFER_KEYS,
    WEIGHTS_FILE,
    load_published,
    load_tokenizer,
    read_tokenizer_config,
    save_tokenizer,
)

from .conftest import tiny, video

ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "cosmos_tokenizer_keys.json"
PUBLISHED = ["CV4x8x8", "DV4x8x8"]
# Emulating the published files needs TorchScript, which torch 2.13 deprecates.
pytestmark = pytest.mark.filterwarnings(r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning")

# Hand-written from the reference notes (Sec. 1.3-1.5), independent of the model code and the artifact.
EXPECTED_COUNTS = {"CV4x8x8": (306, 104_669_888), "DV4x8x8": (306, 104_669_558)}
_SHARED_SHAPES = {
    "encoder.conv_in.0.conv3d.weight": (128, 192, 1, 3, 3),
    "encoder.conv_in.1.conv3d.weight": (128, 128, 3, 1, 1),
    "encoder.down.0.block.0.nin_shortcut.conv3d.weight": (256, 128, 1, 1, 1),
    "encoder.down.0.downsample.conv1.conv3d.weight": (256, 256, 1, 3, 3),
    "encoder.mid.attn_1.1.q.conv3d.weight": (512, 512, 1, 1, 1),
    "decoder.up.0.block.0.nin_shortcut.conv3d.weight": (256, 512, 1, 1, 1),
    "decoder.up.2.upsample.conv2.conv3d.weight": (512, 512, 1, 3, 3),
    "decoder.conv_out.0.conv3d.weight": (192, 256, 1, 3, 3),
}
EXPECTED_SHAPES = {
    "CV4x8x8": {
        **_SHARED_SHAPES,
        "quant_conv.conv3d.weight": (16, 16, 1, 1, 1),
        "post_quant_conv.conv3d.weight": (16, 16, 1, 1, 1),
    },
    "DV4x8x8": {
        **_SHARED_SHAPES,
        "quant_conv.conv3d.weight": (6, 16, 1, 1, 1),
        "post_quant_conv.conv3d.weight": (16, 6, 1, 1, 1),
    },
}
# The convs of the older "always create conv1-3" layout that the 4x8x8 resamplers never use (Sec. 1.5).
UNUSED_RESAMPLER_CONVS = [
    "encoder.down.0.downsample.conv2",
    "encoder.down.1.downsample.conv1",
    "encoder.down.1.downsample.conv2",
    "encoder.down.1.downsample.conv3",
    "decoder.up.1.upsample.conv1",
    "decoder.up.1.upsample.conv2",
    "decoder.up.1.upsample.conv3",
    "decoder.up.2.upsample.conv1",
]


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    """The tiny models gain nothing from intra-op threads, and on a busy 2-core machine the thread pool
    makes this module several times slower; the previous setting is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---- the published key layout -------------------------------------------------------------------


@pytest.fixture(scope="module")
def published_shapes() -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """``[(key, shape), ...]`` of the published-size models in state_dict order, each built once on the
    meta device (the same module tree, no 105M-parameter allocation or initialization)."""
    out = {}
    with torch.device("meta"):
        for name in PUBLISHED:
            state = build_tokenizer(preset(name)).state_dict()
            out[name] = [(key, tuple(tensor.shape)) for key, tensor in state.items()]
    return out


@pytest.fixture(scope="module")
def pinned() -> dict:
    return json.loads(ARTIFACT.read_text())["models"]


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_keys_and_shapes_equal_the_pinned_artifact(name, published_shapes, pinned):
    got = published_shapes[name]
    expected = [(key, tuple(shape)) for key, shape in pinned[name]["keys"]]
    assert got == expected, "regenerate with scripts/pin_tokenizer_keys.py only for a deliberate change"
    assert (pinned[name]["num_tensors"], pinned[name]["num_parameters"]) == EXPECTED_COUNTS[name]
    num_parameters = sum(torch.Size(shape).numel() for _, shape in got)
    assert (len(got), num_parameters) == EXPECTED_COUNTS[name]


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_spot_shapes_follow_the_reference_notes(name, published_shapes):
    shapes = dict(published_shapes[name])
    for key, shape in EXPECTED_SHAPES[name].items():
        assert shapes.get(key) == shape, key
    keys = [key for key, _ in published_shapes[name]]
    # Registration order: encoder, decoder, quant_conv, post_quant_conv (Sec. 1.5).
    tops = [key.split(".")[0] for key in keys]
    assert list(dict.fromkeys(tops)) == ["encoder", "decoder", "quant_conv", "post_quant_conv"]
    block = [k for k in keys if k.startswith("encoder.down.0.block.0.") and k.endswith(".weight")]
    assert [k.removeprefix("encoder.down.0.block.0.").removesuffix(".weight") for k in block] == [
        "norm1.norm",
        "conv1.0.conv3d",
        "conv1.1.conv3d",
        "norm2.norm",
        "conv2.0.conv3d",
        "conv2.1.conv3d",
        "nin_shortcut.conv3d",
    ]


@pytest.mark.parametrize("name", PUBLISHED)
def test_noop_resamplers_quantizer_and_level_attention_have_no_keys(name, published_shapes):
    keys = [key for key, _ in published_shapes[name]]
    for prefix in UNUSED_RESAMPLER_CONVS + ["encoder.down.2.downsample", "decoder.up.0.upsample"]:
        assert not [k for k in keys if k.startswith(prefix + ".")], prefix
    # The used resampler convs are there: spatial down at level 0, spatial up at level 2.
    for prefix in [
        "encoder.down.0.downsample.conv1",
        "encoder.down.0.downsample.conv3",
        "decoder.up.2.upsample.conv2",
        "decoder.up.2.upsample.conv3",
    ]:
        assert {prefix + ".conv3d.weight", prefix + ".conv3d.bias"} <= set(keys)
    assert not [k for k in keys if "quantizer" in k or "distribution" in k]
    # attn_resolutions=(32,) never matches 256/128/64: attention only in the middle blocks.
    assert not [k for k in keys if ".attn." in k]
    assert sum(".attn_1." in k for k in keys) == 2 * 2 * (2 + 4 * 2)  # enc+dec, spatial+temporal


def test_dv_differs_from_cv_only_in_the_quant_convs(published_shapes):
    cv, dv = dict(published_shapes["CV4x8x8"]), dict(published_shapes["DV4x8x8"])
    assert list(cv) == list(dv)
    assert {k for k in cv if cv[k] != dv[k]} == {
        "quant_conv.conv3d.weight",
        "quant_conv.conv3d.bias",
        "post_quant_conv.conv3d.weight",
    }
    assert tiny("DV4x8x8").quantizer.state_dict() == {}


# ---- tiny models and their reference outputs ----------------------------------------------------


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    return video(5, 16, 16, batch=1)


def _outputs(model, x: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        out = model(x)
    return [out.latent, out.reconstruction] + ([out.indices] if out.indices is not None else [])


def _assert_same_outputs(model, reference, x):
    for got, expected in zip(_outputs(model, x), _outputs(reference, x), strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def _assert_same_state(model, reference):
    a, b = model.state_dict(), reference.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _tiny_with_random_weights(name: str):
    """A tiny model whose every tensor is random, so a load that skipped any of them would show."""
    model = tiny(name)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.copy_(torch.randn(tensor.shape, generator=g) * 0.2)
    return model


@pytest.fixture(scope="module")
def models() -> dict:
    return {name: _tiny_with_random_weights(name) for name in PUBLISHED}


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


# ---- our own checkpoints ------------------------------------------------------------------------


@pytest.mark.parametrize("name", PUBLISHED)
def test_save_load_round_trip(name, tmp_path, clip):
    model = _tiny_with_random_weights(name)
    c = model.config.latent_dim
    g = torch.Generator().manual_seed(2)
    mean, std = torch.randn(c * 2, generator=g), torch.rand(c * 2, generator=g) + 0.5
    model.set_latent_stats(mean, std)
    directory = save_tokenizer(model, tmp_path / "ckpt", metadata={"step": 7})
    assert sorted(p.name for p in directory.iterdir()) == sorted([CONFIG_FILE, WEIGHTS_FILE])

    loaded = load_tokenizer(directory)
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.config == model.config
    assert read_tokenizer_config(directory) == (model.config, {"step": 7})
    _assert_same_state(loaded, model)
    _assert_same_outputs(loaded, model, clip)
    torch.testing.assert_close(loaded.latent_mean, mean.view(c, 2), rtol=0, atol=0)
    torch.testing.assert_close(loaded.latent_std, std.view(c, 2), rtol=0, atol=0)
    z = torch.randn(1, c, 2, 2, 2, generator=g)
    torch.testing.assert_close(loaded.normalize_latent(z), model.normalize_latent(z), rtol=0, atol=0)


def test_round_trip_without_latent_stats(tmp_path, models):
    model = models["CV4x8x8"]
    assert model.latent_mean is None
    loaded = load_tokenizer(save_tokenizer(model, tmp_path))
    assert loaded.latent_mean is None and loaded.latent_std is None
    assert read_tokenizer_config(tmp_path) == (model.config, {})
    _assert_same_state(loaded, model)


# ---- published-style files ----------------------------------------------------------------------


@pytest.mark.parametrize("name", PUBLISHED)
def test_plain_state_dicts_load_as_published_weights(name, tmp_path, models, clip):
    model = models[name]
    state = _state(model)
    save_file(state, str(tmp_path / "model.safetensors"))
    torch.save(state, tmp_path / "model.pt")
    torch.save({"state_dict": state}, tmp_path / "wrapped.ckpt")
    for file in ["model.safetensors", "model.pt", "wrapped.ckpt"]:
        loaded = load_published(model.config, tmp_path / file)
        assert type(loaded) is type(model) and not loaded.training and loaded.latent_mean is None
        _assert_same_state(loaded, model)
        _assert_same_outputs(loaded, model, clip)


def test_half_precision_weights_are_cast_to_float32(tmp_path, models):
    model = models["CV4x8x8"]
    save_file({k: v.to(torch.bfloat16) for k, v in _state(model).items()}, str(tmp_path / "w.safetensors"))
    loaded = load_published(model.config, tmp_path / "w.safetensors")
    for key, tensor in loaded.state_dict().items():
        assert tensor.dtype == torch.float32, key
        torch.testing.assert_close(tensor, model.state_dict()[key].to(torch.bfloat16).float(), rtol=0, atol=0)


def _write_jits(model, x: torch.Tensor, directory: Path) -> tuple[Path, Path]:
    """``encoder.jit`` / ``decoder.jit`` as the published ones are made (Sec. 1.6): traced Sequentials."""
    encoder = nn.Sequential(OrderedDict(encoder=model.encoder, quant_conv=model.quant_conv))
    decoder = nn.Sequential(OrderedDict(post_quant_conv=model.post_quant_conv, decoder=model.decoder))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks become trace constants
        z = model._encode_latent(x)
        traced_encoder = torch.jit.trace(encoder, x, check_trace=False)
        traced_decoder = torch.jit.trace(decoder, z, check_trace=False)
        torch.testing.assert_close(traced_encoder(x), z, rtol=0, atol=0)
    paths = directory / "encoder.jit", directory / "decoder.jit"
    torch.jit.save(traced_encoder, str(paths[0]))
    torch.jit.save(traced_decoder, str(paths[1]))
    return paths


@pytest.mark.parametrize("name", PUBLISHED)
def test_torchscript_encoder_and_decoder_files_load(name, tmp_path, models, clip):
    model = models[name]
    enc, dec = _write_jits(model, clip, tmp_path)
    keys = set(torch.jit.load(str(enc)).state_dict()) | set(torch.jit.load(str(dec)).state_dict())
    assert keys == set(model.state_dict())  # the emulated files hold exactly the model's tensors
    loaded = load_published(model.config, enc, dec)
    _assert_same_state(loaded, model)
    _assert_same_outputs(loaded, model, clip)
    with pytest.raises(ValueError, match=r"missing keys.*decoder\."):
        load_published(model.config, enc)  # the decoder half alone is not a tokenizer


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_buffer_keys_are_dropped_by_exact_name(name, tmp_path, models, clip):
    model = models[name]
    buffers = {
        "encoder.patcher3d.wavelets": torch.tensor([0.7071, 0.7071]),
        "encoder.patcher3d._arange": torch.arange(2),
        "encoder.patcher3d.patch_size_buffer": torch.tensor([4], dtype=torch.int32),
        "decoder.unpatcher3d.wavelets": torch.tensor([0.7071, 0.7071]),
        "decoder.unpatcher3d._arange": torch.arange(2),
    }
    if model.config.kind == "DV":
        levels = torch.tensor(model.config.levels, dtype=torch.int32)
        buffers |= {
            "quantizer._levels": levels,
            "quantizer._basis": levels.cumprod(0),
            "quantizer.implicit_codebook": torch.zeros(4, 6),
            "inv_quant.quantizer._levels": levels.clone(),
        }
    assert set(buffers) <= PUBLISHED_BUFFER_KEYS
    save_file(_state(model) | buffers, str(tmp_path / "model.safetensors"))
    loaded = load_published(model.config, tmp_path / "model.safetensors")
    _assert_same_state(loaded, model)
    _assert_same_outputs(loaded, model, clip)
    # Only the listed names: a look-alike buffer is still an unexpected key.
    save_file(
        _state(model) | {"encoder.patcher3d.wavelets_2": torch.ones(2)}, str(tmp_path / "b.safetensors")
    )
    with pytest.raises(ValueError, match=r"1 unexpected keys.*encoder\.patcher3d\.wavelets_2"):
        load_published(model.config, tmp_path / "b.safetensors")


def test_mean_std_file_is_applied_per_channel_and_latent_frame(tmp_path, models, clip):
    model = models["CV4x8x8"]
    save_file(_state(model), str(tmp_path / "model.safetensors"))
    g = torch.Generator().manual_seed(3)
    mean, std = torch.randn(16 * 2, generator=g), torch.rand(16 * 2, generator=g) + 0.5
    torch.save((mean, std), tmp_path / "mean_std.pt")
    torch.save({"mean": mean, "std": std}, tmp_path / "mean_std_dict.pt")
    for stats in ["mean_std.pt", "mean_std_dict.pt"]:
        loaded = load_published(model.config, tmp_path / "model.safetensors", mean_std=tmp_path / stats)
        with torch.no_grad():
            z = loaded.encode(clip)  # (1, 16, 2, 2, 2)
        assert z.shape[1:3] == (16, 2)
        normalized = loaded.normalize_latent(z)
        # Channel-major flattening: entry c * T + t belongs to channel c, latent frame t.
        for c, t in [(0, 0), (0, 1), (5, 1), (15, 0)]:
            expected = (z[:, c, t] - mean[c * 2 + t]) / std[c * 2 + t]
            torch.testing.assert_close(normalized[:, c, t], expected)
        torch.testing.assert_close(loaded.denormalize_latent(normalized), z)


def test_published_preset_names_resolve(tmp_path):
    with pytest.raises(ValueError, match="unknown tokenizer preset 'CV4x4x4'"):
        load_published("CV4x4x4", tmp_path / "model.safetensors")


# ---- bad checkpoints ----------------------------------------------------------------------------


@pytest.fixture
def cv_state(models) -> dict[str, torch.Tensor]:
    return _state(models["CV4x8x8"])


def _load_state(state, tmp_path, config):
    path = tmp_path / "bad.safetensors"
    save_file(state, str(path))
    return load_published(config, path)


def test_missing_key_is_named(tmp_path, models, cv_state):
    del cv_state["decoder.norm_out.norm.bias"]
    with pytest.raises(ValueError, match=r"1 missing keys: \['decoder\.norm_out\.norm\.bias'\]") as info:
        _load_state(cv_state, tmp_path, models["CV4x8x8"].config)
    assert "bad.safetensors" in str(info.value) and "CV4x8x8" in str(info.value)
    assert "unexpected" not in str(info.value) and "always create" not in str(info.value)


def test_unexpected_key_is_named(tmp_path, models, cv_state):
    cv_state["encoder.extra.conv3d.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"1 unexpected keys: \['encoder\.extra\.conv3d\.weight'\]") as info:
        _load_state(cv_state, tmp_path, models["CV4x8x8"].config)
    assert "missing" not in str(info.value) and "always create" not in str(info.value)


def test_wrong_shape_names_key_and_both_shapes(tmp_path, models, cv_state):
    cv_state["quant_conv.conv3d.weight"] = torch.zeros(16, 8, 1, 1, 1)
    with pytest.raises(ValueError, match="1 shape or dtype mismatches") as info:
        _load_state(cv_state, tmp_path, models["CV4x8x8"].config)
    message = str(info.value)
    assert "quant_conv.conv3d.weight" in message
    assert "(16, 16, 1, 1, 1)" in message and "(16, 8, 1, 1, 1)" in message


def test_a_dv_file_does_not_load_into_cv(tmp_path, models):
    with pytest.raises(
        ValueError, match=r"shape or dtype mismatches.*quant_conv\.conv3d\.weight: expected \(16, 16"
    ):
        _load_state(_state(models["DV4x8x8"]), tmp_path, models["CV4x8x8"].config)


def test_always_create_resampler_layout_is_recognized(tmp_path, models, cv_state):
    # Channels of the tiny config (channels 8, mult (1, 2, 2)) at each resampler.
    width = {"encoder.down.0": 8, "encoder.down.1": 16, "decoder.up.1": 16, "decoder.up.2": 16}
    # The downsampler's conv1 is spatial and conv2 temporal; the upsampler's the other way round.
    kernels = {
        "downsample": {"conv1": (1, 3, 3), "conv2": (3, 1, 1), "conv3": (1, 1, 1)},
        "upsample": {"conv1": (3, 1, 1), "conv2": (1, 3, 3), "conv3": (1, 1, 1)},
    }
    extra = {}
    for prefix in UNUSED_RESAMPLER_CONVS:
        level, kind, conv = prefix.rsplit(".", 2)
        c = width[level]
        extra[prefix + ".conv3d.weight"] = torch.zeros(c, c, *kernels[kind][conv])
        extra[prefix + ".conv3d.bias"] = torch.zeros(c)
    with pytest.raises(ValueError, match="16 unexpected keys") as info:
        _load_state(cv_state | extra, tmp_path, models["CV4x8x8"].config)
    assert "'always create conv1-3' layout" in str(info.value)
    assert "missing" not in str(info.value)
    # Dropping them, as the message says, loads.
    _load_state(cv_state, tmp_path, models["CV4x8x8"].config)


def test_unreadable_files_are_value_errors(tmp_path, models):
    config = models["CV4x8x8"].config
    for name in ["bad.safetensors", "bad.jit", "bad.pt"]:
        (tmp_path / name).write_bytes(b"this is not a checkpoint")
        with pytest.raises(ValueError, match=rf"cannot read .*{name}"):
            load_published(config, tmp_path / name)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot read .*empty.pt"):
        load_published(config, tmp_path / "empty.pt")
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="does not hold a state dict of tensors"):
        load_published(config, tmp_path / "list.pt")
    with pytest.raises(ValueError, match="needs at least one weights file"):
        load_published(config)


def test_missing_files_are_file_not_found_errors(tmp_path, models):
    model = models["CV4x8x8"]
    with pytest.raises(
        FileNotFoundError, match=r"no tokenizer checkpoint at .*nowhere: config\.json is missing"
    ):
        load_tokenizer(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"checkpoint file not found: .*encoder\.jit"):
        load_published(model.config, tmp_path / "encoder.jit")
    save_file(_state(model), str(tmp_path / "model.safetensors"))
    with pytest.raises(FileNotFoundError, match=r"latent statistics file not found: .*mean_std\.pt"):
        load_published(model.config, tmp_path / "model.safetensors", mean_std=tmp_path / "mean_std.pt")
    save_tokenizer(model, tmp_path / "ckpt")
    (tmp_path / "ckpt" / WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="no tokenizer weights at .*model.safetensors"):
        load_tokenizer(tmp_path / "ckpt")


def test_bad_mean_std_files(tmp_path, models):
    model = models["CV4x8x8"]
    save_file(_state(model), str(tmp_path / "model.safetensors"))
    cases = {
        "single.pt": (torch.zeros(16), "expected a \\(mean, std\\) pair"),
        "no_std.pt": ({"mean": torch.zeros(16)}, "expected a \\(mean, std\\) pair"),
        "odd.pt": ((torch.zeros(15), torch.ones(15)), "16\\*T elements"),
        "zero_std.pt": ((torch.zeros(16), torch.zeros(16)), "std must be positive"),
    }
    for file, (stats, message) in cases.items():
        torch.save(stats, tmp_path / file)
        with pytest.raises(ValueError, match=message):
            load_published(model.config, tmp_path / "model.safetensors", mean_std=tmp_path / file)
    (tmp_path / "garbage.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read latent statistics"):
        load_published(model.config, tmp_path / "model.safetensors", mean_std=tmp_path / "garbage.pt")


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_bad_checkpoint_directories_fail_clearly_and_stay_untouched(tmp_path, models):
    model = models["DV4x8x8"]
    directory = save_tokenizer(model, tmp_path / "ckpt")
    config = json.loads((directory / CONFIG_FILE).read_text())
    # Without the weights' hash (hand-written configs may omit it), so the checks below reach the weights;
    # test_weights_from_another_save_are_refused covers the hash.
    del config["weights_sha256"]
    weights = {k: v.clone() for k, v in load_file(str(directory / WEIGHTS_FILE)).items()}  # not mmapped

    def expect_failure(error, match):
        before = _snapshot(directory)
        with pytest.raises(error, match=match):
            load_tokenizer(directory)
        assert _snapshot(directory) == before  # same files, same bytes: no repair, no temporary files

    # An unknown config field.
    (directory / CONFIG_FILE).write_text(json.dumps(config | {"config": config["config"] | {"widht": 8}}))
    expect_failure(ValueError, r"config\.json: bad tokenizer config: .*unknown fields \['widht'\]")
    # Not our format, not JSON.
    (directory / CONFIG_FILE).write_text(json.dumps(config | {"format": "something/else"}))
    expect_failure(ValueError, "is not a cosmos-sim tokenizer config")
    (directory / CONFIG_FILE).write_text("{not json")
    expect_failure(ValueError, "is not valid JSON")
    (directory / CONFIG_FILE).write_bytes(b'{"format": "\xff"}')  # not UTF-8: the file is still named
    expect_failure(ValueError, r"config\.json is not valid JSON text: .*utf-8")
    (directory / CONFIG_FILE).write_text(json.dumps(config))
    # A corrupt weights file.
    (directory / WEIGHTS_FILE).write_bytes(b"\x00" * 5)
    expect_failure(ValueError, r"model\.safetensors is not a readable safetensors file")
    # Weights that do not fit the config: a wrong shape and a missing key.
    save_file(
        weights | {"post_quant_conv.conv3d.weight": torch.zeros(16, 7, 1, 1, 1)},
        str(directory / WEIGHTS_FILE),
    )
    expect_failure(
        ValueError, r"post_quant_conv\.conv3d\.weight: expected \(16, 6, 1, 1, 1\), got \(16, 7, 1, 1, 1\)"
    )
    save_file(
        {k: v for k, v in weights.items() if k != "quant_conv.conv3d.bias"}, str(directory / WEIGHTS_FILE)
    )
    expect_failure(ValueError, r"missing keys: \['quant_conv\.conv3d\.bias'\]")
    # Published buffer names are not dropped from our own checkpoints: they are never written there.
    save_file(weights | {"quantizer._levels": torch.zeros(6)}, str(directory / WEIGHTS_FILE))
    expect_failure(ValueError, r"unexpected keys: \['quantizer\._levels'\]")


def test_a_loaded_model_does_not_alias_its_weights_file(tmp_path):
    model = _tiny_with_random_weights("CV4x8x8")
    model.set_latent_stats(torch.arange(1.0, 33.0), torch.ones(32))
    directory = save_tokenizer(model, tmp_path)
    loaded = load_tokenizer(directory)
    weights = directory / WEIGHTS_FILE
    with weights.open("r+b") as file:  # overwrite in place, same size: a memory map would see this
        file.write(b"\0" * weights.stat().st_size)
    torch.testing.assert_close(loaded.latent_mean, model.latent_mean, rtol=0, atol=0)
    _assert_same_state(loaded, model)


def test_weights_from_another_save_are_refused(tmp_path):
    from cosmos_sim.tokenizers.checkpoint import save_tokenizer

    first, second = tiny("CV4x8x8"), tiny("CV4x8x8", channels=8)
    with torch.no_grad():
        second.quant_conv.conv3d.bias.add_(1.0)
    save_tokenizer(first, tmp_path / "a")
    save_tokenizer(second, tmp_path / "b")
    # A crash between the two renames would pair new weights with the old config.
    (tmp_path / "a" / "model.safetensors").write_bytes((tmp_path / "b" / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match="SHA-256 differs"):
        load_tokenizer(tmp_path / "a")


def test_float16_weights_load_as_float32_with_the_same_outputs(tmp_path):
    from cosmos_sim.tokenizers.checkpoint import save_tokenizer

    model = tiny("CV4x8x8")
    save_tokenizer(model, tmp_path, weights_dtype=torch.float16)
    loaded = load_tokenizer(tmp_path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = video(5)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).reconstruction, model(x).reconstruction, atol=2e-2, rtol=0)


def test_integer_or_boolean_tensors_are_not_cast_into_float_weights(tmp_path, models, cv_state):
    # An int8-quantized file would otherwise load as weights of -128..127.
    cv_state["quant_conv.conv3d.weight"] = (cv_state["quant_conv.conv3d.weight"] * 100).round().to(torch.int8)
    with pytest.raises(
        ValueError, match=r"quant_conv\.conv3d\.weight: expected a torch\.float32 tensor, got torch\.int8"
    ):
        _load_state(cv_state, tmp_path, models["CV4x8x8"].config)


def test_a_save_overwrites_only_a_tokenizer_and_never_ships_inf(tmp_path):
    from cosmos_sim.tokenizers.checkpoint import (
        latent_fingerprint,
        model_latent_fingerprint,
        save_tokenizer,
    )

    model = tiny("CV4x8x8")
    run = tmp_path / "run"  # a training run's folder: its config.json is the recipe
    run.mkdir()
    (run / "config.json").write_text('{"lr": 0.001}')
    with pytest.raises(
        ValueError, match=r"run holds a config.json that is not a cosmos_sim.tokenizer/1 checkpoint"
    ):
        save_tokenizer(model, run)
    assert (run / "config.json").read_text() == '{"lr": 0.001}' and not (run / "model.safetensors").exists()
    a_file = tmp_path / "file"
    a_file.write_text("kept")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        save_tokenizer(model, a_file)
    # The fingerprint of a model as it would be shipped is the shipped folder's.
    shipped = save_tokenizer(model, tmp_path / "zoo", weights_dtype=torch.float16)
    assert model_latent_fingerprint(model, torch.float16) == latent_fingerprint(shipped)
    assert model_latent_fingerprint(model) != latent_fingerprint(shipped)  # float32 values differ
    name, weight = next((n, p) for n, p in model.named_parameters() if n.startswith("decoder."))
    with torch.no_grad():
        weight.view(-1)[0] = 1e5  # beyond float16's 65,504
    with pytest.raises(ValueError, match=re.escape(name) + r" does not fit in torch\.float16"):
        save_tokenizer(model, tmp_path / "zoo", weights_dtype=torch.float16)
    assert latent_fingerprint(shipped) == model_latent_fingerprint(tiny("CV4x8x8"), torch.float16)
