"""``cosmos-sim bench plan-ranking``: does the world model rank candidate plans as MuJoCo does?

A sampling planner (CEM, iCEM, MPPI, random shooting) keeps the candidate action sequences its model
scores best. Whether that can work is a property of the model that needs no closed loop: given a set
of candidates from one state, does the model's cost order them as the true cost does, and is the
candidate it scores best a good one in truth? This benchmark measures that, in a few minutes, for
any PushBlock world model; the closed loop (``cosmos-sim bench planning``) then shows what the
planner makes of it.

States: for each of ``seeds`` held-out reset seeds (the planning benchmark's, from 30,000) one
PushBlock episode is driven by the scripted expert with Gaussian action noise 0.3 (a numpy Generator
seeded by the reset seed), and the planning problem is posed after each of ``leads`` control steps
(0, 4, 8, 12: the pusher far from the block, on its way, and pushing). A ``LatentTracker`` encodes
the frames the camera rendered, so the model starts from what a planner would start from.

Candidates: ``candidates`` sequences of ``horizon`` actions per state: 8 constant full-speed pushes
(one per compass direction) and uniform random ones on [-1, 1] (seeded by the reset seed and the lead).
The same candidates are rolled out in MuJoCo from a snapshot (``OracleDynamics``) and in the world
model (``WorldModelDynamics``, the model's control sampler) twice: with common noise (every
candidate of a state sampled with the same noise) and with independent noise (the planners' default).

Per state and model variant:

- Spearman rank correlation of the model's cost and the true cost over the candidates: the cost
  the planners minimize (``TaskStateCost``, the task's reward summed over the horizon) and each of
  its two distance terms alone: block to goal and pusher to block, summed over the horizon;
- pick quality: ``(mean true cost - true cost of the model's pick) / (mean true cost - best true
  cost)``, the model's pick being its lowest-cost candidate. 1: the model picks the truly best
  candidate; 0: no better than a candidate drawn at random; negative: worse. Aggregated as a ratio
  of sums over states, so that states where every candidate costs about the same weigh little;
- the pick's block progress towards the goal over the horizon, as the model foresaw it and as
  MuJoCo gave it: a planner drawn to the model's optimistic errors picks candidates whose foreseen
  progress exceeds the true one.

Means over the states come with 95% bootstrap intervals (``scipy.stats.bootstrap``, percentile
method, states resampled). Results are deterministic for the seed list. Cost with the defaults (16
seeds x 4 leads, 64 candidates, horizon 4) for the zoo model on the 2-core development machine:
about 3 minutes, nearly all of it model rollouts; ``quick=True``: 2 seeds, 2 leads, 16 candidates.

Writes ``plan_ranking.json`` (per-state figures included) and ``plan_ranking.md`` into the output
folder and prints the table.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from scipy.stats import bootstrap, spearmanr
from tqdm import tqdm

import cosmos_sim.envs  # noqa: F401  (registers the env ids)
from cosmos_sim.benchmarks.machine import describe_machine
from cosmos_sim.benchmarks.report import check_output_folder, jsonable, positive_int, require_pushblock_model
from cosmos_sim.data.video_io import write_bytes_atomic
from cosmos_sim.envs.tasks.push_block import PushBlockExpert
from cosmos_sim.planners.closed_loop import LatentTracker
from cosmos_sim.planners.costs import TaskStateCost
from cosmos_sim.planners.dynamics import OracleDynamics, Prediction, WorldModelDynamics
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model

SEED_OFFSET = 30_000
"""The planning benchmark's held-out reset seeds; recordings for training use seeds below 10,000."""
LEADS = (0, 4, 8, 12)
EXPERT_NOISE = 0.3
VARIANTS = {"common noise": True, "independent noise": False}
"""Model variants: name -> ``WorldModelDynamics(common_noise=...)``."""
PLANNERS_DEFAULT = "independent noise"
"""The variant the planners use unless asked (``common_noise=False``); the per-lead table shows it."""
TERMS = ("cost", "goal_term", "pusher_term")


def candidate_plans(states: int, candidates: int, horizon: int, seed: int) -> torch.Tensor:
    """``float32 (states, candidates, horizon, 2)``: 8 constant full-speed compass pushes, then
    uniform random sequences on [-1, 1]."""
    rng = np.random.default_rng(seed)
    plans = rng.uniform(-1.0, 1.0, (states, candidates, horizon, 2)).astype(np.float32)
    angles = np.linspace(0.0, 2.0 * np.pi, 8, endpoint=False)
    compass = np.stack([np.cos(angles), np.sin(angles)], axis=-1).astype(np.float32)  # (8, 2)
    pushes = min(8, candidates)
    plans[:, :pushes] = compass[None, :pushes, None, :]
    return torch.from_numpy(plans)


