"""`cosmos-sim bench physics`: truth at the ceiling, a frozen video near the floor, every bad input
reported against its scenario while the rest of the suite is scored, and the reports."""

from __future__ import annotations

import dataclasses
import json
from contextlib import chdir

import numpy as np
import pytest
import torch

from cosmos_sim.benchmarks.physics_alignment import (
    CEILING,
    FLOOR,
    CopyLastFrameSource,
    PerturbedSimulationSource,
    SimulationSource,
    build_ground_truth,
    evaluate_source,
    export_physics_cases,
    physical_variances,
    run_physics_alignment_benchmark,
)
from cosmos_sim.benchmarks.video_models import (
    CallableSource,
    FolderSource,
    TokenizerRoundTripSource,
    WorldModelSource,
    _chroma_subsampled,
    case_video_path,
    resolve_sources,
)
from cosmos_sim.cli import main
from cosmos_sim.data.video_io import decode_video, encode_video
from cosmos_sim.tokenizers import build_tokenizer, preset
from cosmos_sim.tokenizers.checkpoint import save_tokenizer
from cosmos_sim.world_models.diffusion import DiffusionWorldModelConfig, LatentDiffusionModel
from cosmos_sim.world_models.diffusion.checkpoint import save_world_model, tokenizer_fingerprint

# A short suite: two scenarios with motion through the whole horizon, one seed each.
SCENARIOS = ("Physics-FreeFall-v0", "Physics-Collision-v0")
SEEDS = [40_000]
HORIZON = 8


@pytest.fixture(scope="module")
def truths():
    return build_ground_truth(SCENARIOS, SEEDS, context_frames=5, horizon=HORIZON)


@pytest.fixture(scope="module")
def variances(truths):
    return physical_variances(truths)


def _scores(row) -> dict[str, float]:
    return {name: entry["physics_iq"] for name, entry in row["scenarios"].items()}


def test_ground_truth_is_deterministic_and_shaped(truths):
    again = build_ground_truth(SCENARIOS, SEEDS, context_frames=5, horizon=HORIZON)
    for a, b in zip(truths, again, strict=True):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.perturbed, b.perturbed)
    truth = truths[0]
    assert truth.case.context.shape == (5, 64, 64, 3) and truth.frames.shape == (HORIZON, 64, 64, 3)
    assert truth.case.actions.shape == (5 - 1 + HORIZON, 1) and truth.case.fps == 25.0
    assert truth.centres.shape == (HORIZON, 3, 3)  # ball, cube, can
    assert not np.array_equal(truth.perturbed, truth.frames)  # the perturbation shows, barely
    assert np.abs(truth.perturbed.astype(int) - truth.frames).mean() < 1.0


def test_truth_scores_at_the_ceiling_and_a_frozen_video_near_the_floor(truths, variances):
    truth = evaluate_source(SimulationSource(0.0, "truth"), truths, variances)
    ceiling = evaluate_source(PerturbedSimulationSource(truths), truths, variances)
    frozen = evaluate_source(CopyLastFrameSource(), truths, variances)
    for scenario in SCENARIOS:
        exact = truth["scenarios"][scenario]
        assert exact["physics_iq"] == 100.0 and exact["psnr"] == 100.0 and exact["mask_iou"] == 1.0
        assert (
            exact["centroid_px"] == 0.0 and exact["vanished"] == exact["appeared"] == exact["in_floor"] == 0
        )
        assert ceiling["scenarios"][scenario]["physics_iq"] == pytest.approx(100.0)
        assert ceiling["scenarios"][scenario]["spatiotemporal_iou"] < 1.0  # physics is not exactly itself
        still = frozen["scenarios"][scenario]
        assert still["physics_iq"] < 20.0, still["physics_iq"]
        assert still["spatial_iou"] == 0.0  # nothing moves: no overlap with the truth's motion
        assert still["centroid_px"] > 2.0 and still["psnr"] < exact["psnr"] - 40
    assert truth["overall"]["physics_iq"] == 100.0 and frozen["overall"]["physics_iq"] < 20.0
    assert truth["errors"] == frozen["errors"] == []


