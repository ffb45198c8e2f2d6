"""How strongly the world model's rollouts respond to actions, against MuJoCo (the figures in the
README's planning section):

    python scripts/action_response.py [--checkpoint cosmos_sim/zoo/wfm_pushblock] [--seed 30001]

Resets PushBlock with ``--seed``, drives it with the scripted expert for 12 steps while a
``LatentTracker`` encodes the rendered frames, prints the true and the tracked (``predict_state``) state,
then rolls 4 candidate plans of 4 steps out in MuJoCo and in the world model (a push towards the goal
and 3 uniform random plans) and prints, for several classifier-free guidance scales, the pusher's mean
displacement in both and the world model's final pusher and block errors.
"""

from __future__ import annotations

import argparse
import dataclasses

import gymnasium as gym
import numpy as np
import torch

import cosmos_sim.envs  # noqa: F401  (registers the ids)
from cosmos_sim.envs.tasks.push_block import PushBlockExpert
from cosmos_sim.planners.closed_loop import LatentTracker
from cosmos_sim.planners.dynamics import OracleDynamics, WorldModelDynamics
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="cosmos_sim/zoo/wfm_pushblock")
    parser.add_argument("--seed", type=int, default=30001)
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    args = parser.parse_args()

    world = load_world_model(args.checkpoint)
    env = gym.make("cosmos_sim/PushBlock-v0", return_frames=True).unwrapped
    obs, _ = env.reset(seed=args.seed)
    tracker = LatentTracker(world)
    tracker.reset(obs[None])
    expert = PushBlockExpert()
    for _ in range(12):
        action = expert(env.task_state(), env.goal)
        info = env.step(action)[4]
        tracker.observe(info["frames"][None], action[None])
    tracked = world.predict_state(tracker.state.latents[:, :, -1:])[0, 0].numpy()
    true = env.task_state()
    print(
        f"after 12 expert steps: true pusher, block {np.round(true[:4], 3)}, tracked {np.round(tracked[:4], 3)}"
    )
    print(
        f"tracking error: pusher {np.linalg.norm(tracked[:2] - true[:2]) * 100:.1f} cm, "
        f"block {np.linalg.norm(tracked[2:4] - true[2:4]) * 100:.1f} cm"
    )

    towards_goal = env.goal[:2] - true[2:4]
    towards_goal = towards_goal / np.linalg.norm(towards_goal)
    push = torch.tensor(np.tile(towards_goal, (1, 1, 4, 1)), dtype=torch.float32)  # (1, 1, H=4, 2)
    random = torch.rand(1, 3, 4, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    plans = torch.cat([push, random], dim=1)  # (N=1, P=4, H=4, A=2)
    oracle = OracleDynamics([env], num_threads=1)
    oracle.set_state()
    truth = oracle.predict(plans).states[0, :, 0]  # (P, H, S)
    start = torch.tensor(true[:2], dtype=torch.float32)
    for scale in args.guidance:
        world.sampler = dataclasses.replace(world.sampler, guidance=scale)
        dynamics = WorldModelDynamics(world, generator=torch.Generator().manual_seed(1))
        dynamics.set_state(tracker.state)
        predicted = dynamics.predict(plans).states[0, :, 0]
        moved_true = (truth[:, -1, :2] - start).norm(dim=-1).mean() * 100
        moved_pred = (predicted[:, -1, :2] - start).norm(dim=-1).mean() * 100
        pusher_error = (predicted[:, -1, :2] - truth[:, -1, :2]).norm(dim=-1).mean() * 100
        block_error = (predicted[:, -1, 2:4] - truth[:, -1, 2:4]).norm(dim=-1).mean() * 100
        print(
            f"guidance {scale}: pusher moved {moved_true:.1f} cm in MuJoCo, {moved_pred:.1f} cm in the model "
            f"over 4 steps; final pusher error {pusher_error:.1f} cm, block error {block_error:.1f} cm"
        )


if __name__ == "__main__":
    main()
