"""Copy a trained tokenizer into the zoo as float16 safetensors (half the size; loads as float32).

    python scripts/ship_tokenizer.py outputs/train/cv4x8x8/model cosmos_sim/zoo/cv4x8x8

The model card (README.md in the zoo folder) is written by hand from `cosmos-sim bench tokenizer`.
"""

from __future__ import annotations

import argparse

import torch

from cosmos_sim.tokenizers.checkpoint import load_tokenizer, read_tokenizer_config, save_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("trained", help="a run's model folder (outputs/train/<name>/model)")
    parser.add_argument("zoo", help="destination, e.g. cosmos_sim/zoo/cv4x8x8")
    args = parser.parse_args()
    _, metadata = read_tokenizer_config(args.trained)
    save_tokenizer(load_tokenizer(args.trained), args.zoo, metadata=metadata, weights_dtype=torch.float16)
    print(args.zoo)


if __name__ == "__main__":
    main()
