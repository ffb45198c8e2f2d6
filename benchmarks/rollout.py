"""``cosmos-sim bench rollout``: how well an action-conditioned world model predicts held-out episodes.

For each held-out episode of the model's task (recorded on demand with seeds disjoint from training)
and each start latent frame ``j`` in ``starts``, the model is given the true latent frames ``0..j``
(the last ``window - 1`` of them as context) and the true actions, and predicts ``horizon`` video
frames (``horizon / k`` latent steps) with the control sampler; they are decoded and compared with
the true frames ``k*j + 1 .. k*j + horizon``:

  - PSNR and SSIM (torchmetrics, frames in [0, 1]) per horizon step, for the model and for the
    copy-last-frame baseline (frame ``k*j`` repeated) and, as a ceiling, the tokenizer's own
    reconstruction of the true frames;
  - block-centroid error in pixels per horizon step: centroids of the block's colour mask
    (``cosmos_sim.metrics.objects``) in predicted and true frames; a frame whose prediction shows no
    block counts as a miss, reported as a rate, not as an error;
  - the share of true frames that differ from the last context frame (per horizon step in
    ``curves["changed"]``), and both PSNRs on those frames alone: where nothing moved, copy-last is
    exact and scores ``PSNR_CAP_DB``, which on a mostly static scene decides the mean over all frames;
  - ``predict_state`` error: the state head on predicted latents against the true task state at
    each predicted latent frame (pusher and block position, in millimetres);
  - generation speed: frames/s of rollout + decode at batch 1 and 64, median of ``repeats``.

Writes ``rollout.json``, ``rollout.md`` and ``rollout.mp4`` (truth | prediction | copy-last, one
episode after another) into the output folder and prints the table.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cosmos_sim.benchmarks.machine import describe_machine
from cosmos_sim.benchmarks.report import (
    check_output_folder,
    jsonable,
    nanmean,
    positive_int,
    require_pushblock_model,
)
from cosmos_sim.data.lerobot import EpisodeDataset
from cosmos_sim.data.scenes import SceneData, ensure_scene_datasets
from cosmos_sim.data.video_io import encode_video, write_bytes_atomic
from cosmos_sim.metrics.frame_quality import PSNR_CAP_DB, frame_quality
from cosmos_sim.metrics.objects import PUSHBLOCK_BLOCK_RGB, color_mask, mask_centroids
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model
from cosmos_sim.world_models.diffusion.world_model import DiffusionWorldModel


def _block_centroids(frames: np.ndarray) -> np.ndarray:
    """Per-frame (row, column) of the block's colour mask, NaN where no block is visible."""
    return mask_centroids(color_mask(frames, PUSHBLOCK_BLOCK_RGB))


def _centroid_errors(pred: np.ndarray, true_centroids: np.ndarray) -> np.ndarray:
    """Per-frame block-centroid distance in pixels (NaN where either frame shows no block)."""
    return np.linalg.norm(_block_centroids(pred) - true_centroids, axis=-1)


def heldout_episodes(
    root: Path, env_id: str, count: int, progress: bool = False
) -> list[dict[str, np.ndarray]]:
    """The first ``count`` held-out episodes of ``env_id`` under ``root`` (recorded first if missing)."""
    scene = SceneData(env_id, episodes=1, policy="mix", heldout_episodes=count)
    (path,) = ensure_scene_datasets(root, [scene], "heldout", progress=progress)
    dataset = EpisodeDataset(path)
    return [dataset.load_episode(i) for i in range(min(count, len(dataset)))]


