"""``cosmos-sim bench physics``: how far a video model's futures are from physics (issue 6).

For every passive-physics scenario (free fall, projectile, bounce, sliding, collision, pendulum,
toppling; ``envs/mujoco/passive_physics.py``) and a fixed list of held-out seeds, a model is given
the first ``CONTEXT_FRAMES`` frames of MuJoCo's clip (and the scenes' no-op actions) and predicts
the next ``HORIZON`` frames, which are scored against MuJoCo's:

- pixel metrics: PSNR and SSIM (torchmetrics, frames in [0, 1]; an exact frame counts
  ``PSNR_CAP_DB``), per predicted frame;
- the Physics-IQ metrics (``cosmos_sim.metrics.physics_iq``): spatial, spatiotemporal and weighted
  spatial IoU of motion masks and the frame MSE, and the Physics-IQ score, which normalizes them by
  the *physical variance*: the same metrics between MuJoCo's clip and a re-simulation of the same
  scene whose initial positions and velocities are perturbed by ``PERTURBATION`` x N(0, 1) (m, m/s,
  rad, rad/s). 100 = as close to the truth as physics is to itself;
- object-level metrics only a simulator can give (``cosmos_sim.metrics.object_masks`` and
  ``object_tracks``): per-object masks from the objects' known distinct hues, their IoU, the
  centroid error in pixels and in metres (through the known camera and the object's true depth),
  object permanence (object-frames where an object vanishes or appears) and floor interpenetration
  (object-frames where an object shows less than half its smallest height above the floor, measured
  at the depth where its lowest pixel meets the floor).

Rows: every model scored, the ceiling (the perturbed re-simulation, which scores 100 by
construction) and the floor (the last conditioning frame repeated); for a world model also its
tokenizer's round trip of the true clip, the best its decoder can show (if the round trip already
loses the objects, no dynamics can score well). A model is any
``cosmos_sim.benchmarks.video_models.VideoSource``: a Python callable
``predict(context, actions) -> frames``, a ``WorldModel`` checkpoint, or a folder of mp4 files
``<folder>/<scenario>/seed_<seed>.mp4`` written by a model running elsewhere from the conditioning
``export_physics_cases`` exports. A prediction that cannot be obtained or has the wrong form (a
missing file; wrong length, size, frame rate, shape or dtype) is reported as an error naming its
scenario and seed, excluded from the means and counted; the rest of the suite is still scored.

Decisions:

- ``CONTEXT_FRAMES = 5`` (= 1 + 4 * 1: the world models encode 1 + k*n frames, k = 4), 0.16 s: the
  dropped and thrown objects are still in the air when the prediction starts, so the landing is
  predicted, not shown.
- ``HORIZON = 16`` frames (0.64 s at 25 fps, 4 latent steps): by then every scenario's event has
  played out (landings, bounces, the collision, the domino chain), within the shortest episode.
- Seeds ``SEED_START`` (40_000) onwards, ``SEEDS_PER_SCENARIO`` per scenario: disjoint from the
  recorded training data (seeds from 0 to a few thousand). Everything is a function of the seeds,
  so results are deterministic for a given seed list (a world model samples with a generator
  seeded by the case's seed).
- ``PERTURBATION = 1e-4`` (0.1 mm, 0.1 mm/s): small enough that the re-simulation is the same
  event, large enough that it differs where physics is sensitive (a cube landing on an edge, an
  impact, the moment an object comes to rest): the ceiling's spatiotemporal IoU is 0.63 (collision)
  to 0.99 (pendulum). Motion masks: a change of more than ``MOTION_THRESHOLD`` (16 of 255) in any
  channel from the previous frame.
- World models: ``--checkpoint`` (repeatable); by default the zoo's ``wfm_physics`` if it exists,
  else only the reference rows (and ``--predictions`` folders) are scored.
- Means: per scenario over its scored cases; "overall" is the mean of the scenarios (each counts
  once). The Physics-IQ score of a row uses the variance of the same cases the row was scored on.
  Centroid errors average the object-frames where both videos show the object; permanence and
  interpenetration are counts of object-frames per clip.

Writes ``physics_alignment.json``, ``physics_alignment.md`` (a table overall and one per scenario),
``physics_alignment.png`` (metrics against the horizon) and ``videos/<row>.mp4`` (truth | prediction
| motion masks, objects' mask outlines drawn in white, the first seed of every scenario) into the
output folder, and prints the overall table.
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
from scipy import ndimage
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
    export_cases,
    predict_case,
    resolve_sources,
    with_round_trips,
)
from cosmos_sim.data.video_io import encode_video, write_bytes_atomic
from cosmos_sim.metrics.frame_quality import frame_quality
from cosmos_sim.metrics.object_masks import object_masks
from cosmos_sim.metrics.object_tracks import compare_objects, rest_height
from cosmos_sim.metrics.physics_iq import (
    MOTION_THRESHOLD,
    PhysicsIQMetrics,
    mean_metrics,
    motion_masks,
    physics_iq_metrics,
    physics_iq_score,
)

SCENARIOS = tuple(
    f"Physics-{name}-v0"
    for name in ("FreeFall", "Projectile", "Bounce", "Sliding", "Collision", "Pendulum", "Toppling")
)
"""Scene names (``cosmos_sim/<name>`` is the registered env id)."""
CONTEXT_FRAMES = 5
HORIZON = 16
SEED_START = 40_000
SEEDS_PER_SCENARIO = 20
QUICK_SEEDS = 2
PERTURBATION = 1e-4
"""``initial_state_noise`` of the ceiling's re-simulation: 0.1 mm and 0.1 mm/s per coordinate."""
ZOO = Path(cosmos_sim.__file__).resolve().parent / "zoo"
DEFAULT_CHECKPOINT = ZOO / "wfm_physics"
"""World model scored by default, when it exists."""
CEILING = "ceiling: perturbed re-simulation"
FLOOR = "floor: copy last frame"
VIDEO_SCALE = 3
VIDEO_FPS = 10.0


