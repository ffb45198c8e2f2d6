"""`cosmos-sim train tokenizer`: a tiny recipe trains, writes a loadable checkpoint, and resumes."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings

import pytest
import torch

from cosmos_sim.cli import main
from cosmos_sim.tokenizers.checkpoint import latent_fingerprint, load_tokenizer, sha256_file
from cosmos_sim.tokenizers.losses import ReconstructionLoss, ReconstructionLossConfig
from cosmos_sim.training.state import warmup_cosine
from cosmos_sim.training.tokenizer import load_train_config, summarize_metrics, train_tokenizer
from cosmos_sim.world_models.diffusion.checkpoint import (
    in_package,
    load_world_model,
    save_world_model,
    tokenizer_fingerprint,
)
from cosmos_sim.world_models.diffusion.config import DiffusionWorldModelConfig
from cosmos_sim.world_models.diffusion.model import LatentDiffusionModel


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("tokenizer_data")


def _tiny(out, data_root, *overrides):
    return load_train_config("tiny", [f"out={out}", f"data.root={data_root}", *overrides])


def test_tiny_recipe_trains_saves_and_resumes(tmp_path, data_root):
    out = tmp_path / "run"
    final = train_tokenizer(_tiny(out, data_root, "max_steps=4"), progress=False)
    metrics = summarize_metrics(out)
    assert [m["step"] for m in metrics] == [2, 4]
    assert all(torch.isfinite(torch.tensor(m["loss"])) for m in metrics)
    model = load_tokenizer(final)
    meta = json.loads((final / "config.json").read_text())["metadata"]
    assert meta["steps"] == 4 and meta["data"]["scenes"][0]["env_id"] == "cosmos_sim/PushBlock-v0"
    assert model.latent_mean is not None and model.latent_mean.shape == (16, 1)  # CV: latent statistics

    # Running again with a larger budget resumes at step 4 instead of starting over.
    train_tokenizer(_tiny(out, data_root, "max_steps=6"), progress=False)
    assert [m["step"] for m in summarize_metrics(out)] == [2, 4, 6]
    assert json.loads((final / "config.json").read_text())["metadata"]["steps"] == 6


def test_a_diverging_run_rolls_back_to_its_best_state_at_a_lower_learning_rate(tmp_path, data_root):
    # lr 0.5 wrecks the tiny model within a few steps; a guard of 1e-6 dB rolls back on any drop.
    run = ("max_steps=10", "log_every=1", "warmup_steps=1", "lr=0.5", "rollback_drop_db=1e-6")
    out = tmp_path / "run"
    train_tokenizer(_tiny(out, data_root, *run), progress=False)
    metrics = summarize_metrics(out)
    rollbacks = [m for m in metrics if "rollback" in m]
    assert rollbacks, [m["monitor_psnr"] for m in metrics]
    for k, record in enumerate(rollbacks, start=1):
        best = max(m["monitor_psnr"] for m in metrics if m["step"] < record["step"])
        assert record["monitor_psnr"] <= best and record["rollback"]["to_psnr"] == pytest.approx(
            best, abs=0.01
        )
        assert record["rollback"]["lr_scale"] == 0.5**k
    # The step after a rollback runs at the reduced rate (the cosine barely moves in one step).
    first = rollbacks[0]["step"]
    before, after = (next(m["lr"] for m in metrics if m["step"] == s) for s in (first, first + 1))
    assert after == pytest.approx(before / 2, rel=0.1)
    state = torch.load(out / "train_state.pt", weights_only=True)
    assert state["extra"]["lr_scale"] == 0.5 ** len(rollbacks)  # a resume keeps the reduced rate

    off = tmp_path / "off"
    train_tokenizer(_tiny(off, data_root, *run[:-1], "rollback_drop_db=0"), progress=False)
    assert not any("rollback" in m for m in summarize_metrics(off))


def test_a_run_folder_resumes_only_its_own_recipe_and_a_damaged_state_is_named(tmp_path, data_root):
    out = tmp_path / "run"
    train_tokenizer(_tiny(out, data_root, "max_steps=2"), progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    # Another architecture or loss would train on from this run's weights and overwrite its model.
    with pytest.raises(ValueError, match=r"holds a run with other settings.*model\.channels: 8 -> 16"):
        train_tokenizer(_tiny(out, data_root, "max_steps=4", "model.channels=16"), progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # config.json kept
    # A saved model is not a run folder.
    with pytest.raises(ValueError, match=r"out .*model holds a saved model \(cosmos_sim\.tokenizer/1\)"):
        train_tokenizer(_tiny(out / "model", data_root), progress=False)
    (out / "train_state.pt").write_bytes(b"")  # as a power cut can leave it
    with pytest.raises(ValueError, match=r"cannot resume from .*train_state\.pt \(EOFError"):
        train_tokenizer(_tiny(out, data_root, "max_steps=4"), progress=False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["foo=1"], "Could not override 'foo'"),
        (["data.clip_frames=6"], r"clip_frames must be 1 \+ 4\*n"),
        (["model.kind=XV"], "kind must be one of"),
        (["lr=-1"], r"TokenizerTrainConfig.lr must be a finite number > 0, got -1"),
        (["lr=nan"], r"TokenizerTrainConfig.lr must be a finite number > 0, got nan"),
        (["rollback_lr_factor=0"], r"rollback_lr_factor must be a finite number > 0"),
        (["rollback_lr_factor=2.0"], r"rollback_lr_factor must be a finite number > 0 and <= 1, got 2.0"),
        (["rollback_drop_db=-1"], r"rollback_drop_db must be a finite number >= 0"),
        (["rollback_drop_db=nan"], r"rollback_drop_db must be a finite number >= 0, got nan"),
        (["max_minutes=nan"], r"max_minutes must be a finite number > 0, got nan"),
        (["grad_clip=-1"], r"grad_clip must be a finite number > 0, got -1"),
        (["grad_clip=nan"], r"grad_clip must be a finite number > 0, got nan"),
        (["final_lr_fraction=-1"], r"final_lr_fraction must be a finite number >= 0 and <= 1, got -1"),
        (["weight_decay=-1"], r"weight_decay must be a finite number >= 0, got -1"),
        (["threads=-1"], r"threads must be a finite number >= 0, got -1"),
        (["save_every_minutes=-1"], r"save_every_minutes must be a finite number >= 0"),
        (["loss.mse=nan"], r"ReconstructionLossConfig.mse must be a finite number >= 0, got nan"),
        (["data.scenes=null"], r"TokenizerDataConfig.scenes must be list\[SceneData\], got None"),
        (["data.scenes=5"], r"TokenizerDataConfig.scenes must be list\[SceneData\], got 5"),
        (["loss=null"], "TokenizerTrainConfig.loss must be a mapping of settings, got None"),
        (["train=encoder"], r"train must be one of \['all', 'decoder'\], got 'encoder'"),
        (["train=decoder"], "train=decoder fine-tunes a trained tokenizer's decoder; name it with init="),
    ],
)
def test_bad_recipes_are_clear_errors(tmp_path, data_root, overrides, message):
    with pytest.raises(ValueError, match=message):
        _tiny(tmp_path, data_root, *overrides)


def test_a_warm_up_longer_than_the_run_is_warned_of(tmp_path, data_root):
    with pytest.warns(
        UserWarning, match=r"warmup_steps \(100\) > max_steps \(4\): the learning rate"
    ) as caught:
        _tiny(tmp_path, data_root, "max_steps=4", "warmup_steps=100")
    assert caught[0].filename != "<string>"  # points at the code that built the config
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _tiny(tmp_path, data_root, "max_steps=4", "warmup_steps=4")  # reaches its peak on the last step


def test_a_decoder_fine_tune_keeps_the_latents_and_the_world_models_trained_on_them(tmp_path, data_root):
    base = train_tokenizer(_tiny(tmp_path / "base", data_root, "max_steps=2"), progress=False)
    tuned = train_tokenizer(
        _tiny(tmp_path / "tuned", data_root, "max_steps=3", f"init={base}", "train=decoder", "lr=1e-2"),
        progress=False,
    )
    before, after = load_tokenizer(base).state_dict(), load_tokenizer(tuned).state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all(name.startswith(("decoder.", "post_quant_conv.")) for name in changed)
    assert torch.equal(load_tokenizer(base).latent_mean, load_tokenizer(tuned).latent_mean)
    assert latent_fingerprint(base) == latent_fingerprint(tuned)
    assert sha256_file(base / "model.safetensors") != sha256_file(tuned / "model.safetensors")

    # A world model trained on the base tokenizer's latents runs with the fine-tuned decoder; a tokenizer
    # trained from scratch on the same recipe (other latents) is refused.
    config = dataclasses.replace(
        DiffusionWorldModelConfig(dim=32, depth=1, heads=2, adaln_rank=4, window=3),
        tokenizer=tokenizer_fingerprint(base),
    )
    wfm = save_world_model(LatentDiffusionModel(config), tmp_path / "wfm", tokenizer_dir=base)
    name = sorted(changed)[0]
    assert torch.equal(load_world_model(wfm, tokenizer_dir=tuned).tokenizer.state_dict()[name], after[name])
    other = train_tokenizer(_tiny(tmp_path / "other", data_root, "max_steps=2", "seed=1"), progress=False)
    with pytest.raises(ValueError, match="is neither the latent fingerprint of"):
        load_world_model(wfm, tokenizer_dir=other)
    # A world model saved before the latent fingerprint recorded the tokenizer's whole-file SHA-256: it
    # loads with that tokenizer and with a decoder fine-tune of it, not with another.
    record = json.loads((wfm / "config.json").read_text())
    record["config"]["tokenizer"] = json.loads((base / "config.json").read_text())["weights_sha256"]
    (wfm / "config.json").write_text(json.dumps(record))
    load_world_model(wfm)
    load_world_model(wfm, tokenizer_dir=tuned)
    with pytest.raises(ValueError, match="is neither the latent fingerprint of"):
        load_world_model(wfm, tokenizer_dir=other)
    # The config is part of the latent side: the same tensors read with another normalization make
    # other latents.
    renormed = tmp_path / "renormed"
    shutil.copytree(base, renormed)
    saved = json.loads((renormed / "config.json").read_text())
    saved["config"]["norm_groups"] = 1 - saved["config"]["norm_groups"]
    (renormed / "config.json").write_text(json.dumps(saved))
    assert latent_fingerprint(renormed) != latent_fingerprint(base)

    # A bad init is named before the run folder is claimed or any data recorded.
    with pytest.raises(ValueError, match=r"init=.* is a different architecture .*differs in channels"):
        train_tokenizer(
            _tiny(
                tmp_path / "wide", tmp_path / "no_data", f"init={base}", "train=decoder", "model.channels=16"
            ),
            progress=False,
        )
    with pytest.raises(FileNotFoundError, match="no tokenizer checkpoint at .*missing"):
        train_tokenizer(_tiny(tmp_path / "wide", data_root, f"init={tmp_path / 'missing'}"), progress=False)
    assert not (tmp_path / "wide").exists() and not (tmp_path / "no_data").exists()


def test_cli_reports_a_bad_config_name(capsys):
    assert main(["train", "tokenizer", "--config-name", "no_such_recipe"]) == 2
    assert "no_such_recipe" in capsys.readouterr().err


def test_shipped_recipes_compose():
    for name in ("cv4x8x8", "dv4x8x8", "cv4x8x8_decoder"):
        config = load_train_config(name)
        assert config.model.name == name.split("_")[0].upper().replace("X", "x")
        assert config.max_minutes <= 60 and len(config.data.scenes) == 9
    # The decoder fine-tune starts from the shipped tokenizer it names, which has the recipe's architecture.
    assert load_tokenizer(in_package(config.init)).config == config.model


def test_reconstruction_loss_is_zero_only_for_a_perfect_reconstruction():
    loss = ReconstructionLoss(ReconstructionLossConfig())
    x = torch.rand(2, 3, 5, 16, 16) * 2 - 1
    total, terms = loss(x, x)
    assert total.item() == pytest.approx(0.0, abs=1e-5) and set(terms) == {"l1", "ssim", "wavelet"}
    noisy = (x + 0.1 * torch.randn_like(x)).requires_grad_()
    total, _ = loss(noisy, x)
    total.backward()
    assert total.item() > 0.05 and noisy.grad.abs().sum() > 0


def test_learning_rate_warms_up_then_anneals_to_the_floor():
    assert warmup_cosine(0.0, 0, warmup_steps=10, final_fraction=0.1) == pytest.approx(0.1)
    assert warmup_cosine(0.0, 10, warmup_steps=10, final_fraction=0.1) == pytest.approx(1.0)
    assert warmup_cosine(1.0, 500, warmup_steps=10, final_fraction=0.1) == pytest.approx(0.1)
    assert warmup_cosine(2.0, 500, warmup_steps=10, final_fraction=0.1) == pytest.approx(0.1)