@torch.no_grad()
def evaluate_episode(
    world: DiffusionWorldModel, episode: dict[str, np.ndarray], starts: list[int], horizon: int, seed: int
) -> dict[str, np.ndarray]:
    """Model, copy-last and tokenizer-ceiling quality per horizon step, for every start of one episode."""
    k = world.actions_per_step
    steps = horizon // k
    video, actions, states = episode["observation.image"], episode["action"], episode["observation.state"]
    rows: dict[str, list[np.ndarray]] = {
        key: []
        for key in (
            "psnr",
            "ssim",
            "copy_psnr",
            "copy_ssim",
            "tok_psnr",
            "tok_ssim",
            "centroid",
            "copy_centroid",
            "state_mm",
            "block_visible",
            "changed",
        )
    }
    rows["samples"] = []
    for j in starts:
        end = k * (j + steps)
        if end >= len(video):
            continue
        state = world.encode(video[None, : k * j + 1], actions[None, : k * j] if j else None)
        future = torch.from_numpy(actions[k * j : end].copy()).reshape(1, steps, k, -1)
        predicted = world.rollout(state, future, torch.Generator().manual_seed(seed + j))
        frames = world.decode(torch.cat([state.latents, predicted], dim=2))[
            0, k * j + 1 :
        ]  # (horizon, H, W, 3)
        truth = video[k * j + 1 : end + 1]
        copy = np.repeat(video[k * j][None], horizon, axis=0)
        ceiling = world.decode(world.encode(video[None, : end + 1], actions[None, :end]).latents)[
            0, k * j + 1 :
        ]
        for name, pred in (("", frames), ("copy_", copy), ("tok_", ceiling)):
            psnr, ssim = frame_quality(pred, truth)
            rows[name + "psnr"].append(psnr)
            rows[name + "ssim"].append(ssim)
        rows["changed"].append((truth != video[k * j][None]).any(axis=(1, 2, 3)))
        true_centroids = _block_centroids(truth)  # once per clip, for both predictions
        rows["block_visible"].append(~np.isnan(true_centroids[:, 0]))
        rows["centroid"].append(_centroid_errors(frames, true_centroids))
        rows["copy_centroid"].append(_centroid_errors(copy, true_centroids))
        true_state = torch.from_numpy(states[k * (j + 1) : end + 1 : k].copy())  # (steps, S)
        error_m = (world.predict_state(predicted)[0].cpu() - true_state)[:, :4]  # positions (m)
        rows["state_mm"].append(error_m.norm(dim=-1).numpy() * 1000 / np.sqrt(2))  # per point (pusher, block)
        rows["samples"].append(np.concatenate([truth, frames, copy], axis=2))
    return {key: np.stack(value) if value and key != "samples" else value for key, value in rows.items()}