# ---- ground truth ---------------------------------------------------------------------------------
@dataclass
class SimulatedClip:
    """Frames and what the simulator knows about them."""

    frames: np.ndarray
    """uint8 (T, H, W, 3)."""
    centres: np.ndarray
    """(T, N, 3) world positions of the objects' centres, metres."""
    intrinsics: np.ndarray
    """(3, 3) OpenCV pinhole (the camera is fixed)."""
    extrinsics: np.ndarray
    """(4, 4) camera-to-world, OpenCV axes."""
    scene: dict[str, Any]
    """The scene's parameters (``env.scene``)."""
    object_names: tuple[str, ...]
    fps: float


class _Simulator:
    """One env per scenario, reused across seeds, stepping one frame at a time (no depth rendered).

    Re-simulating the scene the env last ran (same seed, another perturbation) reuses its MuJoCo
    model and renderer, which cost more to build than the clip does to simulate.
    """

    def __init__(self) -> None:
        self._envs: dict[str, Any] = {}

    def __call__(self, scenario: str, seed: int, frames: int, noise: float = 0.0) -> SimulatedClip:
        if scenario not in self._envs:
            self._envs[scenario] = gym.make(
                f"cosmos_sim/{scenario}", frames_per_step=1, disable_env_checker=True
            ).unwrapped
        env = self._envs[scenario]
        observation, info = env.reset(seed=seed, options={"initial_state_noise": noise})
        video, states = [observation], [info["state"]]
        intrinsics, extrinsics = info["intrinsics"][0], info["extrinsics"][0]
        no_op = np.zeros(env.action_space.shape, np.float32)
        for _ in range(frames - 1):
            observation, _, _, _, info = env.step(no_op)
            video.append(observation)
            states.append(info["state"])
        return SimulatedClip(
            frames=np.stack(video),
            centres=np.stack(states).reshape(frames, -1, 7)[..., :3],
            intrinsics=intrinsics,
            extrinsics=extrinsics,
            scene=env.scene,
            object_names=tuple(env.object_names),
            fps=float(env.fps),
        )

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()


