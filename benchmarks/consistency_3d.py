"""``cosmos-sim bench 3d``: is a video model's camera motion 3D-consistent and the one it was commanded?

On CameraOrbit-v0 (a static textured scene, a camera moving by orbit/pitch/dolly commands; see
``envs/mujoco/camera_orbit.py``) MuJoCo renders a clip for a seeded command sequence. A model is given
the first ``CONTEXT_FRAMES`` frames and all the commands (``Case.actions``, one per frame transition)
and generates the next ``HORIZON`` frames. The *commanded poses* are the camera poses of MuJoCo's clip
for the same commands. For every predicted frame ``t`` (horizon step ``h = t - CONTEXT_FRAMES + 1``)
the pair of frames ``(t - STRIDE, t)`` of the whole video (context, then prediction) is scored:

- correspondences: dense DIS optical flow on 4x-upsampled frames, forward-backward checked
  (``cosmos_sim.metrics.correspondences``; why not SIFT: below);
- Sampson error, fitted F: median over the correspondences of their Sampson distance (px) to the
  fundamental matrix that RANSAC (OpenCV USAC_ACCURATE) fits to them: is the pair's motion a rigid
  two-view geometry at all?
- Sampson error, calibrated F: the same to the F of the known intrinsics and the commanded poses
  (kornia): is it the commanded motion?
- pose estimation: the relative rotation and translation direction estimated from the
  correspondences (essential matrix with the known intrinsics, USAC_ACCURATE, ``cv2.recoverPose``)
  against the commanded ones. A pair *succeeds* when the rotation error is below
  ``ROTATION_THRESHOLD_DEG`` (3) and the translation-direction error below
  ``TRANSLATION_THRESHOLD_DEG`` (10 degrees). A pair with too few correspondences or no estimate is
  a failure; the mean errors are over the pairs with an estimate, and the share without one is shown;
- depth consistency, where the source provides metric depth (``DepthSource``; MuJoCo's rows do,
  a video model does not and its row says n/a): both frames' depth maps lifted to world points with
  the commanded poses (open3d), the median nearest-neighbour distance between the two clouds (mm)
  and the share of points within 2 cm of the other cloud (``cosmos_sim.metrics.point_clouds``).
  Depth of context frames is MuJoCo's.

Rows: every model scored, and after a world-model checkpoint its tokenizer's round trip of MuJoCo's
clip (what the model would show if its latents matched the encoder's); the reference, MuJoCo's own
clip (with its depth); two floors, the true future frames in a random order (seeded by the case) and
the last context frame frozen (both with the matching true depth). Note that a real video of a
static scene is self-consistent whatever its order, so the floors score *well* on the fitted-F
Sampson error; that column separates only videos whose content deforms. The calibrated Sampson
error, pose success and depth consistency separate them.

A model is any ``cosmos_sim.benchmarks.video_models.VideoSource``: a Python callable
``predict(context, actions) -> frames``, a ``WorldModel`` checkpoint, or a folder of mp4 files
``<folder>/<scenario>/seed_<seed>.mp4`` written by a model running elsewhere from the conditioning
``export_consistency_3d_cases`` exports. A prediction that cannot be obtained or has the wrong form
(a missing file; wrong length, size, frame rate, shape or dtype) is reported as an error naming its
scenario and seed, excluded from the means and counted; the rest of the suite is still scored.

Decisions:

- Scenarios: ``CameraOrbit-v0`` (the nominal scene the camera world models train on) and
  ``CameraOrbit-v0-randomized`` (domain randomization: object layout, colours and textures per seed).
- ``CONTEXT_FRAMES = 5`` (1 + 4 * 1: the world models encode 1 + k*n frames, k = 4) and
  ``HORIZON = 16`` frames (4 latent steps, 0.8 s at 20 fps): the clip is 5 env steps of 4 frames.
- Commands (``camera_commands``): per env step, azimuth ``sign * U(0.5, 1)`` with one sign per seed,
  elevation and distance ``U(-1, 1)``, from ``numpy.random.default_rng(seed)``. The camera always
  keeps orbiting one way, so every scored pair has a baseline: in the default suite the camera turns
  7.9-15.4 degrees (median 11) and moves 12-36 cm between the frames of a pair. (Commands that
  reverse within a pair can leave a baseline of ~1 cm, whose translation direction no image tells.)
- ``STRIDE = 4`` frames between the two frames of a pair: on MuJoCo's own videos (table below) pose
  success at 1 / 2 / 4 / 6 / 8 frames apart is 87 / 98 / 99.5 / 94 / 61%: closer, the translation
  direction drowns in noise; farther, the flow loses track.
- Thresholds: 3 and 10 degrees are about twice the 99th percentile of the reference's errors on the
  nominal scene (1.8 and 4.6 degrees) and well below the commanded rotation within a pair (7.9-15.4
  degrees): a camera that ignores the commands, or moves at half the commanded speed, fails.
- Seeds ``SEED_START`` (50_000) onwards, ``SEEDS_PER_SCENARIO`` (16) per scenario: disjoint from the
  recorded training data (seeds 0 to a few thousand and the held-out split at 1_000_000). Everything
  is a function of the seeds (OpenCV's robust estimators are seeded), so results are deterministic
  for a given seed list.
- Means: per scenario over its scored pairs; "overall" is the mean of the scenarios.

What works at 64x64: relative poses from MuJoCo's own videos of the nominal scene, seeds
50_000-50_011, the 204 pairs 4 frames apart (``python scripts/study_3d_matching.py``; success at
3 / 10 and at 5 / 15 degrees; the randomized scenes in brackets, 3 / 10):

| correspondences (median count), estimator | success 3/10 | success 5/15 | median errors (deg) |
|---|---|---|---|
| SIFT at 1x (27), plain RANSAC | 34% (29%) | 51% | 3.3 / 12.3 |
| SIFT at 2x (56), plain RANSAC | 35% (39%) | 63% | 2.9 / 9.4 |
| SIFT at 2x (56), USAC_ACCURATE | 81% (73%) | 88% | 1.0 / 3.4 |
| DIS flow at 2x (2,880), plain RANSAC | 58% (53%) | 85% | 1.7 / 5.6 |
| DIS flow at 1x (2,310), USAC_ACCURATE | 62% (52%) | 87% | 1.8 / 5.8 |
| DIS flow at 2x (2,880), USAC_ACCURATE | 98.5% (92%) | 100% | 0.7 / 2.1 |
| **DIS flow at 4x (3,131), USAC_ACCURATE** | **99.5% (98%)** | 99.5% | 0.33 / 1.1 |

OpenCV's plain RANSAC returns the best minimal 5-point model unrefined; USAC_ACCURATE refines it
(local optimization, final least squares), which matters more than anything else here. Sparse
features stay short of 95% at 64x64 whatever the estimator, so the benchmark scores at the frames'
own size with dense correspondences; no larger render is needed.

Writes ``consistency_3d.json``, ``consistency_3d.md`` (a table overall and one per scenario),
``consistency_3d.png`` (metrics against the horizon) and ``videos/<row>.mp4`` (truth | prediction at
3x, the predicted frame tinted where its pair's correspondences land: green within 1 px of the
commanded epipolar line, red beyond; the first seed of every scenario) into the output folder, and
prints the overall table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

import cosmos_sim
import cosmos_sim.envs  # noqa: F401  (registers the scenes)
from cosmos_sim.benchmarks.machine import describe_machine
from cosmos_sim.benchmarks.report import (
    cases_cell,
    check_output_folder,
    file_name,
    jsonable,
    markdown_footer,
    nanmean,
    plot_curves,
)
from cosmos_sim.benchmarks.video_models import (
    PREDICTION_VIDEO_FORMAT,
    Case,
    PredictionError,
    VideoSource,
    call_on_copy,
    export_cases,
    predict_case,
    resolve_sources,
    with_round_trips,
)
from cosmos_sim.data.video_io import encode_video, write_bytes_atomic
from cosmos_sim.metrics.correspondences import MATCHERS, find_correspondences
from cosmos_sim.metrics.epipolar import score_two_views
from cosmos_sim.metrics.point_clouds import INLIER_DISTANCE_M, cloud_consistency, depth_point_cloud

ENV_ID = "cosmos_sim/CameraOrbit-v0"
SCENARIOS: dict[str, dict[str, Any]] = {
    "CameraOrbit-v0": {},
    "CameraOrbit-v0-randomized": {"domain_randomization": True},
}
"""Scenario name -> reset options of ``ENV_ID``."""
CONTEXT_FRAMES = 5
HORIZON = 16
STRIDE = 4
SEED_START = 50_000
SEEDS_PER_SCENARIO = 16
QUICK_SEEDS = 2
ROTATION_THRESHOLD_DEG = 3.0
TRANSLATION_THRESHOLD_DEG = 10.0
GOOD_MATCH_PX = 1.0
"""Drawn in green: a correspondence within this distance of its commanded epipolar line."""
ZOO = Path(cosmos_sim.__file__).resolve().parent / "zoo"
DEFAULT_CHECKPOINT = ZOO / "wfm_camera_orbit"
"""Camera world model scored by default, when it exists."""
REFERENCE = "reference: MuJoCo"
SHUFFLED = "floor: shuffled frames"
FROZEN = "floor: frozen last frame"
VIDEO_SCALE = 3
TINT = 0.4
"""Opacity of the correspondence tint in the sample videos."""
VIDEO_FPS = 10.0


# ---- ground truth ---------------------------------------------------------------------------------
def camera_commands(seed: int, steps: int) -> np.ndarray:
    """float32 ``(steps, 3)`` orbit/pitch/dolly commands of a seed (see the module docstring)."""
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0])
    commands = rng.uniform(-1.0, 1.0, size=(steps, 3))
    commands[:, 0] = sign * rng.uniform(0.5, 1.0, size=steps)
    return commands.astype(np.float32)


@dataclass
class OrbitTruth:
    """A case and MuJoCo's clip for it: frames, depth and the commanded camera of every frame."""

    case: Case
    frames: np.ndarray
    """uint8 (Tc + horizon, H, W, 3): the whole clip, context first."""
    depth: np.ndarray
    """float32 (Tc + horizon, H, W): metric depth along the viewing axis."""
    intrinsics: np.ndarray
    """(3, 3) OpenCV pinhole (the same for every frame)."""
    extrinsics: np.ndarray
    """(Tc + horizon, 4, 4) commanded camera-to-world poses, OpenCV axes."""

    @property
    def context_frames(self) -> int:
        return self.case.context.shape[0]


