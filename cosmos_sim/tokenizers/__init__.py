"""Causal video tokenizers: continuous (CV) and discrete FSQ (DV), after NVIDIA Cosmos Tokenizer."""

from cosmos_sim.tokenizers.config import PRESETS, TokenizerConfig, preset
from cosmos_sim.tokenizers.tokenizer import (
    CausalContinuousVideoTokenizer,
    CausalDiscreteVideoTokenizer,
    CausalVideoTokenizer,
    TokenizerOutput,
    build_tokenizer,
)

__all__ = [
    "PRESETS",
    "CausalContinuousVideoTokenizer",
    "CausalDiscreteVideoTokenizer",
    "CausalVideoTokenizer",
    "TokenizerConfig",
    "TokenizerOutput",
    "build_tokenizer",
    "preset",
]