@dataclass
class GroundTruth:
    """A case and MuJoCo's answer to it."""

    case: Case
    frames: np.ndarray
    """uint8 (horizon, H, W, 3): the true frames after the context."""
    perturbed: np.ndarray | None
    """uint8 (horizon, H, W, 3): the same frames re-simulated with the initial state perturbed by
    ``perturbation`` (the physical variance, and the ceiling's prediction); None without one."""
    centres: np.ndarray
    """(horizon, N, 3) true object centres, metres."""
    colours: np.ndarray
    """(N, 3) the objects' material RGB in [0, 1]."""
    rest_heights: np.ndarray
    """(N,) lowest resting height of each object's centre, metres."""
    intrinsics: np.ndarray
    extrinsics: np.ndarray
    object_names: tuple[str, ...]


def default_seeds(count: int = SEEDS_PER_SCENARIO) -> list[int]:
    """The held-out seeds of the default suite: ``SEED_START, SEED_START + 1, ...``."""
    return list(range(SEED_START, SEED_START + count))


def _check_suite(scenarios: Sequence[str], seeds: Sequence[int], context_frames: int, horizon: int) -> None:
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown or not scenarios:
        raise ValueError(
            f"unknown physics scenarios {unknown or list(scenarios)}; choose from {list(SCENARIOS)}"
        )
    if not seeds or any(not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds!r}")
    if context_frames < 1 or horizon < 1:
        raise ValueError(f"context_frames and horizon must be >= 1, got {context_frames} and {horizon}")


def build_ground_truth(
    scenarios: Sequence[str] = SCENARIOS,
    seeds: Sequence[int] | None = None,
    *,
    context_frames: int = CONTEXT_FRAMES,
    horizon: int = HORIZON,
    perturbation: float | None = PERTURBATION,
    progress: bool = False,
) -> list[GroundTruth]:
    """Simulate every (scenario, seed): the ``Case`` a model gets, the truth it is scored against and,
    unless ``perturbation`` is None, the perturbed re-simulation."""
    seeds = list(default_seeds() if seeds is None else seeds)
    _check_suite(scenarios, seeds, context_frames, horizon)
    simulate = _Simulator()
    truths = []
    pairs = [(scenario, seed) for scenario in scenarios for seed in seeds]
    for scenario, seed in tqdm(pairs, desc="simulating", disable=not progress, leave=False):
        clip = simulate(scenario, int(seed), context_frames + horizon)
        perturbed = None
        if perturbation is not None:  # right after the truth: the same scene, so the same renderer
            perturbed = simulate(scenario, int(seed), context_frames + horizon, perturbation).frames
        objects = clip.scene["objects"]
        case = Case(
            scenario=scenario,
            seed=int(seed),
            context=clip.frames[:context_frames],
            actions=np.zeros((context_frames - 1 + horizon, 1), np.float32),  # the scenes' no-op
            horizon=horizon,
            fps=clip.fps,
        )
        truths.append(
            GroundTruth(
                case=case,
                frames=clip.frames[context_frames:],
                perturbed=None if perturbed is None else perturbed[context_frames:],
                centres=clip.centres[context_frames:],
                colours=np.array([objects[n]["rgba"][:3] for n in clip.object_names]),
                rest_heights=np.array(
                    [rest_height(objects[n]["shape"], objects[n]["size"]) for n in clip.object_names]
                ),
                intrinsics=clip.intrinsics,
                extrinsics=clip.extrinsics,
                object_names=clip.object_names,
            )
        )
    return truths


# ---- reference rows -------------------------------------------------------------------------------
class CopyLastFrameSource(VideoSource):
    """The floor: nothing moves after the last conditioning frame."""

    name = FLOOR

    def predict(self, case: Case) -> np.ndarray:
        return np.repeat(case.context[-1:], case.horizon, axis=0)


class PerturbedSimulationSource(VideoSource):
    """The ceiling: MuJoCo re-simulating each scene with its initial state perturbed by
    ``PERTURBATION`` (simulated once, with the ground truth)."""

    name = CEILING

    def __init__(self, truths: list[GroundTruth]) -> None:
        if any(truth.perturbed is None for truth in truths):
            raise ValueError("PerturbedSimulationSource needs ground truth built with a perturbation")
        self._frames = {truth.case.key: truth.perturbed for truth in truths}

    def predict(self, case: Case) -> np.ndarray:
        return self._frames[case.key]


