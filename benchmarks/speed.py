"""``cosmos-sim bench speed``: throughput of the ground-truth simulator and the data pipeline.

Measures, on this machine:
  - PushBlock-v0 env steps/s and rendered frames/s: a single env (observation frame only, and
    with every frame of the interval returned), and N=16 envs in Gymnasium's sync and async
    vector envs;
  - ms to render one frame, as shipped and with shadows (why the scenes ship without them);
  - oracle rollout states/s (``MujocoOracleDynamics``: mujoco.rollout in a thread pool);
  - dataset clip read rate (``ClipDataset``: decoded clips/s and frames/s, random access, from
    a freshly recorded dataset, in-process and through a 2-worker DataLoader);
  - WFM-PushBlock-v0 env steps/s (``WorldModelVectorEnv``, the shipped ``wfm_pushblock`` checkpoint
    unless another is given) at N=1 and N=64 with random actions, beside the MuJoCo env's, and where a
    vector step's time goes: ``world.step`` (the DiT sampler), the streaming decode of the new frames,
    and the rest; also what starting an episode (reset) costs;
  - the machine's matmul peak (square ``torch.mm``, bfloat16, the dtype the world model samples in, and
    float32 for context) and the fraction of it the world model reaches: FLOPs counted by
    ``torch.utils.flop_counter`` over the measured time of ``world.step`` alone and of the whole vector step.
Each figure is the median of ``repeats`` timed runs after a warm-up. Writes ``speed.json`` and
``speed.md`` into the output folder and prints the table.

Without a world model checkpoint the run stops before measuring anything, with an error naming the
folder it looked in: a report that silently lacks the world-model figures would read as complete.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import torch
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

import cosmos_sim.envs  # noqa: F401
from cosmos_sim.benchmarks.machine import describe_machine
from cosmos_sim.benchmarks.report import check_output_folder, require_pushblock_model
from cosmos_sim.data.clips import ClipDataset
from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.video_io import write_bytes_atomic
from cosmos_sim.envs.wfm.core import DEFAULT_CHECKPOINT
from cosmos_sim.planners.mujoco_oracle import MujocoOracleDynamics
from cosmos_sim.world_models.base import LatentState

ENV_ID = "cosmos_sim/PushBlock-v0"
WFM_ENV_ID = "cosmos_sim/WFM-PushBlock-v0"
WFM_NUM_ENVS = (1, 64)
TARGET_WFM_STEPS_PER_S = 200.0
"""WorldModelVectorEnv at N=64: sub-env steps per second."""
TARGET_FRACTION_OF_PEAK = 0.5
"""``world.step`` at N=64: achieved FLOP/s over the measured bfloat16 matmul peak."""


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


# ---- the world-model env and the matmul peak ---------------------------------------------------------


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock time covers it (nothing to wait for on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _cpu_sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    """FLOPs of ``scaled_dot_product_attention`` on CPU, which dispatches to an op FlopCounterMode does not
    know (it would count 0); the same formula it uses for the GPU kernels (a mask is not discounted)."""
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


def _flop_counter() -> FlopCounterMode:
    """Counts matmul, convolution and attention FLOPs (elementwise ops are not counted)."""
    cpu_sdpa = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    return FlopCounterMode(display=False, custom_mapping={cpu_sdpa: _cpu_sdpa_flop})


def _matmul_peak(
    dtype: torch.dtype, sizes: Sequence[int], repeats: int, device: torch.device
) -> dict[str, Any]:
    """GFLOP/s of square ``torch.mm`` in ``dtype`` at each size (2*n^3 FLOPs a product), median of ``repeats``;
    a timed run does as many FLOPs as one product of the largest size, so small sizes are not timer noise."""
    by_size = {}
    for n in sizes:
        gen = torch.Generator().manual_seed(0)
        a, b = (torch.randn(n, n, generator=gen).to(device, dtype) for _ in range(2))
        out = torch.empty(n, n, device=device, dtype=dtype)
        products = (max(sizes) // n) ** 3

        def run(a=a, b=b, out=out, products=products, n=n) -> int:
            for _ in range(products):
                torch.mm(a, b, out=out)
            _sync(device)
            return 2 * n**3 * products

        by_size[str(n)] = _median_rate(run, repeats) / 1e9
    return {"best": max(by_size.values()), "by_size": by_size}


class _Stopwatch:
    """Seconds spent in chosen methods, by label: ``wrap`` shadows a bound method on its instance with a
    timed call, so the time is split inside the very steps that are timed as a whole."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: dict[str, float] = {}

    def wrap(self, owner: Any, name: str, label: str) -> None:
        method = getattr(owner, name)
        self.seconds[label] = 0.0

        def timed(*args, **kwargs):
            _sync(self.device)
            start = time.perf_counter()
            result = method(*args, **kwargs)
            _sync(self.device)
            self.seconds[label] += time.perf_counter() - start
            return result

        setattr(owner, name, timed)

    def clear(self) -> None:
        self.seconds = dict.fromkeys(self.seconds, 0.0)


