"""Error of the next latent frame sampled by different samplers, against the true one (the table in
docs/design/world_model_sampling.md):

    python scripts/compare_samplers.py --checkpoint cosmos_sim/zoo/wfm_pushblock

Windows of 3 latent frames (2 of context) from held-out episodes of the model's task; MSE in
normalized latent units (std 0.5), and the same for copying the last context frame.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from cosmos_sim.benchmarks.rollout import heldout_episodes
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model
from cosmos_sim.world_models.diffusion.model import SamplerConfig

SAMPLERS = [
    SamplerConfig(steps=1, solver="euler"),  # one network call: the denoiser's estimate from pure noise
    SamplerConfig(steps=2, solver="heun"),
    SamplerConfig(steps=2, solver="heun", sigma_min=1.0),
    SamplerConfig(steps=2, solver="euler", sigma_min=2.0),
    SamplerConfig(steps=3, solver="euler", sigma_min=0.5),
    SamplerConfig(steps=4, solver="euler", sigma_min=0.2),
    SamplerConfig(steps=8, solver="euler", sigma_min=0.05),
    SamplerConfig(steps=16, solver="heun"),
    SamplerConfig(steps=32, solver="heun"),
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="cosmos_sim/zoo/wfm_pushblock")
    parser.add_argument("--data-root", default="outputs/data/wfm")
    parser.add_argument("--episodes", type=int, default=16)
    args = parser.parse_args()
    world = load_world_model(args.checkpoint)
    k = world.actions_per_step
    episodes = heldout_episodes(Path(args.data_root), world.config.task, args.episodes)
    frames = np.stack([e["observation.image"][: 1 + 2 * k] for e in episodes])
    actions = np.stack([e["action"][: 2 * k] for e in episodes])
    state = world.encode(frames, actions)  # 3 latent frames per episode
    truth = state.latents[:, :, 2]
    interval_actions = state.actions  # (B, 2, k, A): into latent frames 1 and 2
    copy_mse = float(((state.latents[:, :, 1] - truth) ** 2).mean())
    print(f"{len(episodes)} held-out windows; copying the last context frame: MSE {copy_mse:.4f}\n")
    print("| sampler | network calls | MSE | sample std |\n|---|---|---|---|")
    for sampler in SAMPLERS:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            new = world.model.sample_next(
                state.latents[:, :, :2], interval_actions, torch.Generator().manual_seed(0), sampler
            ).float()
        calls = 2 * sampler.steps - 1 if sampler.solver == "heun" else sampler.steps
        sigma_min = sampler.sigma_min if sampler.sigma_min is not None else world.config.edm.sigma_min
        mse = float(((new[:, :, 0] - truth) ** 2).mean())
        label = f"{sampler.solver}, {sampler.steps} steps, sigma_min {sigma_min}"
        print(f"| {label} | {calls} | {mse:.4g} | {float(new.std()):.3f} |")


if __name__ == "__main__":
    main()