class SimulationSource(VideoSource):
    """MuJoCo re-simulating the case's scene with its initial state perturbed by ``noise`` x N(0, 1):
    the truth itself with ``noise=0``, or the ceiling, simulated anew, with ``noise=PERTURBATION``."""

    def __init__(self, noise: float, name: str) -> None:
        self.noise, self.name = float(noise), name
        self._simulate = _Simulator()

    def predict(self, case: Case) -> np.ndarray:
        tc = case.context.shape[0]
        return self._simulate(case.scenario, case.seed, tc + case.horizon, self.noise).frames[tc:]


# ---- scoring --------------------------------------------------------------------------------------
def score_prediction(pred: np.ndarray, truth: GroundTruth) -> dict[str, Any]:
    """Every metric of one case: scalars (means over the horizon) and per-frame ``curves``."""
    psnr, ssim = frame_quality(pred, truth.frames)
    previous = truth.case.context[-1]
    iq, iq_curves = physics_iq_metrics(pred, truth.frames, previous)
    pred_masks, true_masks = object_masks(pred, truth.colours), object_masks(truth.frames, truth.colours)
    objects = compare_objects(
        pred_masks, true_masks, truth.centres, truth.rest_heights, truth.intrinsics, truth.extrinsics
    )
    return {
        "psnr": float(psnr.mean()),
        "ssim": float(ssim.mean()),
        **iq.to_dict(),
        "mask_iou": float(objects["iou"].mean()),
        "centroid_px": float(nanmean(objects["centroid_px"])),
        "centroid_cm": float(nanmean(objects["centroid_m"]) * 100),
        "vanished": int(objects["vanished"].sum()),
        "appeared": int(objects["appeared"].sum()),
        "in_floor": int(objects["penetrating"].sum()),
        "curves": {
            "psnr": psnr,
            "ssim": ssim,
            "spatiotemporal_iou": iq_curves["spatiotemporal_iou"],
            "mse": iq_curves["mse"],
            "mask_iou": objects["iou"].mean(axis=1),
            "centroid_px": nanmean(objects["centroid_px"], axis=1),
        },
    }


IQ_KEYS = ("spatial_iou", "spatiotemporal_iou", "weighted_spatial_iou", "mse")
SCALAR_KEYS = (
    *IQ_KEYS,
    "psnr",
    "ssim",
    "mask_iou",
    "centroid_px",
    "centroid_cm",
    "vanished",
    "appeared",
    "in_floor",
)
CURVE_TITLES = {
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "spatiotemporal_iou": "motion-mask IoU (spatiotemporal)",
    "mse": "MSE",
    "mask_iou": "object mask IoU",
    "centroid_px": "object centroid error (px)",
}
CURVE_KEYS = tuple(CURVE_TITLES)


def _iq(result: dict[str, Any]) -> PhysicsIQMetrics:
    return PhysicsIQMetrics(**{k: result[k] for k in IQ_KEYS})


def physical_variances(truths: list[GroundTruth]) -> dict[str, PhysicsIQMetrics]:
    """``case.key`` -> the Physics-IQ metrics of the perturbed re-simulation against the truth."""
    return {
        truth.case.key: physics_iq_metrics(truth.perturbed, truth.frames, truth.case.context[-1])[0]
        for truth in truths
    }


def _summary(results: list[dict[str, Any]], variances: list[PhysicsIQMetrics]) -> dict[str, Any]:
    """Means over cases (``results`` and their ``variances``, in the same order)."""
    summary = {key: float(nanmean([r[key] for r in results])) for key in SCALAR_KEYS}
    model, variance = mean_metrics([_iq(r) for r in results]), mean_metrics(variances)
    summary["physics_iq"] = physics_iq_score(model, variance)
    summary["variance"] = variance.to_dict()
    summary["curves"] = {
        key: nanmean(np.stack([r["curves"][key] for r in results]), axis=0) for key in CURVE_KEYS
    }
    return summary


