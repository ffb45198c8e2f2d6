"""How the world model's rollouts respond to actions, against MuJoCo (the figures in the README's
planning section):

    python scripts/action_response.py [--checkpoint cosmos_sim/zoo/wfm_pushblock] [--seeds 30001 30002 30003]

For each seed: reset PushBlock, drive it with the scripted expert for 8 steps while a
``LatentTracker`` encodes the rendered frames (the tracking error of ``predict_state`` is printed),
then push at full speed in each of the 4 axis directions for 4 steps, in MuJoCo (from the same
state) and in the world model (from the tracked latents), and print how far the pusher and the
block moved in each (the model's as read by ``predict_state``) and the model's final block error.
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np
import torch

import cosmos_sim.envs  # noqa: F401  (registers the ids)
from cosmos_sim.benchmarks.report import require_pushblock_model
from cosmos_sim.envs.tasks.push_block import PushBlockExpert
from cosmos_sim.planners.closed_loop import LatentTracker
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model

LEAD_STEPS = 8
PUSH_STEPS = 4
DIRECTIONS = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0))


def _expert_lead(env, seed: int, tracker: LatentTracker | None = None) -> None:
    """Reset with ``seed`` and take the expert's first ``LEAD_STEPS`` steps (tracking them if given)."""
    obs, _ = env.reset(seed=seed)
    if tracker is not None:
        tracker.reset(obs[None])
    expert = PushBlockExpert()
    for _ in range(LEAD_STEPS):
        action = expert(env.task_state(), env.goal)
        info = env.step(action)[4]
        if tracker is not None:
            tracker.observe(info["frames"][None], action[None])


def _cm(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) * 100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="cosmos_sim/zoo/wfm_pushblock")
    parser.add_argument("--seeds", type=int, nargs="+", default=[30001, 30002, 30003])
    args = parser.parse_args()

    try:  # a model of another scene is named before anything is loaded or recorded
        require_pushblock_model("action_response", args.checkpoint, "it drives the PushBlock env")
    except (ValueError, OSError) as error:
        raise SystemExit(str(error)) from None
    world = load_world_model(args.checkpoint)
    env = gym.make("cosmos_sim/PushBlock-v0", return_frames=True).unwrapped
    print("seed  push     pusher moved (cm) true / model   block moved (cm) true / model   block error (cm)")
    for seed in args.seeds:
        tracker = LatentTracker(world)
        _expert_lead(env, seed, tracker)
        start_true = env.task_state()
        start_model = world.predict_state(tracker.state.latents[:, :, -1:])[0, 0].numpy()
        print(
            f"{seed}: tracking error after {LEAD_STEPS} expert steps: pusher "
            f"{_cm(start_model[:2], start_true[:2]):.1f} cm, block {_cm(start_model[2:4], start_true[2:4]):.1f} cm"
        )
        for direction in DIRECTIONS:
            action = np.asarray(direction, dtype=np.float32)
            _expert_lead(env, seed)  # the same start state, then the push in MuJoCo
            for _ in range(PUSH_STEPS):
                env.step(action)
            end_true = env.task_state()
            actions = torch.from_numpy(np.tile(action, (1, PUSH_STEPS, world.actions_per_step, 1)))
            latents = world.rollout(tracker.state, actions, torch.Generator().manual_seed(0))
            end_model = world.predict_state(latents)[0, -1].numpy()
            print(
                f"{seed}  {direction!s:10}  {_cm(end_true[:2], start_true[:2]):5.1f} / {_cm(end_model[:2], start_model[:2]):5.1f}"
                f"                  {_cm(end_true[2:4], start_true[2:4]):5.1f} / {_cm(end_model[2:4], start_model[2:4]):5.1f}"
                f"                 {_cm(end_model[2:4], end_true[2:4]):5.1f}"
            )


if __name__ == "__main__":
    main()