def _wfm_env_figures(
    checkpoint: Path, num_envs: int, steps: int, repeats: int, compile: bool = False
) -> dict[str, Any]:
    """``WorldModelVectorEnv`` at ``num_envs``, random actions: sub-env steps/s, the split of a vector step,
    the cost of a reset, and the FLOPs of ``world.step`` and of a whole vector step.

    Each repeat starts fresh episodes (a reset, timed on its own) and takes ``steps`` vector steps, fewer
    than an episode's length, so no autoreset falls inside the timed steps. In those same steps the time of
    ``world.step`` (the DiT sampler, in bfloat16) and of the streaming decode of the new frames (the
    tokenizer's decoder, in bfloat16 like the DiT, and the conversion to uint8) is measured; the rest is
    everything else in ``step``: action checks, the state head, the task's reward terms, the infos.
    With ``compile`` the DiT runs through ``torch.compile``; the warm-up steps pay for the compilation,
    and the FLOPs are counted on the same calls run eagerly (compiled kernels bypass the counter).
    """
    envs = gym.make_vec(
        WFM_ENV_ID,
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        checkpoint=str(checkpoint),
        compile=compile,
    ).unwrapped
    core, world = envs.core, envs.world
    device = world.device
    if steps >= envs.max_episode_steps:
        raise ValueError(
            f"{steps} timed steps would run into an autoreset ({envs.max_episode_steps}-step episodes)"
        )
    envs.action_space.seed(0)
    actions = [envs.action_space.sample() for _ in range(steps)]
    envs.reset(seed=0)
    for action in actions[:2]:  # warm-up: kernels, allocator, the decoder's caches
        envs.step(action)

    # FLOPs do not depend on values: world.step on the env's own batch, then one whole vector step.
    k = world.actions_per_step
    held = torch.as_tensor(actions[0], device=device)[:, None].expand(-1, k, -1)  # (N, k, A)
    with torch.compiler.set_stance("force_eager"), _flop_counter() as counter:
        world.step(LatentState(core.latents, core.actions), held, torch.Generator().manual_seed(0))
    world_step_flops = counter.get_total_flops()
    with torch.compiler.set_stance("force_eager"), _flop_counter() as counter:
        envs.step(actions[0])
    env_step_flops = counter.get_total_flops()

    watch = _Stopwatch(device)
    watch.wrap(world, "step", "world_step")
    watch.wrap(core, "_decode_new", "decode")
    reset_s, step_s, parts = [], [], []
    for repeat in range(repeats):
        start = time.perf_counter()
        envs.reset(seed=1 + repeat)
        _sync(device)
        reset_s.append(time.perf_counter() - start)
        watch.clear()
        start = time.perf_counter()
        for action in actions:
            envs.step(action)
        _sync(device)
        step_s.append((time.perf_counter() - start) / steps)
        parts.append({label: seconds / steps for label, seconds in watch.seconds.items()})
    envs.close()

    step = statistics.median(step_s)
    reset = statistics.median(reset_s)
    split_ms = {label: 1000 * statistics.median(p[label] for p in parts) for label in parts[0]}
    split_ms["rest"] = 1000 * statistics.median(
        s - sum(p.values()) for s, p in zip(step_s, parts, strict=True)
    )
    episode = envs.max_episode_steps
    return {
        "num_envs": num_envs,
        "device": str(device),
        "compiled": compile,
        "steps_per_repeat": steps,
        "repeats": repeats,
        "steps_per_s": num_envs / step,
        "frames_per_s": num_envs * k / step,
        "vector_step_ms": 1000 * step,
        "vector_step_split_ms": split_ms,
        "reset_ms": 1000 * reset,
        # Sub-env steps over whole episodes: max_episode_steps vector steps and one reset of all N.
        "steps_per_s_with_resets": num_envs * episode / (episode * step + reset),
        "episode_steps": episode,
        "gflop_per_vector_step": {"world_step": world_step_flops / 1e9, "env_step": env_step_flops / 1e9},
        "achieved_gflops": {
            "world_step": world_step_flops / 1e9 / (split_ms["world_step"] / 1000),
            "env_step": env_step_flops / 1e9 / step,
        },
    }


