"""Copy a trained tokenizer into the zoo as float16 safetensors (half the size; loads as float32).

    python scripts/ship_tokenizer.py outputs/train/cv4x8x8/model cosmos_sim/zoo/cv4x8x8

The model card (README.md in the zoo folder) is written by hand from `cosmos-sim bench tokenizer`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from cosmos_sim.tokenizers.checkpoint import (
    CONFIG_FILE,
    latent_fingerprint,
    load_tokenizer,
    model_latent_fingerprint,
    read_tokenizer_config,
    save_tokenizer,
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trained", help="a run's model folder (outputs/train/<name>/model)")
    parser.add_argument("zoo", help="destination, e.g. cosmos_sim/zoo/cv4x8x8")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="replace a tokenizer at the destination that makes other latents (the world models trained "
        "on it will no longer load); without it only a decoder fine-tune of it may replace it",
    )
    args = parser.parse_args()
    _, metadata = read_tokenizer_config(args.trained)
    model = load_tokenizer(args.trained)
    if (Path(args.zoo) / CONFIG_FILE).is_file() and not args.replace:
        try:
            shipped = latent_fingerprint(args.zoo)
        except ValueError:
            shipped = None  # not a tokenizer: save_tokenizer refuses it, naming what it is
        if shipped is not None and shipped != model_latent_fingerprint(model, torch.float16):
            raise SystemExit(
                f"ship_tokenizer: {args.zoo} holds a tokenizer that makes other latents than {args.trained}; "
                f"the world models bound to it would no longer load. Ship to another folder, or pass --replace"
            )
    save_tokenizer(model, args.zoo, metadata=metadata, weights_dtype=torch.float16)
    print(args.zoo)


if __name__ == "__main__":
    try:
        main()
    except (ValueError, OSError) as error:  # a bad folder or checkpoint: one line, nothing written
        raise SystemExit(f"ship_tokenizer: {error}") from None