def _overall(scenario_summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of the scenarios' summaries, each scenario counted once."""
    overall = {key: float(nanmean([s[key] for s in scenario_summaries])) for key in SCALAR_KEYS}
    model = PhysicsIQMetrics(**{k: overall[k] for k in IQ_KEYS})
    variance = PhysicsIQMetrics(
        **{k: float(np.mean([s["variance"][k] for s in scenario_summaries])) for k in IQ_KEYS}
    )
    overall["physics_iq"] = physics_iq_score(model, variance)
    overall["variance"] = variance.to_dict()
    overall["curves"] = {
        key: nanmean(np.stack([s["curves"][key] for s in scenario_summaries]), axis=0) for key in CURVE_KEYS
    }
    return overall


def evaluate_source(
    source: VideoSource,
    truths: list[GroundTruth],
    variances: dict[str, PhysicsIQMetrics],
    *,
    progress: bool = False,
) -> dict[str, Any]:
    """Score ``source`` on every case: per-scenario and overall summaries, per-case results, errors.

    ``variances``: ``physical_variances(truths)``, the normalization of the Physics-IQ score.
    """
    cases: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    samples: dict[str, tuple[int, np.ndarray]] = {}  # scenario -> (seed, prediction) of its first scored case
    for truth in tqdm(truths, desc=source.name, disable=not progress, leave=False):
        case = truth.case
        try:
            pred = predict_case(source, case)
        except PredictionError as error:
            errors.append({"scenario": case.scenario, "seed": case.seed, "error": str(error)})
            continue
        result = {"scenario": case.scenario, "seed": case.seed, **score_prediction(pred, truth)}
        cases.append(result)
        samples.setdefault(case.scenario, (case.seed, pred))
    scenarios: dict[str, dict[str, Any]] = {}
    for scenario in dict.fromkeys(t.case.scenario for t in truths):
        scored = [c for c in cases if c["scenario"] == scenario]
        failed = [e for e in errors if e["scenario"] == scenario]
        entry: dict[str, Any] = {"cases": len(scored), "errors": len(failed)}
        if scored:
            entry.update(_summary(scored, [variances[f"{scenario}/seed_{c['seed']}"] for c in scored]))
        else:
            entry["error"] = (
                f"no case could be scored ({len(failed)} failed); first error: {failed[0]['error']}"
            )
        scenarios[scenario] = entry
    scored_scenarios = [s for s in scenarios.values() if s["cases"]]
    return {
        "name": source.name,
        "overall": _overall(scored_scenarios) if scored_scenarios else None,
        "scenarios": scenarios,
        "cases": [{k: v for k, v in c.items() if k != "curves"} for c in cases],
        "errors": errors,
        "samples": samples,
    }


# ---- reports --------------------------------------------------------------------------------------
COLUMNS = (
    ("Physics-IQ", "physics_iq", "{:.1f}"),
    ("spatial IoU", "spatial_iou", "{:.3f}"),
    ("spatiotemporal IoU", "spatiotemporal_iou", "{:.3f}"),
    ("weighted spatial IoU", "weighted_spatial_iou", "{:.3f}"),
    ("MSE", "mse", "{:.4f}"),
    ("PSNR (dB)", "psnr", "{:.2f}"),
    ("SSIM", "ssim", "{:.3f}"),
    ("mask IoU", "mask_iou", "{:.3f}"),
    ("centroid (px)", "centroid_px", "{:.2f}"),
    ("centroid (cm)", "centroid_cm", "{:.2f}"),
    ("vanished", "vanished", "{:.1f}"),
    ("appeared", "appeared", "{:.1f}"),
    ("in floor", "in_floor", "{:.1f}"),
)


def _table(rows: list[tuple[str, dict[str, Any] | None, str]]) -> list[str]:
    """Markdown rows ``(name, summary or None, cases column)``."""
    lines = [
        "| model | " + " | ".join(c[0] for c in COLUMNS) + " | cases (errors) |",
        "|---|" + "---|" * (len(COLUMNS) + 1),
    ]
    for name, summary, cases in rows:
        if summary is None:
            cells = ["error"] + ["-"] * (len(COLUMNS) - 1)
        else:
            cells = [
                fmt.format(summary[key]) if np.isfinite(summary[key]) else "-" for _, key, fmt in COLUMNS
            ]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {cases} |")
    return lines


def _markdown(report: dict[str, Any]) -> str:
    r = report
    horizon_s = r["horizon"] / r["fps"]
    lines = [
        "# Physics alignment",
        "",
        f"{len(r['scenarios'])} passive-physics scenarios x {len(r['seeds'])} held-out seeds "
        f"({r['seeds'][0]}..{r['seeds'][-1]}): {r['context_frames']} conditioning frames, "
        f"{r['horizon']} predicted frames ({horizon_s:.2f} s at {r['fps']:g} fps). Physics-IQ: 100 = as close "
        f"to MuJoCo as MuJoCo with its initial state perturbed by {r['perturbation']:g}; motion threshold "
        f"{r['motion_threshold']}/255. Object counts (vanished, appeared, in floor) are object-frames per clip.",
        "",
        "## Overall (mean of the scenarios)",
        "",
    ]
    rows = r["rows"]
    lines += _table([(row["name"], row["overall"], cases_cell(row)) for row in rows])
    separated = r["ceiling_above_floor"]
    lines += [
        "",
        f"Ceiling above floor on {sum(separated.values())} of {len(separated)} scenarios"
        + (
            f" (not: {', '.join(s for s, ok in separated.items() if not ok)})."
            if not all(separated.values())
            else "."
        ),
    ]
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
            ]
        )
    lines += markdown_footer(r)
    return "\n".join(lines) + "\n"


