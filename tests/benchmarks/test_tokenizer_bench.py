"""`cosmos-sim bench tokenizer`: metrics, the bit budget, the H.264 bisection, and an end-to-end quick run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from cosmos_sim.benchmarks.tokenizer import (
    PSNR_CAP_DB,
    clip_quality,
    h264_at_budget,
    h264_encode,
    h264_payload_bits,
    heldout_clips,
    run_tokenizer_benchmark,
    tokenizer_bits,
)
from cosmos_sim.cli import main
from cosmos_sim.tokenizers import build_tokenizer, preset
from cosmos_sim.tokenizers.checkpoint import save_tokenizer

SCENE = {"env_id": "cosmos_sim/PushBlock-v0", "episodes": 1, "policy": "mix", "heldout_episodes": 1}


def _tiny(name: str):
    """Preset ``name`` at 8 channels (tests/tokenizers/conftest.py's tiny configs), seeded."""
    torch.manual_seed(0)
    fields = dict(
        channels=8, channels_mult=(1, 2, 2), num_res_blocks=1, resolution=64, attn_resolutions=(16,)
    )
    return build_tokenizer(preset(name, **fields)).eval()


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """One quick CLI run over an untrained DV and CV tokenizer, on one held-out PushBlock episode."""
    root = tmp_path_factory.mktemp("tokenizer_bench")
    checkpoints = [
        save_tokenizer(_tiny(name), root / name.lower(), metadata={"data": {"scenes": [SCENE]}})
        for name in ("DV4x8x8", "CV4x8x8")
    ]
    out, data_root = root / "out", root / "data"
    argv = ["bench", "tokenizer", "--out", str(out), "--data-root", str(data_root), "--quick"]
    for checkpoint in checkpoints:
        argv += ["--checkpoint", str(checkpoint)]
    # One thread keeps the run's time predictable on a busy 2-core machine (oversubscribed OpenMP threads
    # slowed it ~20x there); the benchmark uses and records whatever the process is given.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    return {"out": out, "data_root": data_root, "checkpoints": checkpoints}


def _moving_square(frames: int = 17, size: int = 64) -> np.ndarray:
    """uint8 (T, H, W, 3): a coloured square sliding over a gradient, something H.264 must spend bits on."""
    clip = np.zeros((frames, size, size, 3), dtype=np.uint8)
    clip[..., 0] = np.linspace(0, 200, size, dtype=np.uint8)[None, None, :]
    for t in range(frames):
        clip[t, 20:36, 2 + 2 * t : 18 + 2 * t] = (30, 220, 90)
    return clip


def test_quick_run_writes_json_markdown_and_samples(bench_run):
    out = bench_run["out"]
    results = json.loads((out / "tokenizer.json").read_text())
    assert [m["kind"] for m in results["models"]] == ["DV", "CV"]
    for model in results["models"]:
        (scene,) = model["scenes"]
        assert scene["scene"] == "PushBlock-v0" and scene["clips"] == 2 and scene["clip_frames"] == 17
        for key in ("psnr", "ssim", "flicker", "h264_psnr", "h264_ssim", "h264_flicker", "psnr_gain_db"):
            assert math.isfinite(scene[key]), key
        assert scene["psnr_gain_db"] == pytest.approx(scene["psnr"] - scene["h264_psnr"])
        # H.264 stays within the tokenizer's bits unless it says otherwise.
        assert scene["h264_over_budget"] or scene["h264_max_bpp"] <= scene["bpp"]
        assert model["speed"]["encode_fps"] > 0 and model["speed"]["encode_decode_fps"] > 0
        assert model["memory"]["peak_rss_mb"] >= model["memory"]["baseline_rss_mb"] > 0
    # DV: 17 frames -> 5 latent frames of 8x8 tokens, log2(8*8*8*5*5*5) bits each, over 17*64*64 pixels.
    dv, cv = (m["scenes"][0]["bpp"] for m in results["models"])
    assert dv == pytest.approx(5 * 8 * 8 * math.log2(64000) / (17 * 64 * 64))
    assert cv == pytest.approx(5 * 8 * 8 * 16 * 16 / (17 * 64 * 64))  # 16 float16 channels
    # DV's stored tokens: lossless, header included, never above 2 bytes a token; H.264 is also run at
    # each clip's stream bits. CV has no token stream.
    dv_scene, cv_scene = (m["scenes"][0] for m in results["models"])
    assert 0 < dv_scene["stream_bpp"] <= (11 * 8 + 5 * 8 * 8 * 16) / (17 * 64 * 64)
    assert (
        dv_scene["h264_stream_over_budget_clips"] > 0 or dv_scene["h264_stream_bpp"] <= dv_scene["stream_bpp"]
    )
    assert dv_scene["psnr_gain_stream_db"] == pytest.approx(dv_scene["psnr"] - dv_scene["h264_stream_psnr"])
    assert sum(dv_scene["stream_mode_counts"].values()) == dv_scene["clips"]
    assert set(dv_scene["stream_mode_counts"]) <= {"raw", "delta_deflate", "context_range"}
    assert "stream_bpp" not in cv_scene and "stream_bpp" in results["models"][0]["overall"]
    assert results["machine"]["torch_threads"] == 1 and results["machine"]["cpu"]
    markdown = (out / "tokenizer.md").read_text()
    assert "| model | scene | PSNR | stream bpp | H.264 PSNR @bpp | gain |" in markdown
    assert "| model | scene | PSNR | SSIM | flicker | bpp | H.264 PSNR @bpp | gain |" in markdown
    assert "DV4x8x8 (dv4x8x8) | PushBlock-v0" in markdown and "encode+decode frames/s" in markdown
    with Image.open(out / "tokenizer_samples.png") as sheet:
        assert sheet.height == 2 * 3 * 128  # 2 (checkpoint, scene) blocks of 3 rows of 2x frames


def test_identical_clips_score_perfectly():
    clip = torch.from_numpy(_moving_square())[None]
    quality = clip_quality(clip, clip.clone())
    assert np.all(quality["psnr"] == PSNR_CAP_DB)  # not inf, so means and JSON stay finite
    assert np.allclose(quality["ssim"], 1.0) and np.all(quality["flicker"] == 0)


def test_known_errors_give_expected_psnr_and_flicker():
    original = torch.from_numpy(_moving_square())[None]
    assert int(original.max()) <= 245  # so that +10 never saturates
    brighter = (original.int() + 10).to(torch.uint8)
    quality = clip_quality(original, brighter)
    assert quality["psnr"] == pytest.approx(20 * math.log10(255 / 10), abs=1e-3)  # MSE = (10/255)^2
    assert quality["flicker"] == pytest.approx(0.0)  # a constant offset does not change the motion
    pulsing = original.int().clone()
    pulsing[:, 1::2] += 10  # every other frame 10 brighter: each frame-to-frame change is off by 10
    quality = clip_quality(original, pulsing.to(torch.uint8))
    assert quality["flicker"] == pytest.approx(10.0)


def test_h264_bisection_finds_the_best_crf_within_budget():
    clip = _moving_square()
    budget = 0.1 * clip[..., 0].size  # 0.1 bits per pixel
    result = h264_at_budget(clip, budget, "yuv444p")
    assert not result["over_budget"] and result["bits"] <= budget
    assert result["frames"].shape == clip.shape
    # The next better CRF does not fit: the search returned the best setting that does.
    assert result["crf"] > 0 and h264_payload_bits(h264_encode(clip, result["crf"] - 1, "yuv444p")) > budget

    starved = h264_at_budget(clip, 100, "yuv420p")
    assert starved["over_budget"] and starved["crf"] == 51 and starved["bits"] > 100


def test_dv_bits_by_hand():
    config = preset("DV8x16x16")  # 8 frames per latent frame, 16x16 pixels per token, codebook 64000
    assert tokenizer_bits(config, 17, 64, 128) == pytest.approx(3 * 4 * 8 * math.log2(64000))


def test_short_episodes_get_the_longest_clip_that_fits(bench_run):
    root = bench_run["data_root"] / "heldout" / "PushBlock-v0"  # one episode of 201 frames
    assert heldout_clips(root, 4, 3).shape == (3, 17, 64, 64, 3)
    assert heldout_clips(root, 64, 8).shape[1] == 193  # 1 + 4*64 = 257 does not fit; 1 + 3*64 does
    with pytest.raises(ValueError, match="fewer than one clip of 257"):
        heldout_clips(root, 256, 2)


def test_bad_inputs_fail_clearly(tmp_path, capsys):
    missing = tmp_path / "no_such_tokenizer"
    assert main(["bench", "tokenizer", "--checkpoint", str(missing), "--out", str(tmp_path / "o")]) == 2
    assert f"tokenizer checkpoint folder {missing} does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["bench", "tokenizer", "--checkpoint", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "config.json is missing" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing was written before the error

    checkpoint = save_tokenizer(_tiny("DV4x8x8"), tmp_path / "dv", metadata={"data": {"scenes": [SCENE]}})
    a_file = tmp_path / "results.txt"
    a_file.write_text("keep me")
    with pytest.raises(ValueError, match="is not a folder"):
        run_tokenizer_benchmark([checkpoint], a_file)
    assert a_file.read_text() == "keep me"
    with pytest.raises(ValueError, match="clips_per_scene must be an int >= 1"):
        run_tokenizer_benchmark([checkpoint], tmp_path / "o", clips_per_scene=0)
    bad_scenes = save_tokenizer(
        _tiny("DV4x8x8"), tmp_path / "bad", metadata={"data": {"scenes": [{"env": 1}]}}
    )
    with pytest.raises(ValueError, match="SceneData fields"):
        run_tokenizer_benchmark([bad_scenes], tmp_path / "o")
    # A second checkpoint without its weights stops the run before the first is benchmarked (and before
    # held-out data is recorded into --data-root).
    no_weights = save_tokenizer(_tiny("CV4x8x8"), tmp_path / "cv", metadata={"data": {"scenes": [SCENE]}})
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no tokenizer weights at .*cv/model.safetensors"):
        run_tokenizer_benchmark([checkpoint, no_weights], tmp_path / "o", data_root=tmp_path / "data")
    assert not (tmp_path / "o").exists() and not (tmp_path / "data").exists()
    # bench speed takes a world model, not a tokenizer (refused before anything is measured).
    assert main(["bench", "speed", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "s")]) == 2
    assert "is not a cosmos-sim diffusion world model config" in capsys.readouterr().err
    assert main(["bench", "speed", "--data-root", str(tmp_path)]) == 2
    assert "takes at most one --checkpoint" in capsys.readouterr().err