def test_callable_with_wrong_shape_or_dtype_is_an_error_of_its_scenario(truths, variances):
    def predict(context, actions):
        # Right for free fall (the last frame repeated); for collision one frame short, then float.
        horizon = actions.shape[1] - context.shape[1] + 1
        frames = np.repeat(context[:, -1:], horizon, axis=1)
        if np.array_equal(context[0], truths[1].case.context):
            return frames[:, :-1]
        return frames

    row = evaluate_source(CallableSource(predict, name="lazy"), truths, variances)
    assert row["scenarios"]["Physics-FreeFall-v0"]["cases"] == 1
    collision = row["scenarios"]["Physics-Collision-v0"]
    assert collision["cases"] == 0 and collision["errors"] == 1
    assert "Physics-Collision-v0/seed_40000" in collision["error"]
    assert "shape (8, 64, 64, 3)" in collision["error"] and "(7, 64, 64, 3)" in collision["error"]
    assert row["overall"]["physics_iq"] == row["scenarios"]["Physics-FreeFall-v0"]["physics_iq"]

    floats = evaluate_source(
        CallableSource(lambda c, a: np.zeros((1, HORIZON, 64, 64, 3)), "f"), truths, variances
    )
    assert [e["scenario"] for e in floats["errors"]] == list(SCENARIOS) and floats["overall"] is None
    assert "must be uint8 (0..255), got float64" in floats["errors"][0]["error"]


def test_a_model_that_raises_writes_in_place_or_returns_views_cannot_end_the_suite_or_touch_the_truth(
    truths, variances
):
    before = [(t.case.context.copy(), t.frames.copy()) for t in truths]

    def vandal(context, actions):
        # Valid frames as a negative-stride view (a BGR <-> RGB flip), then the input zeroed in place.
        frames = np.repeat(context[:, -1:, :, :, ::-1], actions.shape[1] - context.shape[1] + 1, axis=1)
        context[...] = 0
        actions[...] = np.nan
        return frames[..., ::-1]

    def boom(context, actions):
        if np.array_equal(context[0], truths[1].case.context):
            raise RuntimeError("CUDA out of memory")
        return torch.from_numpy(np.repeat(context[:, -1:], HORIZON, axis=1)).bfloat16()

    vandalized = evaluate_source(CallableSource(vandal, "vandal"), truths, variances)
    frozen = evaluate_source(CopyLastFrameSource(), truths, variances)
    assert vandalized["errors"] == [] and _scores(vandalized) == _scores(frozen)
    for truth, (context, frames) in zip(truths, before, strict=True):
        np.testing.assert_array_equal(truth.case.context, context)
        np.testing.assert_array_equal(truth.frames, frames)

    row = evaluate_source(CallableSource(boom, "boom"), truths, variances)
    free_fall, collision = (e["error"] for e in row["errors"])
    assert (
        "boom: Physics-FreeFall-v0/seed_40000: prediction must be uint8 (0..255), got torch.bfloat16"
        in free_fall
    )
    assert "Physics-Collision-v0/seed_40000: the model raised RuntimeError: CUDA out of memory" in collision


def test_models_to_score_are_named_apart_or_told_how_to_be(tmp_path):
    for run in ("a", "b"):
        (tmp_path / run / "preds").mkdir(parents=True)
    (tmp_path / "c").mkdir()
    with chdir(tmp_path / "c"):
        named = resolve_sources(
            np.zeros_like,  # one callable, given alone
            [],
            [tmp_path / "a" / "preds", tmp_path / "b" / "preds", "."],
            default_checkpoint=tmp_path,
            reserved=["floor"],
        )
    assert [s.name for s in named] == ["zeros_like", "a/preds", "b/preds", f"{tmp_path.name}/c"]
    with pytest.raises(
        ValueError, match=r"got \['floor'\]; name callables with CallableSource\(fn, name=...\)"
    ):
        resolve_sources(
            [CallableSource(np.zeros_like, "floor")], [], [], default_checkpoint=tmp_path, reserved=["floor"]
        )


def test_chroma_subsampling_is_read_from_the_pixel_format():
    subsampled = ("yuv420p", "yuvj422p", "nv12", "nv20le", "p010le", "y210le")
    assert all(_chroma_subsampled(f, 64, 64) for f in subsampled)
    assert not any(_chroma_subsampled(f, 64, 64) for f in ("yuv444p", "yuv444p10le", "rgb24", "gbrp", "bgr0"))


