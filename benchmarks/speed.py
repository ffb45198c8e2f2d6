"""``cosmos-sim bench speed``: throughput of the ground-truth simulator and the data pipeline.

Measures, on this machine:
  - PushBlock-v0 env steps/s and rendered frames/s: a single env (observation frame only, and
    with every frame of the interval returned), and N=16 envs in Gymnasium's sync and async
    vector envs;
  - ms to render one frame, as shipped and with shadows (why the scenes ship without them);
  - oracle rollout states/s (``MujocoOracleDynamics``: mujoco.rollout in a thread pool);
  - dataset clip read rate (``ClipDataset``: decoded clips/s and frames/s, random access, from
    a freshly recorded dataset, in-process and through a 2-worker DataLoader).
Each figure is the median of ``repeats`` timed runs after a warm-up. Writes ``speed.json`` and
``speed.md`` into the output folder and prints the table.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import torch

import cosmos_sim.envs  # noqa: F401
from cosmos_sim.benchmarks.machine import describe_machine
from cosmos_sim.data.clips import ClipDataset
from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.planners.mujoco_oracle import MujocoOracleDynamics

ENV_ID = "cosmos_sim/PushBlock-v0"


def _median_rate(run: Callable[[], int], repeats: int) -> float:
    """Median of ``items / seconds`` over ``repeats`` runs of ``run`` (which returns its item count)."""
    run()  # warm-up: renderer creation, thread pools, caches
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        items = run()
        rates.append(items / (time.perf_counter() - start))
    return statistics.median(rates)


def _single_env_rate(steps: int, return_frames: bool) -> float:
    env = gym.make(ENV_ID, return_frames=return_frames)
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(steps)]

    def run() -> int:
        env.reset(seed=0)
        for action in actions:
            env.step(action)
        return steps

    rate = _median_rate(run, repeats=3)
    env.close()
    return rate


def _vector_env_rate(num_envs: int, mode: str, steps: int) -> float:
    kwargs = {"context": "spawn"} if mode == "async" else {}
    envs = gym.make_vec(ENV_ID, num_envs=num_envs, vectorization_mode=mode, vector_kwargs=kwargs)
    envs.reset(seed=0)
    envs.action_space.seed(0)
    actions = [envs.action_space.sample() for _ in range(steps)]

    def run() -> int:
        for action in actions:
            envs.step(action)
        return steps * num_envs

    rate = _median_rate(run, repeats=3)
    envs.close()
    return rate


def _oracle_rate(batch: int, horizon: int) -> float:
    env = gym.make(ENV_ID).unwrapped
    env.reset(seed=0)
    oracle = MujocoOracleDynamics(env)
    actions = np.random.default_rng(0).uniform(-1, 1, (batch, horizon, 2))
    return _median_rate(lambda: oracle.rollout(actions).states.size // 5, repeats=3)


def _clip_read_rates(root: Path, clips: int) -> dict[str, float]:
    dataset = ClipDataset(root, clip_frames=17, frames_per_step=4, cache_episodes=0)
    order = np.random.default_rng(0).permutation(len(dataset))[:clips]

    def read_uncached() -> int:
        for i in order:
            dataset[int(i)]
        return len(order)

    uncached = _median_rate(read_uncached, repeats=3)
    cached_dataset = ClipDataset(root, clip_frames=17, frames_per_step=4)

    def read_cached() -> int:
        for i in order:
            cached_dataset[int(i)]
        return len(order)

    cached = _median_rate(read_cached, repeats=3)
    loader = torch.utils.data.DataLoader(
        ClipDataset(root, clip_frames=17, frames_per_step=4),
        batch_size=16,
        shuffle=True,
        num_workers=2,
        persistent_workers=True,
        generator=torch.Generator().manual_seed(0),
    )

    def read_loader() -> int:
        return sum(batch["frames"].shape[0] for batch in loader)

    loader_rate = _median_rate(read_loader, repeats=3)
    return {"uncached": uncached, "cached": cached, "loader_2_workers": loader_rate, "clip_frames": 17}


def _render_ms_with_and_without_shadows(frames: int) -> dict[str, float]:
    """ms per 64x64 PushBlock frame as shipped, and with a shadow-casting light and MuJoCo's
    default 4096 shadow map (the cost that made the scenes ship without shadows)."""
    env = gym.make(ENV_ID).unwrapped
    env.reset(seed=0)
    shipped = env._build_xml(env.scene)
    shadowed = shipped.replace('shadowsize="0"', 'shadowsize="4096"').replace(
        "<worldbody>", '<worldbody><light directional="true" castshadow="true" pos="0 0 2" dir="0.3 0.3 -1"/>'
    )
    result = {}
    for label, xml in (("shipped", shipped), ("shadow_map_4096", shadowed)):
        model = mujoco.MjModel.from_xml_string(xml)
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        with mujoco.Renderer(model, env.height, env.width) as renderer:

            def render(renderer=renderer, model=model, data=data) -> int:
                for _ in range(frames):
                    renderer.update_scene(data, env.camera_name)
                    renderer.render()
                return frames

            result[label] = 1000.0 / _median_rate(render, repeats=3)
    env.close()
    return result


def _machine() -> dict[str, Any]:
    return describe_machine(
        mujoco=mujoco.__version__,
        gymnasium=gym.__version__,
        gl_backend=os.environ.get("MUJOCO_GL", "unset"),
    )


def run_speed_benchmark(out: str | Path = "outputs/bench/speed", *, quick: bool = False) -> dict[str, Any]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = 50 if quick else 200
    vec_steps = 10 if quick else 50
    pushblock = gym.make(ENV_ID).unwrapped
    k = pushblock.frames_per_step
    steps_per_action = k * pushblock.physics_steps_per_frame

    single_obs = _single_env_rate(steps, return_frames=False)
    single_frames = _single_env_rate(steps, return_frames=True)
    sync16 = _vector_env_rate(16, "sync", vec_steps)
    async16 = _vector_env_rate(16, "async", vec_steps)
    render_ms = _render_ms_with_and_without_shadows(frames=20 if quick else 100)
    oracle_batch = 64 if quick else 256
    oracle = _oracle_rate(batch=oracle_batch, horizon=16)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "pushblock"
        generate(
            GenerateConfig(output=str(root), num_episodes=4 if quick else 16, policy="mix", workers=2),
            progress=False,
        )
        clips = _clip_read_rates(root, clips=32 if quick else 128)

    rows = [
        ("PushBlock env, 1 env, observation frame only", "env steps/s", single_obs, single_obs),
        ("PushBlock env, 1 env, every frame rendered", "env steps/s", single_frames, single_frames * k),
        ("PushBlock SyncVectorEnv, N=16", "env steps/s", sync16, sync16),
        ("PushBlock AsyncVectorEnv, N=16", "env steps/s", async16, async16),
    ]
    results: dict[str, Any] = {
        "machine": _machine(),
        "quick": quick,
        "frames_per_step": k,
        "env": {
            "single_steps_per_s": single_obs,
            "single_with_frames_steps_per_s": single_frames,
            "single_with_frames_frames_per_s": single_frames * k,
            "sync16_steps_per_s": sync16,
            "async16_steps_per_s": async16,
        },
        "render_ms_per_frame": render_ms,
        "oracle_states_per_s": oracle,
        "oracle_physics_steps_per_s": oracle * steps_per_action,
        "clip_read": {
            "clips_per_s_uncached": clips["uncached"],
            "clips_per_s_cached": clips["cached"],
            "clips_per_s_dataloader_2_workers": clips["loader_2_workers"],
            "frames_per_s_uncached": clips["uncached"] * clips["clip_frames"],
            "clip_frames": clips["clip_frames"],
        },
    }
    table = [
        "| measurement | rate | frames/s |",
        "|---|---|---|",
        *[f"| {name} | {rate:,.0f} {unit} | {frames:,.0f} |" for name, unit, rate, frames in rows],
        f"| Render one PushBlock frame as shipped (no shadows) | {render_ms['shipped']:.2f} ms | - |",
        f"| Render one PushBlock frame with a shadow-casting light, 4096 shadow map | "
        f"{render_ms['shadow_map_4096']:.2f} ms | - |",
        f"| Oracle rollout, mujoco.rollout, {os.cpu_count()} threads, B={oracle_batch} x H=16 "
        f"(states after each control interval, {steps_per_action} physics steps each) | "
        f"{oracle:,.0f} states/s | - |",
        f"| Clip read, 17 frames, random access, no cache | {clips['uncached']:,.1f} clips/s | "
        f"{clips['uncached'] * 17:,.0f} |",
        f"| Clip read, 17 frames, episode cache warm | {clips['cached']:,.1f} clips/s | {clips['cached'] * 17:,.0f} |",
        f"| Clip read, DataLoader 2 workers, batch 16, episode cache warm | {clips['loader_2_workers']:,.1f} clips/s | "
        f"{clips['loader_2_workers'] * 17:,.0f} |",
    ]
    machine = results["machine"]
    markdown = (
        f"# cosmos-sim speed\n\nMachine: {machine['cpu']}, {machine['cores']} cores, "
        f"torch {machine['torch']}, mujoco {machine['mujoco']}, MUJOCO_GL={machine['gl_backend']}.\n"
        f"64x64 frames, {k} frames per env step. Command: `cosmos-sim bench speed"
        f"{' --quick' if quick else ''}`.\n\n" + "\n".join(table) + "\n"
    )
    (out / "speed.json").write_text(json.dumps(results, indent=2))
    (out / "speed.md").write_text(markdown)
    print(markdown)
    return results
