"""Exponential moving average of a model's weights (the weights diffusion models are sampled with).

Kept in float32 beside the trained model; ``update`` after every optimizer step. Under DDP every rank
holds the same weights, so every rank can keep the same average; only rank 0 saves it.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """``shadow = decay * shadow + (1 - decay) * weights``, with a warm-up so early steps count."""

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        # Warm-up (as in timm's ModelEmaV3): the average starts short and lengthens to ``decay``.
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for shadow, live in zip(self.shadow.state_dict().values(), model.state_dict().values(), strict=True):
            if hasattr(live, "full_tensor"):  # an FSDP2 shard: gather (every rank calls update)
                live = live.full_tensor()
            if shadow.dtype.is_floating_point:
                shadow.lerp_(live.detach().to(shadow.dtype), 1 - decay)
            else:
                shadow.copy_(live)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay = float(state["decay"])
        self.updates = int(state["updates"])
        self.shadow.load_state_dict(state["shadow"])
