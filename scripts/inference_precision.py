"""What the world model's inference precision choices cost and buy, on a shipped checkpoint.

1. The tokenizer's decoder in bfloat16 (``DiffusionWorldModel.decoder_autocast``, the default with
   ``bf16``) against float32, on the first 65 frames of held-out episodes of the model's task: RMS
   difference of the decoded frames in grey levels, and PSNR of each against the true frames.
2. The DiT's MLP activation: ``world.step`` at batch ``--batch`` with the GELU the checkpoint was
   trained with, then with the other one swapped into the same weights (``DiffusionWorldModelConfig.gelu``):
   median time of 7 steps after 3 warm-up steps, and the RMS difference of the new latent frame.
3. Where ``world.step``'s time goes (``torch.profiler``), and each GELU alone on one MLP activation.

    python scripts/inference_precision.py [--checkpoint DIR] [--episodes 8] [--batch 64]

The figures in README "Speed" and in the ``decoder_autocast`` and ``gelu`` docstrings come from this
script on the 2-core development machine, 2 threads, alone.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from cosmos_sim.benchmarks.report import require_pushblock_model
from cosmos_sim.benchmarks.rollout import heldout_episodes
from cosmos_sim.metrics.frame_quality import frame_quality
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model
from cosmos_sim.world_models.diffusion.dit import DiTBlock


def decoder_precision(world, episodes: list[dict[str, np.ndarray]]) -> None:
    k = world.actions_per_step
    rms, psnr = [], {True: [], False: []}
    for episode in episodes:
        frames, actions = episode["observation.image"][: 1 + 16 * k], episode["action"][: 16 * k]
        latents = world.encode(frames[None], actions[None]).latents
        decoded = {}
        for bf16 in (False, True):
            world.bf16 = bf16
            decoded[bf16] = world.decode(latents)[0]
            psnr[bf16].append(frame_quality(decoded[bf16], frames[: len(decoded[bf16])])[0].mean())
        world.bf16 = True
        difference = decoded[True].astype(np.float64) - decoded[False].astype(np.float64)
        rms.append(np.sqrt(np.mean(difference**2)))
    print(
        f"decoder, {len(episodes)} held-out clips: bfloat16 vs float32 {np.mean(rms):.2f} grey levels RMS; "
        f"PSNR against the truth {np.mean(psnr[False]):.3f} dB (float32), {np.mean(psnr[True]):.3f} dB "
        f"(bfloat16)"
    )


def gelu_speed(world, batch: int) -> None:
    k, (h, w) = world.actions_per_step, world.config.latent_size
    s = world.tokenizer.config.spatial_compression
    frames = np.zeros((batch, 1 + 2 * k, h * s, w * s, 3), np.uint8)
    state = world.encode(frames, np.zeros((batch, 2 * k, world.action_dim), np.float32))
    actions = torch.zeros(batch, k, world.action_dim)
    mlp_gelus = [block.mlp[1] for block in world.model.modules() if isinstance(block, DiTBlock)]

    def timed() -> tuple[float, torch.Tensor]:
        for _ in range(3):
            world.step(state, actions, torch.Generator().manual_seed(0))
        times = []
        for _ in range(7):
            start = time.perf_counter()
            new = world.step(state, actions, torch.Generator().manual_seed(1)).latents[:, :, -1]
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000, new

    trained = world.config.gelu
    ms_trained, new_trained = timed()
    for gelu in mlp_gelus:
        gelu.approximate = "none" if trained == "tanh" else "tanh"
    ms_other, new_other = timed()
    for gelu in mlp_gelus:
        gelu.approximate = "tanh" if trained == "tanh" else "none"
    other = "exact" if trained == "tanh" else "tanh"
    rms = float((new_trained - new_other).square().mean().sqrt())
    print(
        f"world.step, batch {batch}: {ms_trained:.0f} ms with the trained GELU ({trained}), "
        f"{ms_other:.0f} ms with {other} swapped in; new latent frame differs by {rms:.4f} RMS"
    )


def step_profile(world, batch: int) -> None:
    """Where ``world.step``'s time goes (``torch.profiler``, self CPU time of 3 steps), and the two
    GELUs alone on one MLP activation of that batch in bfloat16."""
    from torch.profiler import ProfilerActivity, profile

    k, (h, w) = world.actions_per_step, world.config.latent_size
    s = world.tokenizer.config.spatial_compression
    frames = np.zeros((batch, 1 + 2 * k, h * s, w * s, 3), np.uint8)
    state = world.encode(frames, np.zeros((batch, 2 * k, world.action_dim), np.float32))
    actions = torch.zeros(batch, k, world.action_dim)
    world.step(state, actions, torch.Generator().manual_seed(0))
    with profile(activities=[ProfilerActivity.CPU]) as trace:
        for _ in range(3):
            world.step(state, actions, torch.Generator().manual_seed(0))
    self_us = {e.key: e.self_cpu_time_total for e in trace.key_averages()}
    total = sum(self_us.values())
    groups = {
        "matmuls (addmm, mm, bmm)": ("aten::addmm", "aten::mm", "aten::bmm"),
        "GELU": ("aten::gelu",),
        "attention": ("aten::_scaled_dot_product_flash_attention_for_cpu",),
    }
    shares = ", ".join(
        f"{name} {sum(self_us.get(op, 0) for op in ops) / total:.0%}" for name, ops in groups.items()
    )
    print(f"world.step, batch {batch}, share of self CPU time: {shares}")

    tokens = batch * world.config.window * (h // world.config.patch[1]) * (w // world.config.patch[2])
    x = torch.randn(tokens, int(world.config.dim * world.config.mlp_ratio)).bfloat16()
    for approximate in ("tanh", "none"):
        for _ in range(3):
            torch.nn.functional.gelu(x, approximate=approximate)
        start = time.perf_counter()
        for _ in range(50):
            torch.nn.functional.gelu(x, approximate=approximate)
        ms = (time.perf_counter() - start) / 50 * 1000
        print(f"GELU ({approximate}) on a bfloat16 {tuple(x.shape)} activation: {ms:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="cosmos_sim/zoo/wfm_pushblock")
    parser.add_argument("--data-root", default="outputs/data/wfm")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    try:  # a model of another scene is named before anything is loaded or recorded
        require_pushblock_model(
            "inference_precision", args.checkpoint, "it measures on held-out PushBlock episodes"
        )
    except (ValueError, OSError) as error:
        raise SystemExit(str(error)) from None
    world = load_world_model(args.checkpoint)
    with torch.no_grad():
        decoder_precision(world, heldout_episodes(Path(args.data_root), world.config.task, args.episodes))
        gelu_speed(world, args.batch)
        step_profile(world, args.batch)


if __name__ == "__main__":
    main()