def default_seeds(count: int = SEEDS_PER_SCENARIO) -> list[int]:
    """The held-out seeds of the default suite: ``SEED_START, SEED_START + 1, ...``."""
    return list(range(SEED_START, SEED_START + count))


def _check_suite(scenarios: Sequence[str], seeds: Sequence[int], context_frames: int, horizon: int) -> None:
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown or not scenarios:
        raise ValueError(f"unknown 3D scenarios {unknown or list(scenarios)}; choose from {list(SCENARIOS)}")
    if not seeds or any(not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds!r}")
    if context_frames < STRIDE or horizon < 1:
        raise ValueError(
            f"context_frames must be >= STRIDE ({STRIDE}, so every predicted frame has a partner "
            f"{STRIDE} frames earlier) and horizon >= 1, got {context_frames} and {horizon}"
        )


def build_ground_truth(
    scenarios: Sequence[str] = tuple(SCENARIOS),
    seeds: Sequence[int] | None = None,
    *,
    context_frames: int = CONTEXT_FRAMES,
    horizon: int = HORIZON,
) -> list[OrbitTruth]:
    """Render every (scenario, seed): the ``Case`` a model gets and the truth it is scored against."""
    seeds = list(default_seeds() if seeds is None else seeds)
    _check_suite(scenarios, seeds, context_frames, horizon)
    env = gym.make(ENV_ID, return_frames=True, disable_env_checker=True).unwrapped
    k = env.frames_per_step
    transitions = context_frames - 1 + horizon
    if transitions % k:
        env.close()
        raise ValueError(
            f"context_frames - 1 + horizon must be a multiple of the env's {k} frames per step, got "
            f"{context_frames} - 1 + {horizon} = {transitions}"
        )
    truths = []
    try:
        for scenario in scenarios:
            for seed in seeds:
                _, info = env.reset(seed=int(seed), options=SCENARIOS[scenario])
                frames, depth, extrinsics = [info["frames"]], [info["depth"]], [info["extrinsics"]]
                commands = camera_commands(int(seed), transitions // k)
                for command in commands:
                    _, _, _, _, info = env.step(command)
                    frames.append(info["frames"])
                    depth.append(info["depth"])
                    extrinsics.append(info["extrinsics"])
                frames = np.concatenate(frames)  # (Tc + horizon, H, W, 3)
                case = Case(
                    scenario=scenario,
                    seed=int(seed),
                    context=frames[:context_frames],
                    actions=np.repeat(commands, k, axis=0),  # a step's command acts on each of its frames
                    horizon=horizon,
                    fps=float(env.fps),
                )
                truths.append(
                    OrbitTruth(
                        case=case,
                        frames=frames,
                        depth=np.concatenate(depth)[..., 0],
                        intrinsics=info["intrinsics"][0],
                        extrinsics=np.concatenate(extrinsics),
                    )
                )
    finally:
        env.close()
    return truths


# ---- reference rows -------------------------------------------------------------------------------
class DepthSource(VideoSource):
    """A source that also knows the metric depth of its frames, so depth consistency can be scored."""

    def predict_depth(self, case: Case) -> np.ndarray:
        """float32 ``(horizon, H, W)`` metres along the viewing axis."""
        raise NotImplementedError


class _TruthSource(DepthSource):
    """Rearranged true future frames: ``order(case)`` gives the index into the whole clip of each
    predicted frame, and its depth goes with it."""

    def __init__(self, truths: list[OrbitTruth]) -> None:
        self._truths = {truth.case.key: truth for truth in truths}

    def order(self, case: Case) -> np.ndarray:
        raise NotImplementedError

    def _truth(self, case: Case) -> OrbitTruth:
        if case.key not in self._truths:
            raise PredictionError(f"{self.name}: {case.key}: no ground truth for this case")
        return self._truths[case.key]

    def predict(self, case: Case) -> np.ndarray:
        return self._truth(case).frames[self.order(case)]

    def predict_depth(self, case: Case) -> np.ndarray:
        return self._truth(case).depth[self.order(case)]


class ReferenceSource(_TruthSource):
    """MuJoCo's own clip: the reference every model is measured against."""

    name = REFERENCE

    def order(self, case: Case) -> np.ndarray:
        tc = case.context.shape[0]
        return np.arange(tc, tc + case.horizon)


class ShuffledSource(_TruthSource):
    """A floor: the true future frames in a random order, drawn from the case's seed."""

    name = SHUFFLED

    def order(self, case: Case) -> np.ndarray:
        tc = case.context.shape[0]
        return tc + np.random.default_rng(case.seed).permutation(case.horizon)


class FrozenSource(_TruthSource):
    """A floor: the last context frame repeated; the camera ignores the commands."""

    name = FROZEN

    def order(self, case: Case) -> np.ndarray:
        return np.full(case.horizon, case.context.shape[0] - 1)


# ---- scoring --------------------------------------------------------------------------------------
PAIR_KEYS = (
    "correspondences",
    "sampson_fitted_px",
    "sampson_calibrated_px",
    "rotation_error_deg",
    "translation_error_deg",
    "estimated",
    "success",
    "depth_distance_mm",
    "depth_fitness",
)
"""Per-pair values of a case, arrays over the horizon."""


def score_prediction(
    pred: np.ndarray, truth: OrbitTruth, depth: np.ndarray | None = None, *, matcher: str = "flow"
) -> dict[str, Any]:
    """Every metric of one case's prediction (uint8 ``(horizon, H, W, 3)``; ``depth`` float
    ``(horizon, H, W)`` or None): per-pair arrays ``(horizon,)`` for ``PAIR_KEYS`` (NaN where a value is
    undefined) and, for drawing, each pair's correspondences in the predicted frame with their
    calibrated Sampson distances."""
    tc, horizon = truth.context_frames, truth.case.horizon
    # The context from the truth, not from the case: a model may have written into the case's arrays.
    video = np.concatenate([truth.frames[:tc], pred])  # (Tc + horizon, H, W, 3)
    depths = None if depth is None else np.concatenate([truth.depth[:tc], depth])
    pairs: dict[str, np.ndarray] = {key: np.full(horizon, np.nan) for key in PAIR_KEYS}
    drawn = []
    for h in range(horizon):
        b = tc + h
        a = b - STRIDE
        points_a, points_b = find_correspondences(video[a], video[b], matcher)
        two_view = score_two_views(
            points_a, points_b, truth.intrinsics, truth.extrinsics[a], truth.extrinsics[b]
        )
        pairs["correspondences"][h] = two_view.correspondences
        pairs["sampson_fitted_px"][h] = two_view.sampson_fitted_px
        pairs["sampson_calibrated_px"][h] = two_view.sampson_calibrated_px
        pairs["rotation_error_deg"][h] = two_view.rotation_error_deg
        pairs["translation_error_deg"][h] = two_view.translation_error_deg
        pairs["estimated"][h] = two_view.estimated
        pairs["success"][h] = (
            two_view.estimated
            and two_view.rotation_error_deg < ROTATION_THRESHOLD_DEG
            and two_view.translation_error_deg < TRANSLATION_THRESHOLD_DEG
        )
        drawn.append((two_view.points_b, two_view.calibrated_distances))
        if depths is not None:
            clouds = [depth_point_cloud(depths[i], truth.intrinsics, truth.extrinsics[i]) for i in (a, b)]
            consistency = cloud_consistency(*clouds)
            pairs["depth_distance_mm"][h] = consistency["median_distance_m"] * 1000
            pairs["depth_fitness"][h] = consistency["fitness"]
    return {"pairs": pairs, "drawn": drawn}


SCALAR_KEYS = (
    "pose_success",
    "rotation_error_deg",
    "translation_error_deg",
    "no_estimate",
    "sampson_fitted_px",
    "sampson_calibrated_px",
    "correspondences",
    "depth_distance_mm",
    "depth_fitness",
)
CURVE_TITLES = {
    "pose_success": "pose success",
    "rotation_error_deg": "rotation error (deg)",
    "translation_error_deg": "translation-direction error (deg)",
    "sampson_fitted_px": "Sampson error, fitted F (px)",
    "sampson_calibrated_px": "Sampson error, calibrated F (px)",
    "depth_distance_mm": "depth: median cloud distance (mm)",
}
CURVE_KEYS = tuple(CURVE_TITLES)


def _summary_of_pairs(pairs: dict[str, np.ndarray], axis) -> dict[str, Any]:
    """Means of stacked per-pair arrays ``(cases, horizon)`` over ``axis`` (None: all pairs)."""
    return {
        "pose_success": nanmean(pairs["success"], axis),
        "rotation_error_deg": nanmean(pairs["rotation_error_deg"], axis),
        "translation_error_deg": nanmean(pairs["translation_error_deg"], axis),
        "no_estimate": 1.0 - nanmean(pairs["estimated"], axis),
        "sampson_fitted_px": nanmean(pairs["sampson_fitted_px"], axis),
        "sampson_calibrated_px": nanmean(pairs["sampson_calibrated_px"], axis),
        "correspondences": nanmean(pairs["correspondences"], axis),
        "depth_distance_mm": nanmean(pairs["depth_distance_mm"], axis),
        "depth_fitness": nanmean(pairs["depth_fitness"], axis),
    }


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over every scored pair of the cases, and per horizon step (``curves``)."""
    stacked = {key: np.stack([r["pairs"][key] for r in results]) for key in PAIR_KEYS}  # (cases, horizon)
    summary = {key: float(value) for key, value in _summary_of_pairs(stacked, None).items()}
    curves = _summary_of_pairs(stacked, 0)
    summary["curves"] = {key: curves[key] for key in CURVE_KEYS}
    summary["pairs"] = int(stacked["success"].size)
    return summary


def _overall(scenario_summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of the scenarios' summaries, each scenario counted once."""
    overall: dict[str, Any] = {
        key: float(nanmean([s[key] for s in scenario_summaries])) for key in SCALAR_KEYS
    }
    overall["curves"] = {
        key: nanmean(np.stack([s["curves"][key] for s in scenario_summaries]), axis=0) for key in CURVE_KEYS
    }
    overall["pairs"] = sum(s["pairs"] for s in scenario_summaries)
    return overall


def _checked_depth(source: DepthSource, case: Case) -> np.ndarray:
    """The source's depth as float32 ``(horizon, H, W)``, or a PredictionError naming the case."""
    depth = call_on_copy(source, case, source.predict_depth, "the model's depth")
    expected = (case.horizon, *case.context.shape[1:3])
    if not isinstance(depth, np.ndarray) or depth.shape != expected or depth.dtype.kind != "f":
        found = f"{depth.dtype} {depth.shape}" if isinstance(depth, np.ndarray) else type(depth).__name__
        raise PredictionError(
            f"{source.name}: {case.key}: depth must be a float array {expected} (horizon, H, W) in metres, "
            f"got {found}"
        )
    return depth.astype(np.float32, copy=False)


def evaluate_source(
    source: VideoSource, truths: list[OrbitTruth], *, matcher: str = "flow", progress: bool = False
) -> dict[str, Any]:
    """Score ``source`` on every case: per-scenario and overall summaries, per-case results, errors."""
    cases: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    samples: dict[
        str, tuple[int, np.ndarray, list]
    ] = {}  # scenario -> (seed, prediction, drawn) of its first case
    for truth in tqdm(truths, desc=source.name, disable=not progress, leave=False):
        case = truth.case
        try:
            pred = predict_case(source, case)
            depth = _checked_depth(source, case) if isinstance(source, DepthSource) else None
        except PredictionError as error:
            errors.append({"scenario": case.scenario, "seed": case.seed, "error": str(error)})
            continue
        scored = score_prediction(pred, truth, depth, matcher=matcher)
        pairs = scored["pairs"]
        cases.append(
            {
                "scenario": case.scenario,
                "seed": case.seed,
                "pose_success": float(nanmean(pairs["success"])),
                "sampson_calibrated_px": float(nanmean(pairs["sampson_calibrated_px"])),
                "pairs": pairs,
            }
        )
        samples.setdefault(case.scenario, (case.seed, pred, scored["drawn"]))
    scenarios: dict[str, dict[str, Any]] = {}
    for scenario in dict.fromkeys(t.case.scenario for t in truths):
        scored_cases = [c for c in cases if c["scenario"] == scenario]
        failed = [e for e in errors if e["scenario"] == scenario]
        entry: dict[str, Any] = {"cases": len(scored_cases), "errors": len(failed)}
        if scored_cases:
            entry.update(_summary(scored_cases))
        else:
            entry["error"] = (
                f"no case could be scored ({len(failed)} failed); first error: {failed[0]['error']}"
            )
        scenarios[scenario] = entry
    scored_scenarios = [s for s in scenarios.values() if s["cases"]]
    return {
        "name": source.name,
        "depth": isinstance(source, DepthSource),
        "overall": _overall(scored_scenarios) if scored_scenarios else None,
        "scenarios": scenarios,
        "cases": [{k: v for k, v in c.items() if k != "pairs"} for c in cases],
        "errors": errors,
        "samples": samples,
    }


# ---- reports --------------------------------------------------------------------------------------
COLUMNS = (
    ("pose success", "pose_success", "{:.1%}"),
    ("rotation error (deg)", "rotation_error_deg", "{:.2f}"),
    ("translation dir. error (deg)", "translation_error_deg", "{:.2f}"),
    ("no estimate", "no_estimate", "{:.1%}"),
    ("Sampson, fitted F (px)", "sampson_fitted_px", "{:.3f}"),
    ("Sampson, calibrated F (px)", "sampson_calibrated_px", "{:.3f}"),
    ("calibrated / reference", "sampson_ratio", "{:.2f}x"),
    ("correspondences", "correspondences", "{:.0f}"),
    ("depth distance (mm)", "depth_distance_mm", "{:.1f}"),
    ("depth fitness", "depth_fitness", "{:.3f}"),
)


def _table(rows: list[tuple[str, dict[str, Any] | None, str]], reference: dict[str, Any] | None) -> list[str]:
    """Markdown rows ``(name, summary or None, cases column)``; ratios against ``reference``."""
    lines = [
        "| model | " + " | ".join(c[0] for c in COLUMNS) + " | cases (errors) |",
        "|---|" + "---|" * (len(COLUMNS) + 1),
    ]
    for name, summary, cases in rows:
        if summary is None:
            cells = ["error"] + ["-"] * (len(COLUMNS) - 1)
        else:
            values = dict(summary)
            values["sampson_ratio"] = (
                summary["sampson_calibrated_px"] / reference["sampson_calibrated_px"] if reference else np.nan
            )
            cells = [
                fmt.format(values[key]) if np.isfinite(values[key]) else "n/a" for _, key, fmt in COLUMNS
            ]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {cases} |")
    return lines


def _markdown(report: dict[str, Any]) -> str:
    r = report
    rows = r["rows"]
    reference = next(row for row in rows if row["name"] == REFERENCE)
    lines = [
        "# 3D consistency",
        "",
        f"{len(r['scenarios'])} CameraOrbit scenarios x {len(r['seeds'])} held-out seeds "
        f"({r['seeds'][0]}..{r['seeds'][-1]}): {r['context_frames']} conditioning frames and the camera "
        f"commands, {r['horizon']} predicted frames ({r['horizon'] / r['fps']:.2f} s at {r['fps']:g} fps). "
        f"Each predicted frame is paired with the frame {r['stride']} earlier; correspondences: {r['matcher']}. "
        f"Pose success: rotation error < {r['rotation_threshold_deg']:g} deg and translation-direction "
        f"error < {r['translation_threshold_deg']:g} deg against the commanded poses (no estimate = failure; "
        "mean errors over the pairs with one). Sampson errors: median over a pair's correspondences, mean "
        "over pairs; fitted F: RANSAC on the video's own correspondences; calibrated F: intrinsics and "
        f"commanded poses. Depth: both frames' depth lifted with the commanded poses; fitness within "
        f"{r['depth_inlier_distance_m'] * 100:g} cm; n/a for sources without depth.",
        "",
        "## Overall (mean of the scenarios)",
        "",
    ]
    lines += _table([(row["name"], row["overall"], cases_cell(row)) for row in rows], reference["overall"])
    for scenario in r["scenarios"]:
        lines += ["", f"## {scenario}", ""]
        lines += _table(
            [
                (
                    row["name"],
                    row["scenarios"][scenario] if row["scenarios"][scenario]["cases"] else None,
                    f"{row['scenarios'][scenario]['cases']} ({row['scenarios'][scenario]['errors']})",
                )
                for row in rows
            ],
            reference["scenarios"][scenario] if reference["scenarios"][scenario]["cases"] else None,
        )
    lines += markdown_footer(r)
    return "\n".join(lines) + "\n"


def _sample_video(truth: OrbitTruth, pred: np.ndarray, drawn: list) -> np.ndarray:
    """truth | prediction at ``VIDEO_SCALE``x, context included. Each predicted frame is tinted where
    its pair's correspondences land: green within ``GOOD_MATCH_PX`` of the commanded epipolar line,
    red beyond; untinted pixels have no correspondence."""
    tc = truth.context_frames
    video = np.concatenate([truth.frames[:tc], pred]).astype(np.float32)  # (Tc + horizon, H, W, 3)
    height, width = video.shape[1:3]
    for h, (points, distances) in enumerate(drawn):
        pixels = np.round(points).astype(int)
        inside = (pixels[:, 0] >= 0) & (pixels[:, 0] < width) & (pixels[:, 1] >= 0) & (pixels[:, 1] < height)
        pixels, good = pixels[inside], distances[inside] < GOOD_MATCH_PX
        tint = np.where(good[:, None], [0.0, 255.0, 0.0], [255.0, 0.0, 0.0])
        frame = video[tc + h]
        frame[pixels[:, 1], pixels[:, 0]] = (1 - TINT) * frame[pixels[:, 1], pixels[:, 0]] + TINT * tint
    panels = [truth.frames, np.round(video).astype(np.uint8)]
    return np.concatenate([p.repeat(VIDEO_SCALE, axis=1).repeat(VIDEO_SCALE, axis=2) for p in panels], axis=2)


def _write_videos(rows: list[dict[str, Any]], truths: list[OrbitTruth], folder: Path) -> list[str]:
    """One video per row: its first scored case of every scenario, one after another."""
    by_key = {truth.case.key: truth for truth in truths}
    written = []
    for row in rows:
        clips = [
            _sample_video(by_key[f"{s}/seed_{seed}"], pred, drawn)
            for s, (seed, pred, drawn) in row["samples"].items()
        ]
        if clips:
            path = folder / f"{file_name(row['name'])}.mp4"
            encode_video(path, np.concatenate(clips), fps=VIDEO_FPS, crf=12)
            written.append(str(path))
    return written


# ---- entry points ---------------------------------------------------------------------------------
def _suite_seeds(seeds: Sequence[int] | None, quick: bool) -> list[int]:
    return list(seeds if seeds is not None else default_seeds(QUICK_SEEDS if quick else SEEDS_PER_SCENARIO))


def run_consistency_3d_benchmark(
    out: str | Path,
    *,
    sources: Iterable[VideoSource | Callable] = (),
    checkpoints: Iterable[str | Path] | None = None,
    predictions: Iterable[str | Path] = (),
    scenarios: Sequence[str] = tuple(SCENARIOS),
    seeds: Sequence[int] | None = None,
    context_frames: int = CONTEXT_FRAMES,
    horizon: int = HORIZON,
    matcher: str = "flow",
    quick: bool = False,
    videos: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every model (``sources``: ``VideoSource``s or ``predict(context, actions)`` callables;
    ``checkpoints``: world models, default the zoo's camera model if present; ``predictions``: folders
    of mp4 files) with the reference and floor rows; write and return the report.

    ``seeds`` defaults to ``default_seeds()`` (``QUICK_SEEDS`` of them with ``quick``).
    """
    out = check_output_folder("3d", out)
    start = time.perf_counter()
    if matcher not in MATCHERS:
        raise ValueError(f"unknown matcher {matcher!r}; choose from {sorted(MATCHERS)}")
    models = resolve_sources(
        sources,
        checkpoints,
        predictions,
        default_checkpoint=DEFAULT_CHECKPOINT,
        reserved=(REFERENCE, SHUFFLED, FROZEN),
    )
    seeds = _suite_seeds(seeds, quick)
    truths = build_ground_truth(scenarios, seeds, context_frames=context_frames, horizon=horizon)
    clips = {truth.case.key: truth.frames for truth in truths}
    row_sources = [
        ReferenceSource(truths),
        *with_round_trips(models, clips),
        ShuffledSource(truths),
        FrozenSource(truths),
    ]
    rows = [evaluate_source(source, truths, matcher=matcher, progress=progress) for source in row_sources]
    report: dict[str, Any] = {
        "scenarios": list(scenarios),
        "seeds": seeds,
        "context_frames": context_frames,
        "horizon": horizon,
        "stride": STRIDE,
        "fps": truths[0].case.fps,
        "size": list(truths[0].frames.shape[1:3]),
        "matcher": matcher,
        "rotation_threshold_deg": ROTATION_THRESHOLD_DEG,
        "translation_threshold_deg": TRANSLATION_THRESHOLD_DEG,
        "depth_inlier_distance_m": INLIER_DISTANCE_M,
        "rows": rows,
        "machine": describe_machine(device="cpu", threads=torch.get_num_threads()),
    }
    out.mkdir(parents=True, exist_ok=True)
    if videos:
        report["videos"] = _write_videos(rows, truths, out / "videos")
    plot_curves(
        report,
        CURVE_TITLES,
        "3D consistency: mean of the scenarios against the horizon",
        out / "consistency_3d.png",
        log_scale=("sampson_fitted_px", "sampson_calibrated_px"),
    )
    report["seconds"] = round(time.perf_counter() - start, 1)
    write_bytes_atomic(out / "consistency_3d.json", (json.dumps(jsonable(report), indent=1) + "\n").encode())
    markdown = _markdown(report)
    write_bytes_atomic(out / "consistency_3d.md", markdown.encode())
    print(markdown.split("\n## CameraOrbit")[0])
    return report


def export_consistency_3d_cases(
    folder: str | Path,
    *,
    scenarios: Sequence[str] = tuple(SCENARIOS),
    seeds: Sequence[int] | None = None,
    context_frames: int = CONTEXT_FRAMES,
    horizon: int = HORIZON,
    quick: bool = False,
) -> Path:
    """Write the suite's conditioning (context videos, camera commands, horizon, fps) for a model that
    runs elsewhere; its predictions, ``<folder>/<scenario>/seed_<seed>.mp4``, are scored with
    ``run_consistency_3d_benchmark(predictions=[folder])``."""
    check_output_folder("bench 3d --export", folder)  # before the simulation, not after it
    seeds = _suite_seeds(seeds, quick)
    truths = build_ground_truth(scenarios, seeds, context_frames=context_frames, horizon=horizon)
    path = export_cases([t.case for t in truths], folder)
    height, width = truths[0].frames.shape[1:3]
    print(
        f"wrote the conditioning of {len(truths)} cases to {path}; write each prediction "
        f"({horizon} frames at {truths[0].case.fps:g} fps, {width}x{height}) to "
        f"<folder>/<scenario>/seed_<seed>.mp4 as {PREDICTION_VIDEO_FORMAT}, and run "
        "`cosmos-sim bench 3d --predictions <folder>`"
    )
    return path