def _write(path, frames, fps=25.0, pix_fmt="yuv444p"):
    encode_video(path, frames, fps=fps, pix_fmt=pix_fmt, crf=0)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("missing", "no video at"),
        ("length", "must have shape (8, 64, 64, 3) (horizon, H, W, 3), got (6, 64, 64, 3)"),
        ("size", "must have shape (8, 64, 64, 3) (horizon, H, W, 3), got (8, 32, 32, 3)"),
        ("fps", "runs at 10 fps, expected 25 fps"),
        ("yuv420p", "is yuv420p; chroma subsampling blurs the small coloured objects"),
    ],
)
def test_folder_with_a_bad_scenario_is_reported_and_the_rest_scored(
    tmp_path, truths, variances, bad, message
):
    good, broken = truths  # free fall right, collision wrong
    _write(case_video_path(tmp_path, good.case), good.frames)
    path = case_video_path(tmp_path, broken.case)
    if bad == "length":
        _write(path, broken.frames[:6])
    elif bad == "size":
        _write(path, broken.frames[:, ::2, ::2])
    elif bad == "fps":
        _write(path, broken.frames, fps=10.0)
    elif bad == "yuv420p":
        _write(path, broken.frames, pix_fmt="yuv420p")
    row = evaluate_source(FolderSource(tmp_path, name="elsewhere"), truths, variances)
    (error,) = row["errors"]
    assert error["scenario"] == "Physics-Collision-v0" and message in error["error"], error
    assert "Physics-Collision-v0/seed_40000" in error["error"]
    # The lossless truth scores at the ceiling (up to YUV rounding), counted in the overall row.
    free_fall = row["scenarios"]["Physics-FreeFall-v0"]
    assert free_fall["cases"] == 1 and free_fall["physics_iq"] > 95.0
    assert row["overall"]["physics_iq"] == free_fall["physics_iq"]


def test_exported_conditioning_round_trips_through_a_model_elsewhere(tmp_path, truths, variances):
    export_physics_cases(tmp_path, scenarios=SCENARIOS, seeds=SEEDS, horizon=HORIZON)
    for truth in truths:  # the "model": read the exported context, repeat its last frame
        base = tmp_path / truth.case.scenario
        meta = json.loads((base / "seed_40000.json").read_text())
        context = decode_video(base / "seed_40000_context.mp4")
        assert np.abs(context.astype(int) - truth.case.context).max() <= 2  # near-lossless
        assert len(meta["actions"]) == 5 - 1 + HORIZON and meta["horizon"] == HORIZON
        _write(tmp_path / meta["prediction"], np.repeat(context[-1:], meta["horizon"], axis=0))
    elsewhere = evaluate_source(FolderSource(tmp_path), truths, variances)
    here = evaluate_source(CopyLastFrameSource(), truths, variances)
    assert elsewhere["errors"] == []
    for scenario in SCENARIOS:
        for key in ("physics_iq", "spatial_iou", "mask_iou"):
            assert elsewhere["scenarios"][scenario][key] == pytest.approx(
                here["scenarios"][scenario][key], abs=0.02
            )


def test_world_model_checkpoints_are_scored_or_their_mismatch_reported(
    tmp_path, truths, variances, save_tiny_world_model
):
    # The session fixture's model takes PushBlock's 2-dim actions: every case is an error that says so.
    two_dim = WorldModelSource(save_tiny_world_model(tmp_path / "pushblock", "cosmos_sim/PushBlock-v0"))
    row = evaluate_source(two_dim, truths, variances)
    assert row["overall"] is None and len(row["errors"]) == len(truths)
    assert "takes 2-dim actions, the case has 1" in row["errors"][0]["error"]
    # A passive-scene model (1-dim no-op actions), untrained: scored, with finite metrics.
    torch.manual_seed(0)
    tok_config = preset("CV4x8x8", channels=8, channels_mult=(1, 2), num_res_blocks=1, attn_resolutions=())
    tok_dir = save_tokenizer(build_tokenizer(tok_config), tmp_path / "tok")
    config = DiffusionWorldModelConfig(
        dim=32, depth=1, heads=2, adaln_rank=4, window=3, action_dim=1, task="cosmos_sim/Physics-FreeFall-v0"
    )
    config = dataclasses.replace(config, tokenizer=tokenizer_fingerprint(tok_dir))
    checkpoint = save_world_model(LatentDiffusionModel(config), tmp_path / "wfm", tokenizer_dir=tok_dir)
    model = WorldModelSource(checkpoint)
    clips = {t.case.key: np.concatenate([t.case.context, t.frames]) for t in truths}
    for source in (model, TokenizerRoundTripSource(model, clips)):
        row = evaluate_source(source, truths, variances)
        assert row["errors"] == [] and all(s["cases"] == 1 for s in row["scenarios"].values())
        assert 0.0 <= row["overall"]["physics_iq"] <= 100.0 and np.isfinite(row["overall"]["psnr"])
    # A clip that is not the case's context followed by its future (here: the future alone) is refused.
    future_only = TokenizerRoundTripSource(model, {t.case.key: t.frames for t in truths})
    row = evaluate_source(future_only, truths, variances)
    assert len(row["errors"]) == len(truths) and "context frames and then" in row["errors"][0]["error"]
    round_trip = evaluate_source(TokenizerRoundTripSource(two_dim, clips), truths, variances)
    assert (
        len(round_trip["errors"]) == len(truths)
        and "A=2), got (1, 12, 1)" in round_trip["errors"][0]["error"]
    )


