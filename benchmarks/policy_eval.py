"""``cosmos-sim bench policy-eval``: does a world model rank policies as the real scene does?

A world-model env is useful for policy evaluation when a policy that does better in the MuJoCo scene
also does better inside the model. For each of ``POLICIES`` (PushBlock policies of graded quality: the
scripted expert, the expert with Gaussian action noise of std 0.3, 0.6 and 1.0, the expert acting on
every 4th step only, uniform random actions) and each of ``episodes`` held-out reset seeds
(``seed, seed + 1, ...``, default from 20,000, disjoint from the training seeds 0.. and the rollout
benchmark's 1,000,000..), one episode of ``steps`` control steps (default the scene's registered
episode length, 50) is run on each side:

  - MuJoCo: the world model's task scene (``cosmos_sim/PushBlock-v0`` at the model's frame size and
    frames per step, i.e. the plain registered env for the zoo model) reset with the seed; the policy
    reads the true state and goal from ``info``;
  - world model: ``cosmos_sim/WFM-PushBlock-v0`` vectorized (``gym.make_vec``, one batched model call
    per step for up to ``batch`` episodes, the control sampler), each sub-env started from exactly the
    MuJoCo episode's start: its reset frame and goal, handed over in ``reset(options={"frames",
    "goal"})`` (the env's own ``reset_source="mujoco"`` would reset the scene with a seed *drawn from*
    the sub-env's generator, a different scene). The policy reads the model's ``predict_state`` of its
    latest latent frame and the goal from ``info``: a model that mispredicts the pusher or the block
    misleads it.

A policy's randomness comes from a numpy Generator per episode seeded by (episode seed, policy index),
the same on both sides, so the two sides' episodes are paired. Per policy and side: success rate
(``info["is_success"]`` after the last step; for the model it is the task's success rule applied to the
predicted state), success at any step, and the mean final block-to-goal distance (true, resp.
predicted). Over the policies: the Spearman rank correlation (``scipy.stats.spearmanr``, ties ranked
by their mean) of MuJoCo against world-model success rates, the figure the lead's target (>= 0.8) is
about, with a 95% bootstrap interval over the seeds (``success_rho_interval``), and of the mean final
distances (a finer secondary figure when success rates tie). A correlation is undefined (``null``,
with the reason in its ``note``) where one side gives every policy the same value. Wall time per side
and policy.

Why 128 episodes by default: a success rate p from n episodes is known to about +-sqrt(p(1-p)/n),
+-5 points for p = 0.1 at n = 32 and +-2.7 at n = 128, and the zoo model's six rates lie within 5
points of each other (5-10% on 128 episodes). Its rho on seeds 20000..20031 was 0.70 stepped 32 at a
time and 0.00 stepped 64 at a time (bfloat16 rounds differently at another batch size and the
rollouts part ways; the bootstrap over seeds does not capture that); on 128 seeds it is 0.17,
interval -0.52 .. 0.77.

Cost with the defaults (6 policies x 128 episodes x 50 steps) with the zoo model on the 2-core
development machine: the MuJoCo side 55 s (~1.3 ms an env step), the model side 199 s (6 x 2 x 50
batched steps of 64 sub-envs), 4.2 minutes in all. ``quick=True``: 4 episodes of 10 steps per policy,
under 10 s.

Writes ``policy_eval.json`` (per-episode outcomes included) and ``policy_eval.md`` into the output
folder and prints the table. It is short enough to rerun whole; nothing is resumed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from scipy.stats import bootstrap, spearmanr
from tqdm import tqdm

import cosmos_sim.envs  # noqa: F401  (registers the env ids)
from cosmos_sim.benchmarks.machine import describe_machine
from cosmos_sim.benchmarks.report import check_output_folder, positive_int, require_pushblock_model
from cosmos_sim.data.video_io import write_bytes_atomic
from cosmos_sim.envs.policies import Policy, PushBlockExpertPolicy, RandomPolicy
from cosmos_sim.envs.tasks.push_block import PushBlockTask

WFM_ENV_ID = "cosmos_sim/WFM-PushBlock-v0"
HELDOUT_SEED = 20_000
"""First reset seed: training data uses seeds 0.., the rollout benchmark 1,000,000.."""


@dataclass
class EveryNthStepPolicy:
    """``inner`` acting on steps 0, n, 2n, ... of an episode and a zero action in between."""

    inner: Policy
    n: int
    name: str = "every-nth"
    _step: int = field(default=0, repr=False)

    def reset(self, rng: np.random.Generator) -> None:
        self.inner.reset(rng)
        self._step = 0

    def __call__(self, obs: Any, info: dict[str, Any]) -> np.ndarray:
        action = self.inner(obs, info) if self._step % self.n == 0 else np.zeros(2, dtype=np.float32)
        self._step += 1
        return action


@dataclass(frozen=True)
class PolicySpec:
    """One evaluated policy: a fresh instance per episode from ``make(action_space)``."""

    name: str
    """Row label in the report."""
    description: str
    """What the policy does, for the report."""
    make: Callable[[gym.spaces.Box], Policy]
    """Builds the policy for an action space; each episode gets its own instance."""


POLICIES: tuple[PolicySpec, ...] = (
    PolicySpec("expert", "scripted expert on the state in info", lambda space: PushBlockExpertPolicy()),
    PolicySpec(
        "expert-noise-0.3",
        "expert + N(0, 0.3^2) on each action",
        lambda space: PushBlockExpertPolicy(noise=0.3),
    ),
    PolicySpec(
        "expert-every-4th",
        "expert on every 4th step, zero action in between",
        lambda space: EveryNthStepPolicy(PushBlockExpertPolicy(), n=4),
    ),
    PolicySpec(
        "expert-noise-0.6",
        "expert + N(0, 0.6^2) on each action",
        lambda space: PushBlockExpertPolicy(noise=0.6),
    ),
    PolicySpec(
        "expert-noise-1.0",
        "expert + N(0, 1.0^2) on each action",
        lambda space: PushBlockExpertPolicy(noise=1.0),
    ),
    PolicySpec("random", "uniform random action, new each step", lambda space: RandomPolicy(space)),
)
"""Best first, as the MuJoCo scene ranks them on the default 128 episodes of 50 steps: success after
the last step 0.99, 0.73, 0.65, 0.56, 0.36, 0 (mean final distance 0.9, 3.0, 3.5, 5.5, 7.1, 19.5 cm)."""


def _policy_rng(seed: int, policy_index: int) -> np.random.Generator:
    return np.random.default_rng([seed, policy_index])


def _metres(value: float) -> float | None:
    """A distance for the JSON: None where a predicted state was not finite (JSON has no NaN)."""
    return round(float(value), 5) if np.isfinite(value) else None


def _episode_record(success: np.ndarray, success_any: np.ndarray, distance: np.ndarray, seconds: float):
    """Per-side outcome of one policy's episodes (arrays over episodes)."""
    return {
        "success_rate": round(float(success.mean()), 4),
        "success_any_rate": round(float(success_any.mean()), 4),
        "final_distance_m": _metres(distance.mean()),
        "seconds": round(seconds, 2),
        "success": success.astype(bool).tolist(),
        "final_distances_m": [_metres(d) for d in distance],
    }


