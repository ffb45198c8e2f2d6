"""The ceiling a tokenizer puts on world models in the physics and 3D benchmarks: each benchmark's
"tokenizer round trip" row (the true clip encoded and decoded, as a world model's output would be
if its dynamics were perfect), for any tokenizer checkpoints, without a world model trained on them.

    python scripts/tokenizer_ceiling.py cosmos_sim/zoo/cv4x8x8 cosmos_sim/zoo/cv4x8x8_v2

Writes the two benchmarks' reports into ``--out``/{physics,3d} (about 4 minutes on 2 cores) and
prints them. Each tokenizer also gets a row of its own, which repeats the last context frame (the
floor): the benchmarks add a round-trip row only after a world-model row, so the tokenizer stands in
as one.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from cosmos_sim.benchmarks.consistency_3d import run_consistency_3d_benchmark
from cosmos_sim.benchmarks.physics_alignment import run_physics_alignment_benchmark
from cosmos_sim.benchmarks.video_models import Case, WorldModelSource
from cosmos_sim.frames import frames_to_model, model_to_frames
from cosmos_sim.tokenizers.checkpoint import load_tokenizer


class _TokenizerAsWorld:
    """The two calls of the round-trip row (``encode(frames, actions).latents``, ``decode``)."""

    def __init__(self, checkpoint: str) -> None:
        self.tokenizer = load_tokenizer(checkpoint)
        if self.tokenizer.config.kind != "CV":
            raise SystemExit(
                f"tokenizer_ceiling: {checkpoint} is a {self.tokenizer.config.name} tokenizer; the world models' "
                f"round trip goes through continuous latents, so this script takes CV tokenizers"
            )

    def encode(self, frames: np.ndarray, actions: np.ndarray | None = None) -> SimpleNamespace:
        with torch.inference_mode():
            return SimpleNamespace(latents=self.tokenizer.encode(frames_to_model(torch.as_tensor(frames))))

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return model_to_frames(self.tokenizer.decode(latents)).numpy()


class TokenizerStandIn(WorldModelSource):
    """A tokenizer in a world model's place; its own predictions repeat the last context frame."""

    def __init__(self, checkpoint: str) -> None:  # no world model to load: WorldModelSource's init is skipped
        self.world, self.name, self.seed = _TokenizerAsWorld(checkpoint), Path(checkpoint).name, 0

    def predict(self, case: Case) -> np.ndarray:
        return np.repeat(case.context[-1:], case.horizon, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("tokenizers", nargs="+", help="CV tokenizer checkpoint folders")
    parser.add_argument("--out", default="outputs/bench/tokenizer_ceiling")
    args = parser.parse_args()
    sources = [TokenizerStandIn(path) for path in args.tokenizers]
    out = Path(args.out)
    for name, run in (("physics", run_physics_alignment_benchmark), ("3d", run_consistency_3d_benchmark)):
        run(out / name, sources=sources, checkpoints=[], videos=False, progress=False)  # prints its report


if __name__ == "__main__":
    main()
