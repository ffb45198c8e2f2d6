"""Copy a trained world model into the zoo as float16 safetensors (half the size; loads as float32).

    python scripts/ship_world_model.py outputs/train/wfm_pushblock/model cosmos_sim/zoo/wfm_pushblock

The tokenizer it was trained with must already be in the zoo (the config names it by folder and by the
fingerprint of its latent side, ``latent_fingerprint``; a run that recorded the older whole-file SHA-256
is shipped with the fingerprint, so a decoder fine-tune of its tokenizer serves it too). The model card (README.md in the zoo folder) is written by hand from
`cosmos-sim bench rollout`.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

import cosmos_sim
from cosmos_sim.world_models.diffusion.checkpoint import (
    in_package,
    load_world_model,
    read_world_model_config,
    save_world_model,
    tokenizer_fingerprint,
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trained", help="a run's model folder (outputs/train/<name>/model)")
    parser.add_argument("zoo", help="destination, e.g. cosmos_sim/zoo/wfm_pushblock")
    args = parser.parse_args()
    _, record = read_world_model_config(args.trained)
    tokenizer = in_package(record["tokenizer_dir"]).resolve()
    zoo = Path(cosmos_sim.__file__).resolve().parent / "zoo"
    if not tokenizer.is_relative_to(zoo):
        # A zoo model must load from a fresh clone; its latents are the shipped tokenizer's (float16
        # weights make other latents than the float32 run they came from).
        raise SystemExit(
            f"ship_world_model: {args.trained} was trained with tokenizer {tokenizer}, which is not in {zoo}: "
            f"ship the tokenizer first (scripts/ship_tokenizer.py) and train against the shipped copy"
        )
    world = load_world_model(args.trained)  # checks the tokenizer against what the run recorded
    world.model.config = dataclasses.replace(
        world.model.config, tokenizer=tokenizer_fingerprint(in_package(record["tokenizer_dir"]))
    )
    save_world_model(
        world.model,
        args.zoo,
        tokenizer_dir=record["tokenizer_dir"],
        metadata=record.get("metadata", {}),
        weights_dtype=torch.float16,
    )
    print(args.zoo)


if __name__ == "__main__":
    try:
        main()
    except (ValueError, OSError) as error:  # a bad folder or checkpoint: one line, nothing written
        raise SystemExit(f"ship_world_model: {error}") from None