def _machine() -> dict[str, Any]:
    return describe_machine(
        mujoco=mujoco.__version__,
        gymnasium=gym.__version__,
        gl_backend=os.environ.get("MUJOCO_GL", "unset"),
    )


def run_speed_benchmark(
    out: str | Path = "outputs/bench/speed",
    *,
    quick: bool = False,
    checkpoint: str | Path | None = None,
    compile: bool = False,
) -> dict[str, Any]:
    """Measure everything in the module docstring; ``checkpoint``: the world model folder for the
    WFM-PushBlock env (None: the shipped ``cosmos_sim/zoo/wfm_pushblock``); ``compile``: the world
    model's DiT through ``torch.compile`` (``DiffusionWorldModel``'s ``compile``)."""
    # Before anything runs: a clear error naming the folder, the file or the task.
    checkpoint, _, _ = require_pushblock_model(
        "speed", checkpoint, "its world-model env rows are WFM-PushBlock's"
    )
    out = check_output_folder("speed", out)
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

    wfm_steps = {1: 4, 64: 2} if quick else {1: 30, 64: 10}
    wfm_repeats = 2 if quick else 3
    wfm = {n: _wfm_env_figures(checkpoint, n, wfm_steps[n], wfm_repeats, compile) for n in WFM_NUM_ENVS}
    device = torch.device(wfm[WFM_NUM_ENVS[0]]["device"])
    sizes = (512, 1024) if quick else (1024, 2048, 4096)
    peak = {
        "bfloat16": _matmul_peak(torch.bfloat16, sizes, wfm_repeats, device),
        "float32": _matmul_peak(torch.float32, sizes, wfm_repeats, device),
    }
    for figures in wfm.values():
        figures["fraction_of_bf16_peak"] = {
            part: gflops / peak["bfloat16"]["best"] for part, gflops in figures["achieved_gflops"].items()
        }
    big = wfm[WFM_NUM_ENVS[-1]]
    targets = {
        "steps_per_s": {
            "num_envs": big["num_envs"],
            "target": TARGET_WFM_STEPS_PER_S,
            "value": big["steps_per_s"],
            "met": big["steps_per_s"] >= TARGET_WFM_STEPS_PER_S,
        },
        "world_step_fraction_of_bf16_peak": {
            "num_envs": big["num_envs"],
            "target": TARGET_FRACTION_OF_PEAK,
            "value": big["fraction_of_bf16_peak"]["world_step"],
            "met": big["fraction_of_bf16_peak"]["world_step"] >= TARGET_FRACTION_OF_PEAK,
        },
    }

    rows = [
        ("PushBlock env, 1 env, observation frame only", "env steps/s", single_obs, single_obs),
        ("PushBlock env, 1 env, every frame rendered", "env steps/s", single_frames, single_frames * k),
        ("PushBlock SyncVectorEnv, N=16", "env steps/s", sync16, sync16),
        ("PushBlock AsyncVectorEnv, N=16", "env steps/s", async16, async16),
        *[
            (
                f"WFM-PushBlock WorldModelVectorEnv, N={n}, every frame decoded ({f['device']})",
                "env steps/s",
                f["steps_per_s"],
                f["frames_per_s"],
            )
            for n, f in wfm.items()
        ],
    ]
    results: dict[str, Any] = {
        "machine": _machine(),
        "quick": quick,
        "compiled": compile,
        "frames_per_step": k,
        "torch_threads": torch.get_num_threads(),
        "env": {
            "single_steps_per_s": single_obs,
            "single_with_frames_steps_per_s": single_frames,
            "single_with_frames_frames_per_s": single_frames * k,
            "sync16_steps_per_s": sync16,
            "async16_steps_per_s": async16,
        },
        "wfm_env": {"checkpoint": str(checkpoint), **{f"n{n}": f for n, f in wfm.items()}},
        "matmul_peak_gflops": {"device": str(device), "sizes": list(sizes), **peak},
        "targets": targets,
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
    n, split = big["num_envs"], big["vector_step_split_ms"]
    table = [
        "| measurement | rate | frames/s |",
        "|---|---|---|",
        *[f"| {name} | {_num(rate)} {unit} | {_num(frames)} |" for name, unit, rate, frames in rows],
        f"| WFM N={n}, one vector step: world.step (DiT sampler) {split['world_step']:,.0f} ms, streaming "
        f"decode {split['decode']:,.0f} ms, rest {split['rest']:,.0f} ms | {big['vector_step_ms']:,.0f} ms | - |",
        f"| WFM N={n}, episode start: reset of all {n} sub-envs (MuJoCo starts, encode, first decode) | "
        f"{big['reset_ms']:,.0f} ms | - |",
        f"| WFM N={n}, over whole {big['episode_steps']}-step episodes, resets included | "
        f"{_num(big['steps_per_s_with_resets'])} env steps/s | - |",
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
    size_text = ", ".join(str(s) for s in sizes)
    threads = torch.get_num_threads()
    bf16_peak = peak["bfloat16"]["best"]
    flops, gflops, fraction = (
        big["gflop_per_vector_step"],
        big["achieved_gflops"],
        big["fraction_of_bf16_peak"],
    )
    peak_table = [
        "| measurement | GFLOP/s | of bf16 peak |",
        "|---|---|---|",
        f"| Matmul peak, bfloat16, {device.type}, {threads} torch threads (best of n = {size_text}) | "
        f"{bf16_peak:,.0f} | 100% |",
        f"| Matmul peak, float32, same sizes | {peak['float32']['best']:,.0f} | "
        f"{peak['float32']['best'] / bf16_peak:.0%} |",
        f"| WFM N={n}, world.step alone (DiT sampler, bfloat16): {flops['world_step']:,.1f} GFLOP in "
        f"{split['world_step']:,.0f} ms | {_num(gflops['world_step'])} | {fraction['world_step']:.1%} |",
        f"| WFM N={n}, whole vector step (world.step + decoder + rest): {flops['env_step']:,.1f} GFLOP in "
        f"{big['vector_step_ms']:,.0f} ms | {_num(gflops['env_step'])} | {fraction['env_step']:.1%} |",
    ]
    target_table = [
        "| target | measured | |",
        "|---|---|---|",
        f"| WorldModelVectorEnv at N={n} >= {TARGET_WFM_STEPS_PER_S:,.0f} env steps/s | "
        f"{_num(big['steps_per_s'])} env steps/s | {_met(targets['steps_per_s']['met'])} |",
        f"| world.step at N={n} >= {TARGET_FRACTION_OF_PEAK:.0%} of matmul peak (bfloat16) | "
        f"{fraction['world_step']:.1%} | {_met(targets['world_step_fraction_of_bf16_peak']['met'])} |",
    ]
    shown_checkpoint = (
        "the shipped `cosmos_sim/zoo/wfm_pushblock`"
        if checkpoint == DEFAULT_CHECKPOINT
        else f"`{checkpoint}`"
    )
    machine = results["machine"]
    markdown = (
        f"# cosmos-sim speed\n\nMachine: {machine['cpu']}, {machine['cores']} cores, "
        f"torch {machine['torch']}, mujoco {machine['mujoco']}, MUJOCO_GL={machine['gl_backend']}.\n"
        f"64x64 frames, {k} frames per env step. Command: `cosmos-sim bench speed"
        f"{' --quick' if quick else ''}{' --compile' if compile else ''}`. World model: {shown_checkpoint}"
        f"{', its DiT through torch.compile' if compile else ''}.\n\n"
        + "\n".join(table)
        + "\n\n## World model against the matmul peak\n\n"
        "FLOPs counted by `torch.utils.flop_counter` (matmuls, convolutions, attention; elementwise ops not "
        "counted) over the time measured in the run above. The DiT and the tokenizer's decoder run in "
        "bfloat16 (the world model's `bf16`; its latents and sampler state stay float32).\n\n"
        + "\n".join(peak_table)
        + "\n\n## Targets\n\n"
        + "\n".join(target_table)
        + "\n"
    )
    write_bytes_atomic(out / "speed.json", (json.dumps(results, indent=2)).encode())
    write_bytes_atomic(out / "speed.md", markdown.encode())
    print(markdown)
    return results


def _met(met: bool) -> str:
    return "met" if met else "not met"


def _num(value: float) -> str:
    """Whole numbers from 100 up, three significant figures below (a WFM env at N=1 runs a few steps/s)."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