def plan_costs(task, goals: np.ndarray, prediction: Prediction) -> dict[str, np.ndarray]:
    """Per candidate ``(N, P)``: the planners' cost and its two distance terms, each summed over the
    horizon, and the block-to-goal distance after the last step (mean over the prediction's samples)."""
    states = prediction.states.mean(dim=2)  # (N, P, H, S)
    goal = torch.as_tensor(goals, dtype=torch.float32)[:, None, None]  # (N, 1, 1, G)
    goal_distance = task.goal_distance(states, goal)  # (N, P, H)
    return {
        "cost": TaskStateCost(task, goals)(prediction).mean(dim=-1).numpy(),
        "goal_term": goal_distance.sum(-1).numpy(),
        "pusher_term": task.pusher_distance(states).sum(-1).numpy(),
        "goal_end": goal_distance[..., -1].numpy(),
    }


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rho of two cost vectors; NaN where one side gives every candidate the same cost."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def score_state(
    true: dict[str, np.ndarray], model: dict[str, np.ndarray], true_start: np.ndarray, model_start: np.ndarray
) -> dict[str, float]:
    """One problem's figures from its candidates' true and model costs ``(P,)`` and the block-to-goal
    distance at the start, true and as the model reads it."""
    pick = int(np.argmin(model["cost"]))
    cost = true["cost"]
    return {
        **{f"rho_{term}": _spearman(true[term], model[term]) for term in TERMS},
        "pick_gain": float(cost.mean() - cost[pick]),
        "best_gain": float(cost.mean() - cost.min()),
        # progress of the pick's last step, in metres: start distance - end distance
        "pick_progress_true_m": float(true_start - true["goal_end"][pick]),
        "pick_progress_model_m": float(model_start - model["goal_end"][pick]),
    }


