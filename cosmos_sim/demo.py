"""The README's main job (until world-model planning replaces it).

Records a small PushBlock dataset with the scripted expert, reads it back through the
dataset reader, writes an upscaled video of the first episode and a summary table
(Markdown + JSON) of every episode.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.lerobot import EpisodeDataset
from cosmos_sim.data.recording import GOAL_KEY, STATE_KEY, VIDEO_KEY
from cosmos_sim.data.video_io import encode_video
from cosmos_sim.envs.tasks.push_block import PushBlockTask

VIDEO_SCALE = 4  # 64x64 frames are written at 256x256 so a person can watch them


def _markdown_table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row[c]) for c in columns) + " |")
    return "\n".join(lines)


def run_demo(out: str | Path = "outputs/demo", *, num_episodes: int = 8, workers: int = 2) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cfg = GenerateConfig(
        output=str(out / "pushblock_expert"), num_episodes=num_episodes, policy="expert", workers=workers
    )
    generation = generate(cfg)

    dataset = EpisodeDataset(cfg.output)
    task = PushBlockTask()
    rows = []
    for index in range(dataset.num_episodes):
        episode = dataset.load_episode(index, keys=[STATE_KEY, GOAL_KEY])
        final_state, goal = episode[STATE_KEY][-1], episode[GOAL_KEY][-1]
        meta = dataset.episode_meta(index)
        rows.append(
            {
                "episode": index,
                "seed": meta["seed"],
                "policy": meta["policy"],
                "frames": dataset.episode_length(index),
                "start distance (m)": round(float(task.goal_distance(episode[STATE_KEY][0], goal)), 3),
                "final distance (m)": round(float(task.goal_distance(final_state, goal)), 3),
                "success": bool(task.success(final_state, goal)),
            }
        )

    frames = dataset.load_episode(0, keys=[VIDEO_KEY])[VIDEO_KEY]  # (T, H, W, 3)
    large = np.repeat(np.repeat(frames, VIDEO_SCALE, axis=1), VIDEO_SCALE, axis=2)
    video_path = out / "episode_000.mp4"
    encode_video(video_path, large, fps=dataset.fps)

    success_rate = float(np.mean([r["success"] for r in rows]))
    summary = {
        "dataset": cfg.output,
        "episodes": dataset.num_episodes,
        "frames": dataset.num_frames,
        "fps": dataset.fps,
        "expert_success_rate": success_rate,
        "mean_final_distance_m": float(np.mean([r["final distance (m)"] for r in rows])),
        "generation_seconds": generation["seconds"],
        "total_seconds": round(time.perf_counter() - start, 2),
        "video": str(video_path),
        "episodes_table": rows,
    }
    table = _markdown_table(rows, list(rows[0]))
    report = (
        f"# cosmos-sim demo: PushBlock-v0 with the scripted expert\n\n"
        f"{dataset.num_episodes} episodes, {dataset.num_frames} frames at {dataset.fps:g} fps, "
        f"recorded in {generation['seconds']} s into `{cfg.output}` (LeRobot v3 layout).\n"
        f"Expert success rate: {success_rate:.2f}. Video of episode 0: `{video_path}`.\n\n{table}\n"
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "summary.md").write_text(report)
    print(report)
    return summary
