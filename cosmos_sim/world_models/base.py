"""The ``WorldModel`` contract (DESIGN.md, "Contracts"): what envs, planners and benchmarks rely on.

A world model works in a tokenizer's latent space. ``encode`` turns observed frames (and the actions
between them) into a ``LatentState``; ``step`` advances it by one latent frame, i.e. one control
interval of ``k`` video frames driven by ``k`` actions; ``rollout`` does that for a batch of action
sequences and stays in latent space; ``decode`` returns frames; ``predict_state`` reads the task's
low-dimensional state from latents. Everything is batched over ``B`` and takes its randomness from
an explicit ``torch.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch


@dataclass
class LatentState:
    """What a world model conditions on: the latent frames so far and the actions between them."""

    latents: torch.Tensor
    """float (B, C, T, h, w), normalized latents, oldest first (a model keeps as many as its window needs)."""
    actions: torch.Tensor
    """float (B, T - 1, k, A): the k actions of each interval leading to latent frames 1 .. T-1."""

    @property
    def batch(self) -> int:
        return self.latents.shape[0]

    @property
    def frames(self) -> int:
        return self.latents.shape[2]


@runtime_checkable
class WorldModel(Protocol):
    """Action-conditioned video prediction in latent space."""

    actions_per_step: int
    """k: video frames (and actions) per latent frame."""
    action_dim: int
    """A: dimension of one action."""

    def encode(
        self, frames: np.ndarray | torch.Tensor, actions: np.ndarray | torch.Tensor | None = None
    ) -> LatentState:
        """uint8 frames (B, 1 + k*n, H, W, 3) and float actions (B, k*n, A) -> state."""
        ...

    def step(
        self,
        state: LatentState,
        actions: torch.Tensor,
        generator: torch.Generator,
        *,
        noise_groups: torch.Tensor | None = None,
    ) -> LatentState:
        """Advance one latent frame with float actions (B, k, A)."""
        ...

    def rollout(
        self,
        state: LatentState,
        action_seqs: torch.Tensor,
        generator: torch.Generator,
        *,
        grad: bool = False,
        noise_groups: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """float actions (B, H, k, A) -> predicted latents (B, C, H, h, w); ``grad=True`` keeps the
        autograd graph from the actions (for gradient planners); ``noise_groups`` (int64 (B,)) gives
        rows with the same value the same sampling noise (a stochastic model's common random
        numbers: candidate plans from one state then differ only by their actions)."""
        ...

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Normalized latents (B, C, T, h, w) -> uint8 frames (B, 1 + k*(T-1), H, W, 3)."""
        ...

    def predict_state(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalized latents (B, C, T, h, w) -> the task's state (B, T, S) at each latent frame."""
        ...
