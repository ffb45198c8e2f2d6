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

import torch

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
    main()
