"""`cosmos-sim bench rollout` on a tiny untrained world model: the report's parts and its baselines."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from cosmos_sim.benchmarks.rollout import run_rollout_benchmark
from cosmos_sim.data.lerobot import EpisodeDataset
from cosmos_sim.data.scenes import SceneData, ensure_scene_datasets
from cosmos_sim.metrics.objects import PUSHBLOCK_BLOCK_RGB, color_mask, mask_centroids
from cosmos_sim.tokenizers import build_tokenizer, preset
from cosmos_sim.tokenizers.checkpoint import save_tokenizer
from cosmos_sim.world_models.diffusion import DiffusionWorldModelConfig, LatentDiffusionModel
from cosmos_sim.world_models.diffusion.checkpoint import save_world_model, tokenizer_fingerprint


def test_block_centroid_follows_the_true_block_position(tmp_path):
    scene = SceneData("cosmos_sim/PushBlock-v0", episodes=1, policy="expert", heldout_episodes=1)
    (path,) = ensure_scene_datasets(tmp_path, [scene], "heldout", progress=False)
    episode = EpisodeDataset(path).load_episode(0)
    centroids = mask_centroids(color_mask(episode["observation.image"], PUSHBLOCK_BLOCK_RGB))
    # Top-down camera over +-0.32 m on 64 px: column = 32 + 100 x, row = 32 - 100 y (pixel centres at +0.5).
    block_xy = episode["observation.state"][:, 2:4]
    expected = np.stack([32 - 100 * block_xy[:, 1], 32 + 100 * block_xy[:, 0]], axis=1) - 0.5
    visible = ~np.isnan(centroids[:, 0])
    assert visible.mean() > 0.9
    assert np.abs(centroids[visible] - expected[visible]).max() < 1.5


def test_rollout_benchmark_writes_its_report(tmp_path):
    torch.manual_seed(0)
    tok_config = preset("CV4x8x8", channels=8, channels_mult=(1, 2), num_res_blocks=1, attn_resolutions=())
    tok_dir = save_tokenizer(build_tokenizer(tok_config), tmp_path / "tok")
    config = DiffusionWorldModelConfig(dim=32, depth=1, heads=2, adaln_rank=4, window=3)
    config = dataclasses.replace(config, tokenizer=tokenizer_fingerprint(tok_dir))
    model_dir = save_world_model(LatentDiffusionModel(config), tmp_path / "wfm", tokenizer_dir=tok_dir)

    results = run_rollout_benchmark(
        model_dir, tmp_path / "bench", data_root=tmp_path / "data", episodes=2, quick=True, progress=False
    )
    for name in ("rollout.json", "rollout.md", "rollout.mp4"):
        assert (tmp_path / "bench" / name).is_file()
    assert json.loads((tmp_path / "bench" / "rollout.json").read_text())["clips"] == results["clips"] == 4
    curves = results["curves"]
    assert len(curves["psnr"]) == len(curves["copy_psnr"]) == 16
    # Copying the last frame degrades with the horizon; the block is found in the copied frames.
    assert curves["copy_psnr"][0] > curves["copy_psnr"][-1]
    assert np.isfinite(results["summary"]["copy_centroid_px_last"])
    assert [s["batch"] for s in results["speed"]] == [1, 64]
    # The frames where the scene changed: copy-last scores below its all-frame mean there, which the
    # frames it reproduces exactly (the PSNR cap) lift.
    summary = results["summary"]
    assert 0 < summary["changed_fraction"] <= 1
    assert summary["copy_psnr_changed"] < np.mean(curves["copy_psnr"]) or summary["changed_fraction"] == 1
    assert summary["psnr_gain_changed_db"] == pytest.approx(
        summary["psnr_changed"] - summary["copy_psnr_changed"],
        abs=0.011,  # each rounded to 0.01
    )


def test_a_missing_or_foreign_world_model_or_an_output_file_fails_before_any_work(
    save_tiny_world_model, tiny_pushblock_world_model, tmp_path
):
    with pytest.raises(FileNotFoundError, match="world model checkpoint .*missing does not exist"):
        run_rollout_benchmark(tmp_path / "missing", tmp_path / "bench", data_root=tmp_path / "data")
    physics = save_tiny_world_model(tmp_path / "physics", "cosmos_sim/Physics")
    with pytest.raises(ValueError, match="rollout: the world model at .* imitates cosmos_sim/Physics"):
        run_rollout_benchmark(physics, tmp_path / "bench", data_root=tmp_path / "data", progress=False)
    assert not (tmp_path / "bench").exists()  # a refused run leaves no empty output folder
    a_file = tmp_path / "bench.json"
    a_file.write_text("kept")
    with pytest.raises(ValueError, match="rollout: output path .*bench.json exists and is not a folder"):
        run_rollout_benchmark(tiny_pushblock_world_model, a_file, data_root=tmp_path / "data", progress=False)
    assert a_file.read_text() == "kept" and not (tmp_path / "data").exists()  # nothing recorded
    with pytest.raises(
        ValueError, match=r"rollout: output path .*bench.json/report lies under .*bench.json, which is a file"
    ):
        run_rollout_benchmark(
            tiny_pushblock_world_model, a_file / "report", data_root=tmp_path / "data", progress=False
        )
    for settings, message in (
        ({"horizon": 0}, "rollout: horizon must be a positive integer, got 0"),
        ({"episodes": -1}, "rollout: episodes must be a positive integer, got -1"),
        ({"starts": (-1,)}, r"starts must be frame indices >= 0, at least one, got \(-1,\)"),
        ({"starts": ()}, "starts must be frame indices >= 0, at least one"),
    ):
        with pytest.raises(ValueError, match=message):
            run_rollout_benchmark(
                tiny_pushblock_world_model, tmp_path / "bench", data_root=tmp_path / "data", **settings
            )
    assert not (tmp_path / "bench").exists() and not (tmp_path / "data").exists()


def test_a_rollout_where_no_clip_shows_the_block_reports_null_not_nan(
    tiny_pushblock_world_model, tmp_path, monkeypatch
):
    from cosmos_sim.world_models.diffusion.world_model import DiffusionWorldModel

    def grey(self, latents):  # a decoder that never shows the block
        return np.full((latents.shape[0], 1 + 4 * (latents.shape[2] - 1), 64, 64, 3), 128, np.uint8)

    monkeypatch.setattr(DiffusionWorldModel, "decode", grey)

    def run(out: str, starts: tuple[int, ...]):  # one held-out episode, 4 frames ahead
        return run_rollout_benchmark(
            tiny_pushblock_world_model,
            tmp_path / out,
            data_root=tmp_path / "data",
            episodes=1,
            starts=starts,
            horizon=4,
            quick=True,
            progress=False,
        )

    results = run("bench", (0,))
    text = (tmp_path / "bench" / "rollout.json").read_text()
    assert "NaN" not in text and json.loads(text)["summary"]["centroid_px_last"] is None
    assert results["summary"]["centroid_px_last"] is None
    assert "**- px**" in (tmp_path / "bench" / "rollout.md").read_text()
    with pytest.raises(ValueError, match="no start in \\[90\\] leaves 4 frames to predict"):
        run("late", (90,))
