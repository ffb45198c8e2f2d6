"""``cosmos-sim bench planning``: closed-loop MPC on held-out PushBlock seeds, planning in the world model
and acting in MuJoCo.

Every method controls the same ``seeds`` MuJoCo episodes (``PushBlock-v0``, reset with seeds from a
range disjoint from every training recording) for the scene's full episode length, and is scored on
the true simulator state:

- ``random``: uniform random actions (how often the task is solved by chance);
- ``wfm-cem``, ``wfm-icem``, ``wfm-mppi``, ``wfm-gradient``: receding-horizon MPC whose objective rolls
  candidate plans out in the world model (latent rollouts from the frames the camera rendered, encoded
  by the tokenizer's streaming encoder; task state from ``predict_state``; nothing decoded while
  planning) and scores them with the task's own reward (``TaskStateCost``);
- ``oracle-cem``: the same CEM and budget, rolling out in MuJoCo itself (``OracleDynamics``): the upper
  bound, and what the world model's planning is compared with;
- ``expert``: the scripted expert reading the true state (a reference for what is reachable).

Figures per method: success rate (block within the task's threshold of the goal at the last step, and
at any step), final block-to-goal distance (mean and median), planning time per control step (the
``controller.act`` wall time of the batch of N problems, divided by N: every problem is planned in the
same batched model call; and the single-problem latency, N = 1, measured on the first seed), and the
peak resident memory of the method's run. All problems share one budget (horizon, population,
iterations, replanning interval), given in the report.

Each method's result is cached in ``out/methods/<method>.json`` together with its settings, so a killed
run resumes with the methods still missing and a rerun with other settings recomputes them. Writes
``planning.json``, ``planning.md``, ``planning.png`` (success and final distance per method) and
``planning.mp4`` (for the first ``video_episodes`` seeds of the first world-model method: MuJoCo truth
beside the frames the model imagined for the plan it executed, decoded after the run).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

import cosmos_sim
import cosmos_sim.envs  # noqa: F401  (registers the ids)
from cosmos_sim.benchmarks.machine import describe_machine
from cosmos_sim.benchmarks.report import check_output_folder, positive_int, require_pushblock_model
from cosmos_sim.configs import check_finite
from cosmos_sim.data.video_io import encode_video, write_bytes_atomic
from cosmos_sim.envs.tasks.push_block import PushBlockExpert
from cosmos_sim.planners import CEM, ICEM, MPPI, CEMConfig, Gradient, GradientConfig, ICEMConfig, MPPIConfig
from cosmos_sim.planners.closed_loop import ClosedLoopResult, LatentTracker, run_closed_loop
from cosmos_sim.planners.costs import PlanningObjective, TaskStateCost
from cosmos_sim.planners.dynamics import OracleDynamics, WorldModelDynamics
from cosmos_sim.planners.mpc import MPCController
from cosmos_sim.world_models.base import LatentState
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model

METHODS = ("random", "wfm-cem", "wfm-icem", "wfm-mppi", "wfm-gradient", "oracle-cem", "expert")
SEED_OFFSET = 30_000
"""Held-out reset seeds start here; recordings for training use seeds below 10,000."""


@dataclass
class PlanningBudget:
    """The search budget every planner gets (per problem, per replan)."""

    horizon: int = 4
    """Control steps planned ahead (one world-model latent step each)."""
    population: int = 32
    """Candidate plans per iteration (CEM, iCEM's first iteration, MPPI)."""
    iterations: int = 2
    """Optimizer iterations per replan (the gradient planner: Adam steps from 2 restarts with the
    same number of rollouts, ``population * iterations / 2`` iterations capped at 8)."""
    replan_every: int = 2
    """Control steps executed from each plan before replanning (receding horizon)."""
    samples: int = 1
    """World-model rollouts per candidate (> 1: the uncertainty-aware cost)."""
    spread_weight: float = 0.0
    """Weight of the spread of the samples' costs (needs samples > 1)."""
    max_batch: int = 512
    """Memory budget: world-model rollouts per model call, over all problems: candidate sequences
    times ``samples``. It must hold one candidate of every problem (``seeds * samples``)."""
    common_noise: bool = False
    """World-model methods: the candidates of one problem share their sampling noise
    (``WorldModelDynamics(common_noise=...)``); False draws fresh noise for every candidate."""

    def __post_init__(self) -> None:
        for name in ("horizon", "population", "iterations", "replan_every", "samples", "max_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"PlanningBudget.{name} must be an integer >= 1, got {value!r}")
        check_finite(self, "spread_weight", at_least=0)
        if self.population < 2:
            raise ValueError(
                f"PlanningBudget.population must be >= 2 (CEM keeps 2 elites), got {self.population}"
            )
        if self.replan_every > self.horizon:
            raise ValueError(
                f"PlanningBudget: replan_every ({self.replan_every}) cannot exceed horizon ({self.horizon})"
            )

    def candidates_per_call(self, problems: int) -> int:
        """The optimizers' ``max_batch`` (candidate sequences per objective call) under ``max_batch``
        rollouts, for ``problems`` planned together; a ValueError when one candidate each does not fit."""
        if self.max_batch < problems * self.samples:
            raise ValueError(
                f"PlanningBudget.max_batch={self.max_batch} world-model rollouts per call cannot hold one "
                f"candidate of each of {problems} problems x {self.samples} samples; raise it (--max-batch) "
                f"to at least {problems * self.samples}"
            )
        return self.max_batch // self.samples

    def latent_steps_per_control_step(self) -> float:
        """World-model steps one problem costs per control step (the budget in model calls)."""
        return self.population * self.iterations * self.horizon * self.samples / self.replan_every


@dataclass
class MethodResult:
    method: str
    settings: dict[str, Any]
    success: list[bool]
    success_any: list[bool]
    final_distance_m: list[float]
    planning_s_per_step: float
    """Batch planning time per control step divided by the number of problems."""
    latency_s_per_step: float | None
    """Planning time per control step for a single problem (N = 1)."""
    replan_s: float | None
    """Mean wall time of one replan of the whole batch."""
    peak_rss_mb: float | None
    wall_s: float
    summary: dict[str, Any] = field(default_factory=dict)

    def summarize(self) -> None:
        distances = np.asarray(self.final_distance_m)
        self.summary = {
            "success_rate": float(np.mean(self.success)),
            "success_any_rate": float(np.mean(self.success_any)),
            "final_distance_mean_m": float(distances.mean()),
            "final_distance_median_m": float(np.median(distances)),
        }


# ---- peak memory of one method: reset the kernel's high-water mark, read it afterwards (Linux) ----


def _read_json(path: Path) -> Any:
    """The JSON in ``path``, or None when it is missing or unreadable (a record to compare, not data)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# ---- controllers ------------------------------------------------------------------------------------


class RandomController:
    """Uniform random actions with the ``MPCController`` interface the closed loop drives."""

    def __init__(self, action_dim: int, seed: int) -> None:
        self.action_dim = action_dim
        self.generator = torch.Generator().manual_seed(seed)
        self.solution = None
        self._n = 1

    def reset(self, num_problems: int) -> None:
        self._n = num_problems

    def act(self, objective_factory=None, objective=None) -> torch.Tensor:
        return torch.rand(self._n, self.action_dim, generator=self.generator) * 2 - 1


class ExpertController:
    """The scripted expert on the true state of each env (a reference, not a planner)."""

    def __init__(self, envs: list, seed: int) -> None:
        self.envs = envs
        self.expert = PushBlockExpert()
        self.rng = np.random.default_rng(seed)
        self.solution = None

    def reset(self, num_problems: int) -> None:
        pass

    def act(self, objective_factory=None, objective=None) -> torch.Tensor:
        actions = [self.expert(env.task_state(), env.goal, self.rng) for env in self.envs]
        return torch.from_numpy(np.stack(actions))


def _optimizer(method: str, budget: PlanningBudget, seed: int, problems: int):
    generator = torch.Generator().manual_seed(seed)
    p, i = budget.population, budget.iterations
    # iCEM's population decays to 2 * elites, which must fit in p (p >= 2 by PlanningBudget).
    elites = min(max(2, p // 8), p // 2) if method == "wfm-icem" else max(2, p // 8)
    max_batch = budget.candidates_per_call(problems)
    if method.endswith("-cem"):
        return CEM(
            CEMConfig(population_size=p, num_elites=elites, num_iterations=i, max_batch=max_batch),
            generator=generator,
        )
    if method == "wfm-icem":
        return ICEM(
            ICEMConfig(population_size=p, num_elites=elites, num_iterations=i, max_batch=max_batch),
            generator=generator,
        )
    if method == "wfm-mppi":
        return MPPI(MPPIConfig(population_size=p, num_iterations=i, max_batch=max_batch), generator=generator)
    if method == "wfm-gradient":
        restarts = 2
        return Gradient(
            GradientConfig(
                num_restarts=restarts,
                num_iterations=min(8, max(1, p * i // restarts)),
                learning_rate=0.2,
                max_batch=max_batch,
            ),
            generator=generator,
        )
    raise ValueError(f"no optimizer for method {method!r}")


# ---- one method on a batch of seeds ----------------------------------------------------------------


@dataclass
class _Run:
    result: ClosedLoopResult
    planning_s: float
    replan_s: float | None
    imagined: dict[int, list[np.ndarray]] = field(default_factory=dict)


def _make_envs(env_id: str, count: int) -> list:
    return [gym.make(env_id, return_frames=True).unwrapped for _ in range(count)]


def _run_method(
    method: str,
    world,
    env_id: str,
    seeds: list[int],
    budget: PlanningBudget,
    steps: int,
    *,
    record_rows: int = 0,
    progress: bool = False,
) -> _Run:
    envs = _make_envs(env_id, len(seeds))
    action_dim = int(envs[0].action_space.shape[0])
    on_reset = on_step = None
    imagined: dict[int, list[np.ndarray]] = {}
    if method == "random":
        controller = RandomController(action_dim, seed=seeds[0])
        make_objective = None
    elif method == "expert":
        controller = ExpertController(envs, seed=seeds[0])
        make_objective = None
    else:
        controller = MPCController(
            _optimizer(method, budget, seeds[0], len(seeds)),
            budget.horizon,
            budget.replan_every,
            action_dim=action_dim,
        )
        goals = np.zeros((len(seeds), 3))  # filled once the envs are reset (on_reset runs after reset)
        task = envs[0].task
        if method.startswith("wfm-"):
            tracker = LatentTracker(world)
            dynamics = WorldModelDynamics(
                world,
                generator=torch.Generator().manual_seed(seeds[0]),
                samples=budget.samples,
                differentiable=method == "wfm-gradient",
                common_noise=budget.common_noise,
            )

            def on_reset(first_frames: np.ndarray) -> None:
                tracker.reset(first_frames)
                goals[:] = np.stack([env.goal for env in envs])

            def on_step(frames: np.ndarray, actions: np.ndarray) -> None:
                tracker.observe(frames, actions)

            def make_objective():
                dynamics.set_state(tracker.state)
                if record_rows:
                    _remember_state(imagined, tracker.state, record_rows)
                return PlanningObjective(dynamics, TaskStateCost(task, goals), budget.spread_weight)
        else:
            dynamics = OracleDynamics(envs, num_threads=1)

            def on_reset(first_frames: np.ndarray) -> None:
                goals[:] = np.stack([env.goal for env in envs])

            def make_objective():
                dynamics.set_state()
                return PlanningObjective(dynamics, TaskStateCost(task, goals))

    bar = tqdm(total=steps, desc=f"{method} x{len(seeds)}", disable=not progress, leave=False)
    result = run_closed_loop(
        envs,
        seeds,
        controller,
        make_objective or (lambda: None),
        steps=steps,
        on_reset=on_reset,
        on_step=on_step,
        record_frames=record_rows > 0,
        progress=lambda _: bar.update(1),
    )
    bar.close()
    for env in envs:
        env.close()
    times = np.asarray(result.planning_seconds)
    replan_s = float(times.sum() / result.replans) if result.replans else None
    return _Run(result, float(times.mean()), replan_s, imagined)


def _remember_state(store: dict, state, rows: int) -> None:
    """Keep the first ``rows`` problems' latent context at each replan (for the imagined-plan video)."""
    store.setdefault("states", []).append((state.latents[:rows].clone(), state.actions[:rows].clone()))


def _imagined_frames(world, run: _Run, budget: PlanningBudget, rows: int) -> np.ndarray:
    """Decode, for each replan, what the model foresaw for the plan it then executed: frames
    ``uint8 (rows, steps * k, H, W, 3)`` aligned with the MuJoCo frames of those steps."""
    k = world.actions_per_step
    chunks = []
    generator = torch.Generator().manual_seed(0)
    for (latents, actions), plan in zip(run.imagined["states"], run.result.plans, strict=True):
        held = plan[:rows, :, None, :].expand(-1, -1, k, -1).contiguous()  # (rows, H, k, A)
        future = world.rollout(LatentState(latents, actions), held, generator)  # (rows, C, H, h, w)
        frames = world.decode(torch.cat([latents, future], dim=2))  # context decoded as a clip start
        context_frames = 1 + k * (latents.shape[2] - 1)
        chunks.append(frames[:, context_frames : context_frames + k * budget.replan_every])
    return np.concatenate(chunks, axis=1)


# ---- the benchmark -----------------------------------------------------------------------------------


def _markdown(report: dict[str, Any]) -> str:
    b = report["budget"]
    lines = [
        "# Planning benchmark: MPC on held-out PushBlock seeds, acting in MuJoCo",
        "",
        f"{report['seeds']} seeds (reset seeds {SEED_OFFSET}..), {report['steps']} control steps of "
        f"{report['control_dt_s']} s each; success = block within {report['success_threshold_m'] * 100:.0f} cm of "
        f"the goal at the last step. Budget per problem and replan: horizon {b['horizon']}, population "
        f"{b['population']}, {b['iterations']} iterations, replanning every {b['replan_every']} steps, "
        f"{b['samples']} sample(s) per candidate ({b['latent_steps_per_control_step']:.0f} world-model steps "
        f"per control step). World model sampler: {report['sampler']}. Planning time: batch `act` time / N "
        "(all N problems in one batched call) and single-problem latency (N = 1, first seed, after one "
        "warm-up replanning cycle).",
        "",
        "| method | success | success (any step) | final distance mean / median (cm) | planning s/step (batch/N) "
        "| latency s/step (N=1) | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in report["methods"].items():
        s = r["summary"]
        latency = "-" if r["latency_s_per_step"] is None else f"{r['latency_s_per_step']:.3f}"
        rss = "-" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:.0f}"
        lines.append(
            f"| {name} | {s['success_rate']:.2f} | {s['success_any_rate']:.2f} | "
            f"{s['final_distance_mean_m'] * 100:.1f} / {s['final_distance_median_m'] * 100:.1f} | "
            f"{r['planning_s_per_step']:.4f} | {latency} | {rss} |"
        )
    if report.get("wfm_vs_oracle"):
        lines += ["", report["wfm_vs_oracle"]]
    lines += [
        "",
        "Peak RSS: the process's high-water mark, reset before each method (Linux); it includes what "
        "earlier methods left allocated.",
        f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
        f"{report['settings_threads']} torch threads.",
    ]
    return "\n".join(lines) + "\n"


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["methods"])
    success = [report["methods"][n]["summary"]["success_rate"] for n in names]
    distances = [np.asarray(report["methods"][n]["final_distance_m"]) * 100 for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.bar(names, success, color="tab:blue")
    left.set_ylim(0, 1)
    left.set_ylabel("success rate")
    left.tick_params(axis="x", rotation=30)
    right.boxplot(distances, tick_labels=names)
    right.axhline(report["success_threshold_m"] * 100, color="tab:green", ls="--", label="success threshold")
    right.set_ylabel("final block-to-goal distance (cm)")
    right.tick_params(axis="x", rotation=30)
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_planning_benchmark(
    checkpoint: str | Path | None,
    out: str | Path,
    *,
    methods: tuple[str, ...] = METHODS,
    seeds: int = 50,
    budget: PlanningBudget | None = None,
    steps: int | None = None,
    video_episodes: int = 3,
    guidance: float = 1.0,
    quick: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run ``methods`` on ``seeds`` held-out episodes; write and return the report.

    ``guidance``: classifier-free guidance scale of the world model's sampler while planning (1: none;
    > 1 strengthens the actions' effect on the predicted frames, at twice the network calls)."""
    budget = budget or PlanningBudget()
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"unknown planning methods {unknown or methods}; choose from {METHODS}")
    seeds = positive_int("planning", "seeds", seeds)
    if steps is not None:
        steps = positive_int("planning", "steps", steps)
    checkpoint, config, record = require_pushblock_model(
        "planning", checkpoint, "the task, its expert and oracle are PushBlock's"
    )
    out = check_output_folder("planning", out)
    # Every setting is checked before the model loads and the envs are built.
    if isinstance(video_episodes, bool) or not isinstance(video_episodes, int) or video_episodes < 0:
        raise ValueError(f"planning: video_episodes must be an integer >= 0, got {video_episodes!r}")
    budget.candidates_per_call(min(seeds, 2) if quick else seeds)  # --quick plans 2 seeds
    if not 1.0 <= guidance < math.inf:
        raise ValueError(
            f"guidance must be a finite number >= 1 (1: no classifier-free guidance), got {guidance!r}"
        )
    # On the CPU, as the other PushBlock benches: the planning loop has not been run on a GPU yet.
    world = load_world_model(checkpoint)
    world.sampler = dataclasses.replace(world.sampler, guidance=float(guidance))
    env_id = config.task
    probe = gym.make(env_id)
    episode_steps = probe.spec.max_episode_steps or 50
    control_dt, task = probe.unwrapped.dt, probe.unwrapped.task
    threshold = task.success_threshold
    probe.close()
    if quick:
        seeds, steps, video_episodes = min(seeds, 2), min(steps or episode_steps, 6), min(video_episodes, 1)
    steps = steps or episode_steps
    seed_list = [SEED_OFFSET + i for i in range(seeds)]
    (out / "methods").mkdir(parents=True, exist_ok=True)
    settings = {
        "checkpoint": str(checkpoint),
        # The weights, not only the folder: a model retrained into the same folder is planned afresh.
        "weights_sha256": record.get("weights_sha256"),
        "seeds": seed_list,
        "steps": steps,
        "budget": dataclasses.asdict(budget),
        # max_batch once counted candidates; results cached under that meaning are not reused.
        "max_batch_counts": "rollouts",
        "sampler": dataclasses.asdict(world.sampler),
        "device": str(world.device),
        "threads": torch.get_num_threads(),
    }
    results: dict[str, Any] = {}
    video_method = next((m for m in methods if m.startswith("wfm-")), None)
    video_rows = min(video_episodes, seeds) if video_method else 0
    video_path = out / "planning.mp4"
    video_record = out / "methods" / "video.json"  # which method and settings made planning.mp4
    fps = round(1 / (control_dt / world.actions_per_step))
    for method in methods:
        cache = out / "methods" / f"{method}.json"
        rows = video_rows if method == video_method else 0
        # A run that asks for a video reuses the video method's cached result only while planning.mp4 is
        # the one that result made (video.json, written after the video, says which).
        made_by = {"method": method, "settings": settings, "video_episodes": rows}
        if cache.is_file() and (not rows or (video_path.is_file() and _read_json(video_record) == made_by)):
            try:
                cached = json.loads(cache.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                # Not ours to keep (the writes below are atomic): the method is run again, over it.
                warnings.warn(
                    f"planning: {cache} is not a readable result ({error}); running {method} again",
                    stacklevel=2,
                )
                cached = {}
            if isinstance(cached, dict) and cached.get("settings") == settings:
                results[method] = cached
                continue
        _reset_peak_rss()
        tick = time.perf_counter()
        run = _run_method(
            method, world, env_id, seed_list, budget, steps, record_rows=rows, progress=progress
        )
        wall = time.perf_counter() - tick
        peak = _peak_rss_mb()
        latency = None
        if method not in ("random", "expert"):
            # One problem alone, 4 replanning cycles; the first (warm-up: allocations, caches) is dropped.
            cycle = budget.replan_every
            single = _run_method(method, world, env_id, seed_list[:1], budget, min(steps, 4 * cycle))
            times = single.result.planning_seconds
            latency = float(np.mean(times[cycle:] if len(times) > cycle else times))
        episodes = run.result.episodes
        final = [task.goal_distance(e.states[-1], e.goal) for e in episodes]
        record = MethodResult(
            method=method,
            settings=settings,
            success=[bool(task.success(e.states[-1], e.goal)) for e in episodes],
            success_any=[bool(any(task.success(s, e.goal) for s in e.states)) for e in episodes],
            final_distance_m=[float(d) for d in final],
            planning_s_per_step=run.planning_s / len(seed_list),
            latency_s_per_step=latency,
            replan_s=run.replan_s,
            peak_rss_mb=peak,
            wall_s=wall,
        )
        record.summarize()
        results[method] = dataclasses.asdict(record)
        if rows:
            truth = np.stack([np.stack(e.frames[1:]) for e in episodes[:rows]])  # (rows, steps * k, H, W, 3)
            imagined = _imagined_frames(world, run, budget, rows)[:, : truth.shape[1]]
            video = np.concatenate([truth, imagined], axis=3)  # truth | imagined, side by side
            video_record.unlink(missing_ok=True)  # until the new video is whole
            encode_video(video_path, np.concatenate(list(video), axis=0), fps=fps)
            write_bytes_atomic(video_record, (json.dumps(made_by, indent=1) + "\n").encode())
        # Written atomically: a killed run leaves no torn result.
        write_bytes_atomic(cache, (json.dumps(results[method], indent=1) + "\n").encode())
    made = _read_json(video_record)
    if video_path.is_file() and not (
        isinstance(made, dict) and made.get("settings") == settings and made.get("method") in results
    ):
        # A video of plans this report does not hold (other settings, or a method it did not run).
        video_path.unlink()
        video_record.unlink(missing_ok=True)
        print(f"planning: removed {video_path}, the video of another run")
    report: dict[str, Any] = {
        "checkpoint": str(checkpoint),
        "task": env_id,
        "seeds": seeds,
        "steps": steps,
        "control_dt_s": control_dt,
        "success_threshold_m": threshold,
        "budget": {
            **dataclasses.asdict(budget),
            "latent_steps_per_control_step": budget.latent_steps_per_control_step(),
        },
        "sampler": (
            f"{world.sampler.solver}, {world.sampler.steps} steps, sigma_min {world.sampler.sigma_min}, "
            f"guidance {world.sampler.guidance}"
        ),
        "machine": describe_machine(),
        "settings_threads": torch.get_num_threads(),
        "methods": results,
    }
    if "oracle-cem" in results and "wfm-cem" in results:
        wfm, oracle = (results[m]["summary"]["success_rate"] for m in ("wfm-cem", "oracle-cem"))
        ratio = wfm / oracle if oracle else float("nan")
        report["wfm_vs_oracle"] = (
            f"WFM-CEM success {wfm:.2f} vs oracle-CEM {oracle:.2f} with the same budget: "
            f"{ratio * 100:.0f}% of oracle (target >= 90%, and WFM success >= 0.8)."
        )
    write_bytes_atomic(out / "planning.json", (json.dumps(report, indent=1) + "\n").encode())
    markdown = _markdown(report)
    write_bytes_atomic(out / "planning.md", markdown.encode())
    _plot(report, out / "planning.png")
    print(markdown)
    return report