def _interval(
    values: Sequence[float] | tuple[np.ndarray, np.ndarray], statistic, seed: int = 0
) -> list[float]:
    data = values if isinstance(values, tuple) else (np.asarray(values, float),)
    if len(data[0]) < 2:
        return [float("nan"), float("nan")]
    result = bootstrap(
        data,
        statistic,
        paired=len(data) > 1,
        vectorized=False,
        n_resamples=2000,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return [float(result.confidence_interval.low), float(result.confidence_interval.high)]


def summarize(rows: list[dict[str, float]]) -> dict[str, Any]:
    """Means over states with 95% bootstrap intervals; pick quality as a ratio of sums."""
    summary: dict[str, Any] = {"states": len(rows)}
    for term in TERMS:
        values = np.array([r[f"rho_{term}"] for r in rows], float)
        values = values[np.isfinite(values)]
        summary[f"rho_{term}"] = {
            "mean": float(values.mean()) if len(values) else float("nan"),
            "interval": _interval(values, np.mean),
            "states": len(values),
        }
    pick = np.array([r["pick_gain"] for r in rows], float)
    best = np.array([r["best_gain"] for r in rows], float)
    summary["pick_quality"] = {
        "value": float(pick.sum() / best.sum()) if best.sum() > 0 else float("nan"),
        "interval": _interval((pick, best), lambda p, b: p.sum() / b.sum() if b.sum() > 0 else 0.0),
    }
    for side in ("true", "model"):
        summary[f"pick_progress_{side}_cm"] = 100 * float(
            np.mean([r[f"pick_progress_{side}_m"] for r in rows])
        )
    return summary


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Plan ranking: does the world model order candidate plans as MuJoCo does?",
        "",
        f"World model `{report['checkpoint']}`; {report['seeds'][1] - report['seeds'][0] + 1} held-out seeds "
        f"({report['seeds'][0]}..{report['seeds'][1]}) x leads {report['leads']} expert steps (noise "
        f"{EXPERT_NOISE}) = {report['states']} states; {report['candidates']} candidates of horizon "
        f"{report['horizon']} each (8 constant pushes, the rest uniform random). Spearman rho of model "
        "vs true cost over a state's candidates, mean over states [95% bootstrap interval]. Pick quality: "
        "how much better than the average candidate the model's lowest-cost pick truly is, as a share of "
        "what the truly best one gains (1 = best, 0 = random).",
        "",
        "| model | rho, planning cost | rho, block-goal term | rho, pusher-block term | pick quality | "
        "pick's block progress, foreseen / true |",
        "|---|---|---|---|---|---|",
    ]

    def cell(entry: dict[str, Any], key: str = "mean") -> str:
        low, high = entry["interval"]
        return f"{entry[key]:.2f} [{low:.2f}, {high:.2f}]"

    for name, v in report["variants"].items():
        lines.append(
            f"| {name} | {cell(v['rho_cost'])} | {cell(v['rho_goal_term'])} | {cell(v['rho_pusher_term'])} | "
            f"{cell(v['pick_quality'], 'value')} | {v['pick_progress_model_cm']:.1f} / "
            f"{v['pick_progress_true_cm']:.1f} cm |"
        )
    lines += [
        "",
        f"Per lead ({PLANNERS_DEFAULT}): rho of the planning cost and of the block-goal term, pick quality",
        "",
    ]
    lines += ["| lead (expert steps) | rho, cost | rho, block-goal | pick quality |", "|---|---|---|---|"]
    for lead, v in report["per_lead"].items():
        lines.append(
            f"| {lead} | {v['rho_cost']['mean']:.2f} | {v['rho_goal_term']['mean']:.2f} | "
            f"{v['pick_quality']['value']:.2f} |"
        )
    m = report["machine"]
    lines += [
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('threads', '?')} threads; {report['seconds']:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


def run_plan_ranking_benchmark(
    checkpoint: str | Path | None,
    out: str | Path,
    *,
    seeds: int = 16,
    leads: Sequence[int] = LEADS,
    candidates: int = 64,
    horizon: int = 4,
    quick: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Score how the world model at ``checkpoint`` (None: the zoo's ``wfm_pushblock``) ranks candidate
    plans against MuJoCo; write ``plan_ranking.json`` and ``plan_ranking.md`` into ``out``."""
    seeds, candidates, horizon = (
        positive_int("plan-ranking", name, value)
        for name, value in (("seeds", seeds), ("candidates", candidates), ("horizon", horizon))
    )
    leads = sorted(set(leads))
    if not leads or any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 0 for x in leads):
        raise ValueError(f"plan-ranking: leads must be non-negative integers, got {leads!r}")
    if candidates < 2:
        raise ValueError(f"plan-ranking: candidates must be >= 2 to rank, got {candidates}")
    path, config, _ = require_pushblock_model(
        "plan-ranking", checkpoint, "the costs and the expert are PushBlock's"
    )
    out = check_output_folder("plan-ranking", out)
    if quick:
        seeds, leads, candidates = min(seeds, 2), leads[:2], min(candidates, 16)
    seed_list = list(range(SEED_OFFSET, SEED_OFFSET + seeds))
    tick = time.perf_counter()
    world = load_world_model(path)
    envs = [gym.make(config.task, return_frames=True).unwrapped for _ in seed_list]
    task = envs[0].task
    expert = PushBlockExpert(noise=EXPERT_NOISE)
    rngs = [np.random.default_rng(seed) for seed in seed_list]
    tracker = LatentTracker(world)
    tracker.reset(np.stack([env.reset(seed=seed)[0] for env, seed in zip(envs, seed_list, strict=True)]))
    goals = np.stack([env.goal for env in envs])
    oracle = OracleDynamics(envs, num_threads=1)
    per_state: dict[str, list[dict[str, Any]]] = {name: [] for name in VARIANTS}
    steps_taken = 0
    try:
        for lead in tqdm(leads, desc="plan ranking", disable=not progress):
            while steps_taken < lead:  # drive every episode on to this lead
                actions = np.stack(
                    [expert(env.task_state(), env.goal, rng) for env, rng in zip(envs, rngs, strict=True)]
                )
                frames = np.stack([env.step(a)[4]["frames"] for env, a in zip(envs, actions, strict=True)])
                tracker.observe(frames, actions)
                steps_taken += 1
            plans = candidate_plans(seeds, candidates, horizon, seed=SEED_OFFSET * 100 + lead)
            oracle.set_state()
            true = plan_costs(task, goals, oracle.predict(plans))
            true_start = task.goal_distance(np.stack([env.task_state() for env in envs]), goals)
            with torch.no_grad():
                model_start_state = world.predict_state(tracker.state.latents[:, :, -1:])[:, 0].float()
            model_start = task.goal_distance(model_start_state.numpy(), goals)
            for name, common in VARIANTS.items():
                dynamics = WorldModelDynamics(
                    world, generator=torch.Generator().manual_seed(lead), common_noise=common
                )
                dynamics.set_state(tracker.state)
                with torch.no_grad():
                    prediction = dynamics.predict(plans)
                model = plan_costs(task, goals, prediction)
                for i, seed in enumerate(seed_list):
                    row = score_state(
                        {k: v[i] for k, v in true.items()},
                        {k: v[i] for k, v in model.items()},
                        true_start[i],
                        model_start[i],
                    )
                    per_state[name].append({"seed": seed, "lead": lead, **row})
    finally:
        for env in envs:
            env.close()

    report = {
        "checkpoint": str(path),
        "task": config.task,
        "seeds": [seed_list[0], seed_list[-1]],
        "leads": leads,
        "states": seeds * len(leads),
        "candidates": candidates,
        "horizon": horizon,
        "sampler": dataclasses.asdict(world.sampler),
        "variants": {name: summarize(rows) for name, rows in per_state.items()},
        "per_lead": {
            lead: summarize([r for r in per_state[PLANNERS_DEFAULT] if r["lead"] == lead]) for lead in leads
        },
        "per_state": per_state,
        "seconds": time.perf_counter() - tick,
        "machine": describe_machine(device=str(world.device), threads=torch.get_num_threads()),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(
        out / "plan_ranking.json", (json.dumps(jsonable(report), indent=2, allow_nan=False) + "\n").encode()
    )
    markdown = _markdown(report)
    write_bytes_atomic(out / "plan_ranking.md", markdown.encode())
    print(markdown)
    return report