@torch.no_grad()
def measure_speed(world: DiffusionWorldModel, batch: int, horizon: int, repeats: int) -> dict[str, float]:
    """Frames/s of rollout (control sampler) + decode from a 1-frame context, batch ``batch``."""
    k, (h, w) = world.actions_per_step, world.config.latent_size
    s = world.tokenizer.config.spatial_compression
    frames = np.zeros((batch, 1, h * s, w * s, 3), np.uint8)
    actions = torch.zeros(batch, horizon // k, k, world.action_dim)
    times = []
    for r in range(repeats + 1):  # the first run warms up
        start = time.perf_counter()
        state = world.encode(frames)
        latents = world.rollout(state, actions, torch.Generator().manual_seed(r))
        world.decode(torch.cat([state.latents, latents], dim=2))
        if r:
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {
        "batch": batch,
        "frames": batch * horizon,
        "seconds": round(seconds, 4),
        "frames_per_s": round(batch * horizon / seconds, 1),
    }


def _mean_curve(values: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in nanmean(values.reshape(-1, values.shape[-1]), axis=0)]


def _rounded(value) -> float | None:
    """A summary figure, or None where it is undefined (no clip showed the block): JSON has no NaN."""
    return round(float(value), 2) if np.isfinite(value) else None


def _cell(value, spec: str = "") -> str:
    """A table cell: ``-`` for a figure that is undefined."""
    return (
        "-" if value is None or (isinstance(value, float) and not np.isfinite(value)) else format(value, spec)
    )


def _markdown(results: dict[str, Any]) -> str:
    r = results
    lines = [
        f"World model `{r['checkpoint']}` on {r['episodes']} held-out {r['task']} episodes x {len(r['starts'])} starts "
        f"({r['clips']} clips), {r['horizon']} frames ahead with true actions, {r['sampler']}.",
        "",
        f"| | PSNR (mean over horizon) | SSIM | PSNR at frame {r['horizon']} | block centroid error at frame "
        f"{r['horizon']} (px) | block missed at frame {r['horizon']} |",
        "|---|---|---|---|---|---|",
    ]
    for label, key in (("world model", ""), ("copy last frame", "copy_"), ("tokenizer ceiling", "tok_")):
        psnr, ssim = r["curves"][key + "psnr"], r["curves"][key + "ssim"]
        centroid = _cell(r["summary"].get(key + "centroid_px_last"))
        missed = r["summary"].get(key + "missed_last", "-")
        lines.append(
            f"| {label} | {np.mean(psnr):.2f} | {np.mean(ssim):.3f} | {psnr[-1]:.2f} | {centroid} | {missed} |"
        )
    s = r["summary"]
    lines += [
        "",
        f"Gain over copy-last-frame: **{s['psnr_gain_db']:+.2f} dB** (target >= +3 dB). "
        f"Block-centroid error at frame {r['horizon']}: **{_cell(s['centroid_px_last'])} px** median "
        f"{_cell(s['centroid_px_last_median'])} px "
        f"(target <= 2 px). `predict_state` error per point (pusher, block), mean over predicted latent frames: "
        f"{s['state_error_mm']} mm.",
        "",
        f"{1 - s['changed_fraction']:.0%} of the true frames equal the last context frame (nothing moved); "
        f"copy-last reproduces them exactly and scores the {PSNR_CAP_DB:.0f} dB cap there. "
        + (
            f"On the other {s['changed_fraction']:.0%}: world model {s['psnr_changed']:.2f} dB, copy-last "
            f"{s['copy_psnr_changed']:.2f} dB, gain {s['psnr_gain_changed_db']:+.2f} dB."
            if "psnr_changed" in s
            else ""
        ),
        "",
        "| horizon frame | " + " | ".join(str(i + 1) for i in range(r["horizon"])) + " |",
        "|---|" + "---|" * r["horizon"],
        "| model PSNR | " + " | ".join(f"{v:.1f}" for v in r["curves"]["psnr"]) + " |",
        "| copy PSNR | " + " | ".join(f"{v:.1f}" for v in r["curves"]["copy_psnr"]) + " |",
        "| model centroid px | " + " | ".join(_cell(v, ".1f") for v in r["curves"]["centroid"]) + " |",
        "",
        f"Speed ({r['machine']['device']}, {r['machine']['threads']} threads), encode 1 frame + roll out + decode "
        f"{r['horizon']} frames:",
        "",
        "| batch | frames/s |",
        "|---|---|",
    ]
    lines += [f"| {m['batch']} | {m['frames_per_s']:.0f} |" for m in r["speed"]]
    return "\n".join(lines) + "\n"


def run_rollout_benchmark(
    checkpoint: str | Path | None,
    out: str | Path,
    *,
    data_root: str | Path = "outputs/data/wfm",
    episodes: int = 16,
    starts: tuple[int, ...] = (0, 10, 20, 30),
    horizon: int = 16,
    quick: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    checkpoint, config, record = require_pushblock_model(
        "rollout", checkpoint, "its held-out episodes and block masks are PushBlock's"
    )
    out = check_output_folder("rollout", out)
    # Every setting is checked before the model loads and held-out data is recorded.
    episodes = positive_int("rollout", "episodes", episodes)
    horizon = positive_int("rollout", "horizon", horizon)
    k = config.actions_per_latent
    if horizon % k:
        raise ValueError(
            f"horizon must be a multiple of the model's {k} frames per latent step, got {horizon}"
        )
    if not starts or any(isinstance(t, bool) or not isinstance(t, int) or t < 0 for t in starts):
        raise ValueError(f"rollout: starts must be frame indices >= 0, at least one, got {starts!r}")
    world = load_world_model(checkpoint)
    if quick:
        episodes, starts = min(episodes, 2), starts[:2]
    data = heldout_episodes(Path(data_root), config.task, episodes, progress)
    per_episode = [
        evaluate_episode(world, e, list(starts), horizon, seed=1000 * i)
        for i, e in enumerate(tqdm(data, desc="rollout", disable=not progress))
    ]
    if not any(len(p["psnr"]) for p in per_episode):
        lengths = sorted({len(e["observation.image"]) for e in data})
        raise ValueError(
            f"rollout: no start in {list(starts)} leaves {horizon} frames to predict in the held-out episodes "
            f"({lengths} frames long); choose earlier starts or a shorter horizon"
        )
    joined = {
        key: np.concatenate([p[key] for p in per_episode if len(p[key])])
        for key in per_episode[0]
        if key != "samples"
    }
    curves = {key: _mean_curve(value) for key, value in joined.items()}
    summary: dict[str, Any] = {}
    visible = joined["block_visible"][:, -1]  # true frames where the block can be seen at all
    for key in ("", "copy_"):
        last = joined[key + "centroid"][:, -1]
        summary[key + "centroid_px_last"] = _rounded(nanmean(last))
        summary[key + "missed_last"] = f"{np.isnan(last[visible]).mean():.0%}" if visible.any() else "-"
    detected = joined["centroid"][:, -1][~np.isnan(joined["centroid"][:, -1])]
    summary["centroid_px_last_median"] = _rounded(np.median(detected)) if len(detected) else None
    summary["psnr_gain_db"] = round(float(np.mean(curves["psnr"]) - np.mean(curves["copy_psnr"])), 2)
    # Where nothing moved since the context, copy-last is exact and scores the PSNR cap; the gain on
    # the frames that did change says how the two compare where there is something to predict.
    changed = joined["changed"]
    summary["changed_fraction"] = round(float(changed.mean()), 3)
    if changed.any():
        model_db, copy_db = (float(joined[key + "psnr"][changed].mean()) for key in ("", "copy_"))
        summary["psnr_changed"], summary["copy_psnr_changed"] = round(model_db, 2), round(copy_db, 2)
        summary["psnr_gain_changed_db"] = round(model_db - copy_db, 2)
    summary["state_error_mm"] = round(float(joined["state_mm"].mean()), 1)
    speed = [measure_speed(world, b, horizon, 1 if quick else 3) for b in (1, 64)]
    results = {
        "checkpoint": str(checkpoint),
        "task": config.task,
        "episodes": len(data),
        "starts": list(starts),
        "clips": int(joined["psnr"].shape[0]),
        "horizon": horizon,
        "sampler": (
            f"{world.sampler.solver}, {world.sampler.steps} steps, sigma_min "
            f"{world.sampler.sigma_min if world.sampler.sigma_min is not None else world.config.edm.sigma_min}, "
            f"guidance {world.sampler.guidance}"
        ),
        "curves": curves,
        "summary": summary,
        "speed": speed,
        "training": record.get("metadata", {}),
        "machine": describe_machine(device=str(world.device), threads=torch.get_num_threads()),
    }
    # JSON has no NaN: a curve point where no clip showed the block is null (jsonable).
    results = jsonable(results)
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out / "rollout.json", (json.dumps(results, indent=2, allow_nan=False) + "\n").encode())
    markdown = _markdown(results)
    write_bytes_atomic(out / "rollout.md", markdown.encode())
    samples = [clip for p in per_episode for clip in p["samples"][:1]][:8]
    if samples:
        encode_video(out / "rollout.mp4", np.concatenate(samples), fps=10.0, crf=12)
    print(markdown)
    return results