def test_benchmark_writes_its_reports(tmp_path, capsys):
    def wrong_dtype(context, actions):
        return np.zeros((1, HORIZON, 64, 64, 3), np.float32)

    report = run_physics_alignment_benchmark(
        tmp_path,
        sources=[wrong_dtype],
        checkpoints=[],
        scenarios=SCENARIOS,
        seeds=SEEDS,
        horizon=HORIZON,
        progress=False,
    )
    assert [row["name"] for row in report["rows"]] == [CEILING, "wrong_dtype", FLOOR]
    assert report["ceiling_above_floor"] == {s: True for s in SCENARIOS}
    saved = json.loads((tmp_path / "physics_alignment.json").read_text())
    assert saved["rows"][0]["overall"]["physics_iq"] == 100.0
    assert len(saved["rows"][1]["errors"]) == 2 and saved["rows"][1]["overall"] is None
    assert len(saved["rows"][2]["overall"]["curves"]["psnr"]) == HORIZON
    markdown = (tmp_path / "physics_alignment.md").read_text()
    assert all(f"## {s}" in markdown for s in SCENARIOS) and "## Errors (2 cases" in markdown
    assert "| wrong_dtype | error |" in markdown
    assert (tmp_path / "physics_alignment.png").stat().st_size > 10_000
    # Videos of the rows that produced frames: truth | prediction | motion, 3x upscaled, context included.
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == [
        "ceiling_perturbed_re-simulation.mp4",
        "floor_copy_last_frame.mp4",
    ]
    assert "| floor: copy last frame |" in capsys.readouterr().out


def test_cli_exports_the_conditioning_and_refuses_bad_options(tmp_path, capsys):
    assert main(["bench", "physics", "--export", str(tmp_path / "cases"), "--quick"]) == 0
    index = json.loads((tmp_path / "cases" / "cases.json").read_text())
    assert len(index) == 7 * 2 and {"scenario": "Physics-Toppling-v0", "seed": 40_001} in index
    meta = json.loads((tmp_path / "cases" / "Physics-Toppling-v0" / "seed_40001.json").read_text())
    assert (meta["context_frames"], meta["horizon"], meta["fps"]) == (5, 16, 25.0)
    assert main(["bench", "physics", "--export", str(tmp_path), "--checkpoint", str(tmp_path)]) == 2
    assert main(["bench", "physics", "--data-root", str(tmp_path)]) == 2
    assert main(["bench", "physics", "--predictions", str(tmp_path / "nowhere")]) == 2
    assert "no folder" in capsys.readouterr().err
    assert main(["bench", "physics", "--export", str(tmp_path / "more"), "--out", str(tmp_path)]) == 2
    assert "--out has no effect" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("")
    assert main(["bench", "physics", "--export", str(tmp_path / "a_file")]) == 2  # before simulating
    assert "exists and is not a folder" in capsys.readouterr().err
    for suite in ("tokenizer", "rollout", "speed", "planning"):
        assert main(["bench", suite, "--predictions", str(tmp_path), "--out", str(tmp_path / suite)]) == 2
        assert "are options of `bench physics` and `bench 3d`" in capsys.readouterr().err
        assert not (tmp_path / suite).exists()