def mujoco_starts(env: gym.Env, seeds: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The reset frame uint8 (E, H, W, 3) and goal float64 (E, G) of ``env.reset(seed=s)`` per seed."""
    frames, goals = [], []
    for seed in seeds:
        frame, info = env.reset(seed=int(seed))
        frames.append(frame)
        goals.append(np.asarray(info["goal"], dtype=np.float64))
    return np.stack(frames), np.stack(goals)


def run_mujoco_episodes(
    env: gym.Env, spec: PolicySpec, policy_index: int, seeds: Sequence[int], steps: int
) -> dict[str, Any]:
    """One episode of ``steps`` steps per seed in the MuJoCo scene ``env``; the policy sees the true state."""
    task: PushBlockTask = env.unwrapped.task
    success, success_any, distance = (np.zeros(len(seeds)) for _ in range(3))
    start = time.perf_counter()
    for e, seed in enumerate(seeds):
        policy = spec.make(env.action_space)
        policy.reset(_policy_rng(seed, policy_index))
        obs, info = env.reset(seed=int(seed))
        for _ in range(steps):
            obs, _, terminated, truncated, info = env.step(policy(obs, info))
            success_any[e] = max(success_any[e], info["is_success"])
            if terminated or truncated:
                break
        success[e] = info["is_success"]
        distance[e] = task.goal_distance(info["state"], info["goal"])
    return _episode_record(success, success_any, distance, time.perf_counter() - start)


def run_wfm_episodes(
    envs: gym.vector.VectorEnv,
    spec: PolicySpec,
    policy_index: int,
    seeds: Sequence[int],
    starts: tuple[np.ndarray, np.ndarray],
    steps: int,
) -> dict[str, Any]:
    """One episode per seed in the world-model vector env, ``envs.num_envs`` at a time, each started
    from ``starts`` (frames (E, H, W, 3), goals (E, G)); the policy sees the predicted state."""
    task: PushBlockTask = envs.unwrapped.core.task
    n, count = envs.num_envs, len(seeds)
    success, success_any, distance = (np.zeros(count) for _ in range(3))
    start = time.perf_counter()
    for first in range(0, count, n):
        # A short last batch is padded with copies of its last episode, whose outcomes are dropped.
        rows = np.minimum(np.arange(first, first + n), count - 1)
        policies = [spec.make(envs.single_action_space) for _ in range(n)]
        for policy, row in zip(policies, rows, strict=True):
            policy.reset(_policy_rng(seeds[row], policy_index))
        options = {"frames": starts[0][rows][:, None], "goal": starts[1][rows]}  # frames (n, 1, H, W, 3)
        obs, info = envs.reset(seed=[int(seeds[r]) for r in rows], options=options)
        ended = np.zeros(n, dtype=bool)
        hit, last_success, last_distance = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n)
        for _ in range(steps):
            actions = np.stack(
                [
                    policy(obs[i], {"state": info["state"][i], "goal": info["goal"][i]})
                    for i, policy in enumerate(policies)
                ]
            )
            obs, _, terminated, truncated, info = envs.step(actions)
            # NEXT_STEP autoreset: a sub-env that ended is reset by the following step, which must not
            # count; ``live`` keeps only the sub-envs still in their episode.
            live = ~ended
            hit[live] |= info["is_success"][live]
            last_success[live] = info["is_success"][live]
            last_distance[live] = task.goal_distance(info["state"][live], info["goal"][live])
            ended |= terminated | truncated
            if ended.all():
                break
        keep = slice(0, min(n, count - first))
        success[first : first + n] = last_success[keep]
        success_any[first : first + n] = hit[keep]
        distance[first : first + n] = last_distance[keep]
    return _episode_record(success, success_any, distance, time.perf_counter() - start)


def rank_correlation(mujoco: Sequence[float], wfm: Sequence[float]) -> dict[str, Any]:
    """Spearman's rho of two per-policy figures; ``rho`` None with the reason where it is undefined."""
    for side, values in (("MuJoCo", mujoco), ("world model", wfm)):
        if not all(v is not None and np.isfinite(v) for v in values):
            return {"rho": None, "p_value": None, "note": f"undefined: the {side} side has non-finite values"}
        if np.ptp(values) == 0:
            return {
                "rho": None,
                "p_value": None,
                "note": f"undefined: the {side} side gives every policy the same value ({values[0]:g}), "
                "so it ranks none above another",
            }
    rho, p_value = spearmanr(mujoco, wfm)
    return {"rho": round(float(rho), 3), "p_value": round(float(p_value), 4), "note": None}


def success_rho_interval(
    mujoco: np.ndarray, wfm: np.ndarray, *, resamples: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """95% bootstrap interval of the success-rate Spearman rho, from per-episode successes (E, P) of
    each side (``scipy.stats.bootstrap``, percentile method, episodes resampled with replacement).

    The episodes are paired: episode ``e`` of every policy and both sides starts from the same reset
    seed, so a resample draws whole seeds. A resample where one side gives every policy the same rate
    has no rho; it counts as 0 (no ranking), and how many did is reported. The interval says how much
    of rho is the luck of the seeds. Needs at least 2 episodes."""
    episodes = mujoco.shape[0]
    undefined = 0

    def rho(index: np.ndarray) -> float:
        nonlocal undefined
        m, w = mujoco[index].mean(axis=0), wfm[index].mean(axis=0)
        if np.ptp(m) == 0 or np.ptp(w) == 0:
            undefined += 1
            return 0.0
        return float(spearmanr(m, w).statistic)

    result = bootstrap(
        (np.arange(episodes),),
        rho,
        n_resamples=resamples,
        vectorized=False,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return {
        "low": round(float(low), 3),
        "high": round(float(high), 3),
        "resamples": resamples,
        "undefined": undefined,
    }


def _rho_text(corr: dict[str, Any]) -> str:
    if corr["rho"] is None:
        return corr["note"]
    text = f"**{corr['rho']:.2f}** (p = {corr['p_value']:.3f}"
    if "interval" in corr:
        low, high = corr["interval"]["low"], corr["interval"]["high"]
        text += f"; 95% bootstrap interval over the seeds {low:.2f} .. {high:.2f}"
    return text + ")"


def _cm(metres: float | None) -> str:
    return "-" if metres is None else f"{100 * metres:.1f}"


def _markdown(r: dict[str, Any]) -> str:
    lines = [
        f"Policy evaluation: world model `{r['checkpoint']}` ({r['wfm_env']}) against {r['task']}, "
        f"{r['episodes']} episodes of {r['steps']} steps per policy from reset seeds "
        f"{r['seeds'][0]}..{r['seeds'][1]}.",
        "",
        "| policy | MuJoCo success | WFM success | MuJoCo success any step | WFM success any step "
        "| MuJoCo final distance (cm) | WFM final distance (cm) |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in r["policies"]:
        m, w = p["mujoco"], p["wfm"]
        lines.append(
            f"| {p['name']} | {m['success_rate']:.0%} | {w['success_rate']:.0%} "
            f"| {m['success_any_rate']:.0%} | {w['success_any_rate']:.0%} "
            f"| {_cm(m['final_distance_m'])} | {_cm(w['final_distance_m'])} |"
        )
    s, t = r["spearman"], r["seconds"]
    lines += [
        "",
        f"Spearman rank correlation over the {len(r['policies'])} policies, MuJoCo vs world model: "
        f"success rate {_rho_text(s['success_rate'])} (target >= 0.8); "
        f"final distance {_rho_text(s['final_distance'])}.",
        "",
        f"Wall time: MuJoCo {t['mujoco']:.1f} s, world model {t['wfm']:.1f} s ({r['batch']} sub-envs per "
        f"batched step; {r['machine']['device']}, {r['machine']['threads']} threads).",
    ]
    return "\n".join(lines) + "\n"


def run_policy_eval_benchmark(
    checkpoint: str | Path | None,
    out: str | Path,
    *,
    episodes: int = 128,
    steps: int | None = None,
    batch: int = 64,
    seed: int = HELDOUT_SEED,
    quick: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every policy of ``POLICIES`` in MuJoCo and in the world model at ``checkpoint`` (None: the
    zoo's ``wfm_pushblock``); write ``policy_eval.json`` and ``policy_eval.md`` into ``out``."""
    episodes, batch = (
        positive_int("policy-eval", "episodes", episodes),
        positive_int("policy-eval", "batch", batch),
    )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"policy-eval: seed must be a non-negative integer, got {seed!r}")
    path, config, _ = require_pushblock_model("policy-eval", checkpoint, "its policies are PushBlock's")
    out = check_output_folder("policy-eval", out)
    steps = (
        gym.spec(config.task).max_episode_steps
        if steps is None
        else positive_int("policy-eval", "steps", steps)
    )
    if quick:
        episodes, steps = min(episodes, 4), min(steps, 10)
    seeds = list(range(seed, seed + episodes))

    envs = gym.make_vec(
        WFM_ENV_ID,
        num_envs=min(episodes, batch),
        vectorization_mode="vector_entry_point",
        checkpoint=path,
        task_env_id=config.task,
        max_episode_steps=steps,
    )
    core = envs.unwrapped.core
    # The scene as the model sees it (for the zoo model: PushBlock-v0's defaults), under a time limit.
    scene = gym.make(
        config.task,
        width=core.width,
        height=core.height,
        frames_per_step=core.frames_per_step,
        max_episode_steps=steps,
    )
    try:
        starts = mujoco_starts(scene, seeds)
        rows = []
        for index, spec in enumerate(tqdm(POLICIES, desc="policy eval", disable=not progress)):
            rows.append(
                {
                    "name": spec.name,
                    "description": spec.description,
                    "mujoco": run_mujoco_episodes(scene, spec, index, seeds, steps),
                    "wfm": run_wfm_episodes(envs, spec, index, seeds, starts, steps),
                }
            )
    finally:
        scene.close()
        envs.close()

    spearman = {
        name: rank_correlation([p["mujoco"][key] for p in rows], [p["wfm"][key] for p in rows])
        for name, key in (("success_rate", "success_rate"), ("final_distance", "final_distance_m"))
    }
    if spearman["success_rate"]["rho"] is not None and episodes >= 2:  # one episode: nothing to resample
        per_episode = {
            side: np.array([p[side]["success"] for p in rows], float).T for side in ("mujoco", "wfm")
        }
        spearman["success_rate"]["interval"] = success_rho_interval(per_episode["mujoco"], per_episode["wfm"])
    results = {
        "checkpoint": str(path),
        "task": config.task,
        "wfm_env": WFM_ENV_ID,
        "episodes": episodes,
        "steps": steps,
        "seeds": [seeds[0], seeds[-1]],
        "batch": envs.num_envs,
        "sampler": dataclasses.asdict(core.world.sampler),
        "policies": rows,
        "spearman": spearman,
        "seconds": {side: round(sum(p[side]["seconds"] for p in rows), 2) for side in ("mujoco", "wfm")},
        "machine": describe_machine(device=str(core.world.device), threads=torch.get_num_threads()),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(
        out / "policy_eval.json", (json.dumps(results, indent=2, allow_nan=False) + "\n").encode()
    )
    markdown = _markdown(results)
    write_bytes_atomic(out / "policy_eval.md", markdown.encode())
    print(markdown)
    return results
