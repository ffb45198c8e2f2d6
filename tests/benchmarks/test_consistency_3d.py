"""`cosmos-sim bench 3d`: MuJoCo's own video scores at the reference and shuffled or frozen videos at
the floor; every bad input is reported against its scenario and seed while the rest of the suite is
scored; exported conditioning round-trips; the reports are written."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from cosmos_sim.benchmarks.consistency_3d import (
    FROZEN,
    REFERENCE,
    SHUFFLED,
    FrozenSource,
    ReferenceSource,
    ShuffledSource,
    build_ground_truth,
    camera_commands,
    evaluate_source,
    export_consistency_3d_cases,
    run_consistency_3d_benchmark,
)
from cosmos_sim.benchmarks.video_models import (
    CallableSource,
    FolderSource,
    TokenizerRoundTripSource,
    WorldModelSource,
    case_video_path,
)
from cosmos_sim.cli import main
from cosmos_sim.data.video_io import decode_video, encode_video
from cosmos_sim.tokenizers import build_tokenizer, preset
from cosmos_sim.tokenizers.checkpoint import save_tokenizer
from cosmos_sim.world_models.diffusion import DiffusionWorldModelConfig, LatentDiffusionModel
from cosmos_sim.world_models.diffusion.checkpoint import save_world_model, tokenizer_fingerprint

# A short suite: both scenarios, one seed each, 8 predicted frames (8 scored pairs per case).
SCENARIOS = ("CameraOrbit-v0", "CameraOrbit-v0-randomized")
SEEDS = [50_000]
HORIZON = 8


@pytest.fixture(scope="module")
def truths():
    return build_ground_truth(SCENARIOS, SEEDS, context_frames=5, horizon=HORIZON)


@pytest.fixture(scope="module")
def reference(truths):
    return evaluate_source(ReferenceSource(truths), truths)


def test_ground_truth_is_deterministic_and_follows_the_commands(truths):
    again = build_ground_truth(SCENARIOS, SEEDS, context_frames=5, horizon=HORIZON)
    for a, b in zip(truths, again, strict=True):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.extrinsics, b.extrinsics)
    nominal, randomized = truths
    assert nominal.frames.shape == (5 + HORIZON, 64, 64, 3) and nominal.depth.shape == (5 + HORIZON, 64, 64)
    assert nominal.case.context.shape == (5, 64, 64, 3) and nominal.case.fps == 20.0
    assert nominal.extrinsics.shape == (5 + HORIZON, 4, 4) and nominal.intrinsics.shape == (3, 3)
    # One command per env step, held for its 4 frames; the orbit keeps one direction.
    commands = camera_commands(50_000, 3)
    np.testing.assert_array_equal(nominal.case.actions, np.repeat(commands, 4, axis=0))
    assert np.all(np.abs(commands[:, 0]) >= 0.5) and len(np.unique(np.sign(commands[:, 0]))) == 1
    # The camera moves every frame (so every scored pair has a baseline), in both scenes.
    for truth in truths:
        steps = np.linalg.norm(np.diff(truth.extrinsics[:, :3, 3], axis=0), axis=1)
        assert steps.min() > 0.01, steps
    assert np.abs(randomized.frames.astype(int) - nominal.frames).mean() > 10  # another scene


def test_mujoco_scores_at_the_reference_and_shuffled_or_frozen_videos_at_the_floor(truths, reference):
    shuffled = evaluate_source(ShuffledSource(truths), truths)
    frozen = evaluate_source(FrozenSource(truths), truths)
    for scenario in SCENARIOS:
        ref, shuf, still = (row["scenarios"][scenario] for row in (reference, shuffled, frozen))
        assert ref["pose_success"] >= 0.875 and ref["no_estimate"] == 0.0, ref
        assert ref["rotation_error_deg"] < 1.5 and ref["translation_error_deg"] < 5.0
        assert ref["sampson_calibrated_px"] < 0.15 and ref["sampson_fitted_px"] < 0.15
        assert ref["depth_distance_mm"] < 12.0 and ref["depth_fitness"] > 0.7
        for floor in (shuf, still):
            assert floor["pose_success"] <= 0.25, floor
            assert floor["sampson_calibrated_px"] > 5 * ref["sampson_calibrated_px"]
            assert floor["depth_distance_mm"] > 2 * ref["depth_distance_mm"]
        assert still["no_estimate"] > 0.5  # a still camera has no translation to estimate
    assert reference["errors"] == shuffled["errors"] == frozen["errors"] == []
    assert reference["name"] == REFERENCE and shuffled["name"] == SHUFFLED and frozen["name"] == FROZEN


def test_a_callable_returning_the_truth_scores_exactly_the_reference_without_depth(truths, reference):
    by_context = {t.case.context.tobytes(): t for t in truths}

    def oracle(context, actions):
        truth = by_context[context[0].tobytes()]
        return truth.frames[None, 5:].copy()

    row = evaluate_source(CallableSource(oracle, name="oracle"), truths)
    assert row["errors"] == [] and not row["depth"] and reference["depth"]
    for scenario in SCENARIOS:
        ours, theirs = row["scenarios"][scenario], reference["scenarios"][scenario]
        for key in ("pose_success", "rotation_error_deg", "sampson_fitted_px", "sampson_calibrated_px"):
            assert ours[key] == theirs[key], key  # deterministic: the same frames score the same
        assert np.isnan(ours["depth_distance_mm"])  # no depth from a plain video: n/a, not zero
        assert np.isfinite(theirs["depth_distance_mm"])


def test_callable_with_wrong_shape_or_dtype_is_an_error_of_its_case(truths):
    def short_for_randomized(context, actions):
        horizon = actions.shape[1] - context.shape[1] + 1
        frames = np.repeat(context[:, -1:], horizon, axis=1)
        return frames[:, :-1] if np.array_equal(context[0], truths[1].case.context) else frames

    row = evaluate_source(CallableSource(short_for_randomized, name="short"), truths)
    assert row["scenarios"]["CameraOrbit-v0"]["cases"] == 1
    randomized = row["scenarios"]["CameraOrbit-v0-randomized"]
    assert randomized["cases"] == 0 and randomized["errors"] == 1
    assert "CameraOrbit-v0-randomized/seed_50000" in randomized["error"]
    assert "shape (8, 64, 64, 3)" in randomized["error"] and "(7, 64, 64, 3)" in randomized["error"]
    assert row["overall"]["pose_success"] == row["scenarios"]["CameraOrbit-v0"]["pose_success"]

    floats = evaluate_source(CallableSource(lambda c, a: np.zeros((1, HORIZON, 64, 64, 3)), "f"), truths)
    assert [e["scenario"] for e in floats["errors"]] == list(SCENARIOS) and floats["overall"] is None
    assert "must be uint8 (0..255), got float64" in floats["errors"][0]["error"]


def test_a_depth_source_with_wrong_depth_is_an_error_of_its_case(truths):
    class FlatDepth(ReferenceSource):
        name = "flat depth"

        def predict_depth(self, case):
            return np.ones((case.horizon, 64), np.float32)

    row = evaluate_source(FlatDepth(truths), truths)
    assert row["overall"] is None and len(row["errors"]) == 2
    assert "CameraOrbit-v0/seed_50000: depth must be a float array (8, 64, 64)" in row["errors"][0]["error"]
    assert "got float32 (8, 64)" in row["errors"][0]["error"]

    class BrokenDepth(ReferenceSource):
        name = "broken depth"

        def predict_depth(self, case):
            raise KeyError("depth")

    row = evaluate_source(BrokenDepth(truths), truths)
    assert len(row["errors"]) == 2
    assert (
        "broken depth: CameraOrbit-v0/seed_50000: the model's depth raised KeyError"
        in row["errors"][0]["error"]
    )


def _write(path, frames, fps=20.0):
    encode_video(path, frames, fps=fps, pix_fmt="yuv444p", crf=0)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("missing", "no video at"),
        ("length", "must have shape (8, 64, 64, 3) (horizon, H, W, 3), got (6, 64, 64, 3)"),
        ("size", "must have shape (8, 64, 64, 3) (horizon, H, W, 3), got (8, 32, 32, 3)"),
        ("fps", "runs at 10 fps, expected 20 fps"),
    ],
)
def test_folder_with_a_bad_scenario_is_reported_and_the_rest_scored(
    tmp_path, truths, reference, bad, message
):
    good, broken = truths
    _write(case_video_path(tmp_path, good.case), good.frames[5:])
    path = case_video_path(tmp_path, broken.case)
    if bad == "length":
        _write(path, broken.frames[5:11])
    elif bad == "size":
        _write(path, broken.frames[5:, ::2, ::2])
    elif bad == "fps":
        _write(path, broken.frames[5:], fps=10.0)
    row = evaluate_source(FolderSource(tmp_path, name="elsewhere"), truths)
    (error,) = row["errors"]
    assert error["scenario"] == "CameraOrbit-v0-randomized" and message in error["error"], error
    assert "CameraOrbit-v0-randomized/seed_50000" in error["error"]
    # The near-lossless truth scores at the reference, and alone makes the overall row.
    nominal = row["scenarios"]["CameraOrbit-v0"]
    assert nominal["cases"] == 1 and nominal["pose_success"] >= 0.875
    assert (
        nominal["sampson_calibrated_px"]
        < 1.5 * reference["scenarios"]["CameraOrbit-v0"]["sampson_calibrated_px"]
    )
    assert row["overall"]["pose_success"] == nominal["pose_success"]


def test_exported_conditioning_round_trips_through_a_model_elsewhere(tmp_path, truths):
    export_consistency_3d_cases(tmp_path, scenarios=SCENARIOS, seeds=SEEDS, horizon=HORIZON)
    for truth in truths:  # the "model": read the exported context and commands, freeze the last frame
        base = tmp_path / truth.case.scenario
        meta = json.loads((base / "seed_50000.json").read_text())
        context = decode_video(base / "seed_50000_context.mp4")
        assert np.abs(context.astype(int) - truth.case.context).max() <= 2  # near-lossless
        np.testing.assert_allclose(meta["actions"], truth.case.actions)
        assert meta["horizon"] == HORIZON and meta["fps"] == 20.0
        _write(tmp_path / meta["prediction"], np.repeat(context[-1:], meta["horizon"], axis=0))
    elsewhere = evaluate_source(FolderSource(tmp_path), truths)
    assert elsewhere["errors"] == []
    for scenario in SCENARIOS:
        assert elsewhere["scenarios"][scenario]["pose_success"] <= 0.25  # frozen: at the floor


def test_world_model_checkpoints_are_scored_or_their_mismatch_reported(
    tmp_path, truths, save_tiny_world_model
):
    # The session fixture's PushBlock model takes 2-dim actions: every case is an error saying so.
    pushblock = WorldModelSource(save_tiny_world_model(tmp_path / "pushblock", "cosmos_sim/PushBlock-v0"))
    row = evaluate_source(pushblock, truths[:1])
    assert row["overall"] is None and "takes 2-dim actions, the case has 3" in row["errors"][0]["error"]
    # An untrained camera model (3-dim commands): its frames are scored, and its camera does not
    # follow the commands.
    torch.manual_seed(0)
    tok_config = preset("CV4x8x8", channels=8, channels_mult=(1, 2), num_res_blocks=1, attn_resolutions=())
    tok_dir = save_tokenizer(build_tokenizer(tok_config), tmp_path / "tok")
    config = DiffusionWorldModelConfig(
        dim=32, depth=1, heads=2, adaln_rank=4, window=3, action_dim=3, task="cosmos_sim/CameraOrbit-v0"
    )
    config = dataclasses.replace(config, tokenizer=tokenizer_fingerprint(tok_dir))
    orbit = WorldModelSource(
        save_world_model(LatentDiffusionModel(config), tmp_path / "wfm", tokenizer_dir=tok_dir)
    )
    row = evaluate_source(orbit, truths[:1])
    assert row["errors"] == [] and row["scenarios"]["CameraOrbit-v0"]["cases"] == 1
    assert row["overall"]["pose_success"] <= 0.25 and np.isnan(row["overall"]["depth_distance_mm"])
    # Its tokenizer's round trip of MuJoCo's clip, the row the benchmark adds after a checkpoint.
    round_trip = TokenizerRoundTripSource(orbit, {t.case.key: t.frames for t in truths[:1]})
    row = evaluate_source(round_trip, truths[:1])
    assert row["errors"] == [] and row["scenarios"]["CameraOrbit-v0"]["cases"] == 1
    assert round_trip.name.endswith(": tokenizer round trip")


def test_benchmark_writes_its_reports(tmp_path, capsys):
    def wrong_dtype(context, actions):
        return np.zeros((1, HORIZON, 64, 64, 3), np.float32)

    report = run_consistency_3d_benchmark(
        tmp_path,
        sources=[wrong_dtype],
        checkpoints=[],
        scenarios=SCENARIOS[:1],
        seeds=SEEDS,
        horizon=HORIZON,
        progress=False,
    )
    assert [row["name"] for row in report["rows"]] == [REFERENCE, "wrong_dtype", SHUFFLED, FROZEN]
    saved = json.loads((tmp_path / "consistency_3d.json").read_text())
    assert saved["rows"][0]["overall"]["pose_success"] >= 0.875
    assert saved["rows"][1]["overall"] is None and len(saved["rows"][1]["errors"]) == 1
    assert len(saved["rows"][2]["overall"]["curves"]["sampson_calibrated_px"]) == HORIZON
    assert saved["rotation_threshold_deg"] == 3.0 and saved["translation_threshold_deg"] == 10.0
    markdown = (tmp_path / "consistency_3d.md").read_text()
    assert "## CameraOrbit-v0" in markdown and "## Errors (1 cases" in markdown
    assert "| wrong_dtype | error |" in markdown and "| reference: MuJoCo | " in markdown
    assert (tmp_path / "consistency_3d.png").stat().st_size > 10_000
    videos = sorted(p.name for p in (tmp_path / "videos").iterdir())
    assert videos == ["floor_frozen_last_frame.mp4", "floor_shuffled_frames.mp4", "reference_MuJoCo.mp4"]
    video = decode_video(tmp_path / "videos" / "reference_MuJoCo.mp4")
    assert video.shape == (5 + HORIZON, 3 * 64, 2 * 3 * 64, 3)  # truth | prediction at 3x
    assert "| floor: frozen last frame |" in capsys.readouterr().out


def test_cli_refuses_bad_options(tmp_path, capsys):
    assert main(["bench", "3d", "--export", str(tmp_path), "--checkpoint", str(tmp_path)]) == 2
    assert main(["bench", "3d", "--data-root", str(tmp_path)]) == 2
    assert main(["bench", "3d", "--predictions", str(tmp_path / "nowhere")]) == 2
    assert main(["bench", "3d", "--checkpoint", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no folder" in err and "no world model at" in err
