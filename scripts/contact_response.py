"""One-step block response of a PushBlock world model, teacher-forced on held-out episodes:

    python scripts/contact_response.py [--checkpoint cosmos_sim/zoo/wfm_pushblock] [--episodes 16]
        [--steps 2 --solver euler --sigma-min 2.0]

Every window of 2 true latent frames and the true actions into the next one is given to the model;
its next latent frame (the control sampler unless ``--steps``/``--solver``/``--sigma-min`` say
otherwise; ``--sigma-min 0`` runs the schedule to the end) is read by ``predict_state``. For the windows where MuJoCo
moved the block by at least ``--min-move`` cm in that latent step, the table gives the block's
displacement along the true direction, as MuJoCo moved it, as the state head reads it on the true
next latents, and as it reads it on the predicted ones. The first two agreeing and the third falling
short says the denoiser, not the head, loses the push. For the other windows (the block moved less
than ``--min-move``) it gives the motion the head reads on the true and on the predicted latents.
The same for the pusher.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from cosmos_sim.benchmarks.report import require_pushblock_model
from cosmos_sim.benchmarks.rollout import heldout_episodes
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model
from cosmos_sim.world_models.diffusion.model import CONTROL_SAMPLER, SamplerConfig

BLOCK = slice(2, 4)  # block x, y in the PushBlock state (pusher x, y, block x, y, yaw)
PUSHER = slice(0, 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="cosmos_sim/zoo/wfm_pushblock")
    parser.add_argument("--data-root", default="outputs/data/wfm")
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--min-move", type=float, default=1.0, help="cm per latent step")
    parser.add_argument("--steps", type=int, default=CONTROL_SAMPLER.steps)
    parser.add_argument("--solver", choices=("euler", "heun"), default=CONTROL_SAMPLER.solver)
    parser.add_argument("--sigma-min", type=float, default=CONTROL_SAMPLER.sigma_min)
    args = parser.parse_args()
    if args.sigma_min < 0:
        parser.error(f"--sigma-min must be >= 0 (0: the schedule's end), got {args.sigma_min}")
    sampler = SamplerConfig(
        steps=args.steps, solver=args.solver, sigma_min=args.sigma_min if args.sigma_min > 0 else None
    )
    try:  # a model of another scene is named before anything is loaded or recorded
        require_pushblock_model(
            "contact_response",
            args.checkpoint,
            "it reads the block and pusher from the state and the held-out PushBlock episodes",
        )
    except (ValueError, OSError) as error:
        raise SystemExit(str(error)) from None
    world = load_world_model(args.checkpoint)
    k = world.actions_per_step
    episodes = heldout_episodes(Path(args.data_root), world.config.task, args.episodes)
    contexts, actions, truths, states = [], [], [], []
    with torch.no_grad():
        for episode in episodes:
            n = (len(episode["observation.image"]) - 1) // k  # whole latent steps
            frames, acts = episode["observation.image"][: 1 + k * n], episode["action"][: k * n]
            state = world.encode(frames[None], acts[None])
            z, a = state.latents[0], state.actions[0]  # (C, T, h, w), (T-1, k, A)
            s = torch.from_numpy(episode["observation.state"][::k][: z.shape[1]]).float()
            for t in range(2, z.shape[1]):
                contexts.append(z[:, t - 2 : t])
                actions.append(a[t - 2 : t])
                truths.append(z[:, t])
                states.append(s[t - 1 : t + 1])
        context, action, truth = torch.stack(contexts), torch.stack(actions), torch.stack(truths)
        true_state = torch.stack(states)  # (N, 2, S): before and after the step
        with torch.autocast("cpu", dtype=torch.bfloat16):
            predicted = world.model.sample_next(
                context, action, torch.Generator().manual_seed(0), sampler
            ).float()[:, :, 0]
        read_before = world.predict_state(context[:, :, -1:])[:, 0]
        read_true = world.predict_state(truth[:, :, None])[:, 0]
        read_pred = world.predict_state(predicted[:, :, None])[:, 0]

    def along(after: torch.Tensor, part: slice, direction: torch.Tensor) -> np.ndarray:
        return (((after[:, part] - read_before[:, part]) * direction).sum(-1) * 100).numpy()

    for name, part in (("block", BLOCK), ("pusher", PUSHER)):
        move = true_state[:, 1, part] - true_state[:, 0, part]
        size = move.norm(dim=-1)
        moving = size * 100 >= args.min_move
        if not moving.any() or moving.all():
            raise SystemExit(f"{name}: no windows on one side of --min-move {args.min_move} cm; change it")
        direction = move / size.clamp_min(1e-9)[:, None]
        print(
            f"{name}: {int(moving.sum())} of {len(size)} windows move >= {args.min_move} cm; "
            f"displacement along the true direction, mean cm:"
        )
        print(f"  MuJoCo                         {float(size[moving].mean() * 100):6.2f}")
        print(f"  state head on true latents     {along(read_true, part, direction)[moving].mean():6.2f}")
        print(f"  state head on predicted        {along(read_pred, part, direction)[moving].mean():6.2f}")
        still = ~moving
        spurious = ((read_pred[:, part] - read_before[:, part]).norm(dim=-1) * 100)[still]
        spurious_true = ((read_true[:, part] - read_before[:, part]).norm(dim=-1) * 100)[still]
        print(
            f"  windows moving < {args.min_move} cm: head reads {float(spurious_true.mean()):.2f} cm on "
            f"true latents, {float(spurious.mean()):.2f} cm on predicted"
        )
    latent_err = float(((predicted - truth) ** 2).mean())
    copy_err = float(((context[:, :, -1] - truth) ** 2).mean())
    print(f"next-latent MSE {latent_err:.4f} (copy last {copy_err:.4f})")


if __name__ == "__main__":
    main()