def _outlined(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Frames upscaled by ``VIDEO_SCALE`` with the outline of every object mask ``(T, N, H, W)`` in white."""
    big = frames.repeat(VIDEO_SCALE, axis=1).repeat(VIDEO_SCALE, axis=2)
    masks = masks.repeat(VIDEO_SCALE, axis=2).repeat(VIDEO_SCALE, axis=3)
    edges = masks & ~ndimage.binary_erosion(masks, structure=np.ones((1, 1, 3, 3), bool))
    big[edges.any(axis=1)] = 255
    return big


def _sample_video(truth: GroundTruth, pred: np.ndarray) -> np.ndarray:
    """truth | prediction | motion masks (truth green, prediction magenta, both white), context included."""
    context = truth.case.context
    true_video, pred_video = np.concatenate([context, truth.frames]), np.concatenate([context, pred])
    panels = [_outlined(v, object_masks(v, truth.colours)) for v in (true_video, pred_video)]
    motion = np.zeros_like(true_video)
    true_motion = motion_masks(truth.frames, context[-1])
    pred_motion = motion_masks(pred, context[-1])
    tc = len(context)
    motion[tc:, ..., 1] = np.where(true_motion, 200, 0)
    motion[tc:, ..., 0] = motion[tc:, ..., 2] = np.where(pred_motion, 200, 0)
    motion[tc:][true_motion & pred_motion] = 255
    panels.append(motion.repeat(VIDEO_SCALE, axis=1).repeat(VIDEO_SCALE, axis=2))
    return np.concatenate(panels, axis=2)


def _write_videos(rows: list[dict[str, Any]], truths: list[GroundTruth], folder: Path) -> list[str]:
    """One video per row: its first scored case of every scenario, one after another."""
    by_key = {truth.case.key: truth for truth in truths}
    written = []
    for row in rows:
        clips = [
            _sample_video(by_key[f"{s}/seed_{seed}"], pred) for s, (seed, pred) in row["samples"].items()
        ]
        if clips:
            path = folder / f"{file_name(row['name'])}.mp4"
            encode_video(path, np.concatenate(clips), fps=VIDEO_FPS, crf=12)
            written.append(str(path))
    return written


# ---- entry points ---------------------------------------------------------------------------------
def run_physics_alignment_benchmark(
    out: str | Path,
    *,
    sources: Iterable[VideoSource | Callable] = (),
    checkpoints: Iterable[str | Path] | None = None,
    predictions: Iterable[str | Path] = (),
    scenarios: Sequence[str] = SCENARIOS,
    seeds: Sequence[int] | None = None,
    context_frames: int = CONTEXT_FRAMES,
    horizon: int = HORIZON,
    quick: bool = False,
    videos: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every model (``sources``: ``VideoSource``s or ``predict(context, actions)`` callables;
    ``checkpoints``: world models, default the zoo's physics model if present; ``predictions``:
    folders of mp4 files) with the ceiling and floor rows; write and return the report.

    ``seeds`` defaults to ``default_seeds()`` (``QUICK_SEEDS`` of them with ``quick``).
    """
    out = check_output_folder("physics", out)
    start = time.perf_counter()
    models = resolve_sources(
        sources, checkpoints, predictions, default_checkpoint=DEFAULT_CHECKPOINT, reserved=(CEILING, FLOOR)
    )
    seeds = list(seeds if seeds is not None else default_seeds(QUICK_SEEDS if quick else SEEDS_PER_SCENARIO))
    truths = build_ground_truth(
        scenarios, seeds, context_frames=context_frames, horizon=horizon, progress=progress
    )
    variances = physical_variances(truths)
    clips = {t.case.key: np.concatenate([t.case.context, t.frames]) for t in truths}
    sources = [PerturbedSimulationSource(truths), *with_round_trips(models, clips), CopyLastFrameSource()]
    rows = [evaluate_source(source, truths, variances, progress=progress) for source in sources]
    ceiling, floor = rows[0], rows[-1]
    report: dict[str, Any] = {
        "scenarios": list(scenarios),
        "seeds": seeds,
        "context_frames": context_frames,
        "horizon": horizon,
        "fps": truths[0].case.fps,
        "perturbation": PERTURBATION,
        "motion_threshold": MOTION_THRESHOLD,
        "rows": rows,
        "ceiling_above_floor": {
            s: ceiling["scenarios"][s]["physics_iq"] > floor["scenarios"][s]["physics_iq"] for s in scenarios
        },
        "machine": describe_machine(device="cpu", threads=torch.get_num_threads()),
    }
    out.mkdir(parents=True, exist_ok=True)
    if videos:
        report["videos"] = _write_videos(rows, truths, out / "videos")
    plot_curves(
        report,
        CURVE_TITLES,
        "Physics alignment: mean of the scenarios against the horizon",
        out / "physics_alignment.png",
    )
    report["seconds"] = round(time.perf_counter() - start, 1)
    write_bytes_atomic(
        out / "physics_alignment.json", (json.dumps(jsonable(report), indent=1) + "\n").encode()
    )
    markdown = _markdown(report)
    write_bytes_atomic(out / "physics_alignment.md", markdown.encode())
    print(markdown.split("\n## Physics-")[0])
    return report


def export_physics_cases(
    folder: str | Path,
    *,
    scenarios: Sequence[str] = SCENARIOS,
    seeds: Sequence[int] | None = None,
    context_frames: int = CONTEXT_FRAMES,
    horizon: int = HORIZON,
    quick: bool = False,
    progress: bool = True,
) -> Path:
    """Write the suite's conditioning (context videos, actions, horizon, fps) for a model that runs
    elsewhere; its predictions, ``<folder>/<scenario>/seed_<seed>.mp4``, are scored with
    ``run_physics_alignment_benchmark(predictions=[folder])``."""
    check_output_folder("bench physics --export", folder)  # before the simulation, not after it
    seeds = list(seeds if seeds is not None else default_seeds(QUICK_SEEDS if quick else SEEDS_PER_SCENARIO))
    truths = build_ground_truth(
        scenarios, seeds, context_frames=context_frames, horizon=horizon, perturbation=None, progress=progress
    )
    path = export_cases([t.case for t in truths], folder)
    print(
        f"wrote the conditioning of {len(truths)} cases to {path}; write each prediction "
        f"({horizon} frames at {truths[0].case.fps:g} fps, {truths[0].frames.shape[2]}x{truths[0].frames.shape[1]}) "
        f"to <folder>/<scenario>/seed_<seed>.mp4 as {PREDICTION_VIDEO_FORMAT}, and run "
        "`cosmos-sim bench physics --predictions <folder>`"
    )
    return path
