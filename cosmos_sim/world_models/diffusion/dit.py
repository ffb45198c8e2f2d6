"""The latent diffusion transformer of the Cosmos diffusion WFM (arXiv 2501.03575, Sec. 5.1), sized
for 64x64 robot video and conditioned on actions as in its robot post-training (Sec. 6.2).

Input: EDM-scaled noisy latents ``(B, C, T, h, w)`` with a condition-mask channel (1 on frames given
as context), the per-frame noise embedding, and the actions of each control interval. The latents
are cut into (1, ph, pw) patches, one token each; tokens keep their (T, h, w) position through 3D
RoPE in self-attention. Each block is self-attention, cross-attention to the action tokens, and an
MLP, each modulated by AdaLN-LoRA from a per-frame conditioning vector (noise level + the action
that led to that frame), with RMSNorm on queries and keys for stable attention logits.

Frame 0 of a window has no action leading to it; a learned null action stands in, and the same null
replaces every action of a sample dropped for classifier-free guidance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cosmos_sim.nn.adaln import AdaLNLoRA, modulate
from cosmos_sim.nn.rope import RotaryEmbedding3D, apply_rotary
from cosmos_sim.world_models.diffusion.config import DiffusionWorldModelConfig


def patchify(x: torch.Tensor, patch: tuple[int, int, int]) -> torch.Tensor:
    """(B, C, T, h, w) -> (B, T*gh*gw, C*ph*pw): one token per (1, ph, pw) patch, in (T, gh, gw) order."""
    _, ph, pw = patch
    b, c, t, h, w = x.shape
    x = x.unflatten(3, (h // ph, ph)).unflatten(5, (w // pw, pw))  # (B, C, T, gh, ph, gw, pw)
    return x.permute(0, 2, 3, 5, 1, 4, 6).flatten(4).flatten(1, 3)


def unpatchify(tokens: torch.Tensor, grid: tuple[int, int, int], patch: tuple[int, int, int]) -> torch.Tensor:
    """Inverse of ``patchify``: (B, T*gh*gw, C*ph*pw) with grid (T, gh, gw) -> (B, C, T, gh*ph, gw*pw)."""
    _, ph, pw = patch
    x = tokens.unflatten(1, grid).unflatten(-1, (-1, ph, pw))  # (B, T, gh, gw, C, ph, pw)
    return x.permute(0, 4, 1, 2, 5, 3, 6).flatten(5, 6).flatten(3, 4)


class NoiseEmbedding(nn.Module):
    """EDM's ``c_noise`` (B, T) -> (B, T, D): Fourier features, then an MLP."""

    def __init__(self, dim: int, features: int = 128) -> None:
        super().__init__()
        # Frequencies from 1 to 1000: c_noise = ln(sigma)/4 spans about [-2, 1.5].
        self.register_buffer("freqs", torch.logspace(0, 3, features // 2), persistent=False)
        self.mlp = nn.Sequential(nn.Linear(features, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        angles = c_noise[..., None].float() * self.freqs  # (B, T, features/2)
        return self.mlp(torch.cat([angles.cos(), angles.sin()], dim=-1))


class SelfAttention(nn.Module):
    """Multi-head self-attention over all tokens of the window, with QK RMSNorm and 3D RoPE."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.q_norm = nn.RMSNorm(dim // heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(dim // heads, eps=1e-6)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        q, k, v = (
            self.qkv(x).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4)
        )  # 3 x (B, heads, N, hd)
        # Norms and rotations in float32 (RMSNorm's weight is float32 under autocast too).
        q = apply_rotary(self.q_norm(q.float()), *rope).to(v.dtype)
        k = apply_rotary(self.k_norm(k.float()), *rope).to(v.dtype)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, hd)
        return self.proj(out.transpose(1, 2).flatten(2))


class CrossAttention(nn.Module):
    """Tokens attend to the conditioning tokens (here: one per control interval of the window)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.q_norm = nn.RMSNorm(dim // heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(dim // heads, eps=1e-6)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        q = self.q(x).unflatten(-1, (self.heads, -1)).transpose(1, 2)  # (B, heads, N, hd)
        k, v = self.kv(context).unflatten(-1, (2, self.heads, -1)).permute(2, 0, 3, 1, 4)  # (B, heads, T, hd)
        q, k = self.q_norm(q.float()).to(v.dtype), self.k_norm(k.float()).to(v.dtype)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).flatten(2))


def _by_frame(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Tokens (B, T*S, D) viewed as (B, T, S, D), so per-frame modulation (B, T, 1, D) broadcasts."""
    return x.unflatten(1, (frames, -1))


class DiTBlock(nn.Module):
    """Self-attention, cross-attention and MLP, each pre-normed, modulated and gated by AdaLN-LoRA."""

    def __init__(self, config: DiffusionWorldModelConfig) -> None:
        super().__init__()
        dim = config.dim
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(dim, config.heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.cross_attn = CrossAttention(dim, config.heads)
        self.norm3 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * config.mlp_ratio)
        gelu = nn.GELU(approximate="tanh" if config.gelu == "tanh" else "none")
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), gelu, nn.Linear(hidden, dim))
        self.adaln = nn.ModuleList([AdaLNLoRA(dim, config.adaln_rank) for _ in range(3)])

    def forward(
        self,
        x: torch.Tensor,
        cond: torch.Tensor,
        shared: torch.Tensor,
        context: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
    ) -> torch.Tensor:
        frames = cond.shape[1]
        sublayers = (
            (self.norm1, lambda h: self.attn(h, rope)),
            (self.norm2, lambda h: self.cross_attn(h, context)),
            (self.norm3, self.mlp),
        )
        for (norm, layer), adaln in zip(sublayers, self.adaln, strict=True):
            shift, scale, gate = (m[:, :, None] for m in adaln(cond, shared))  # each (B, T, 1, D)
            h = modulate(_by_frame(norm(x), frames), shift, scale).flatten(1, 2)
            x = x + (gate * _by_frame(layer(h), frames)).flatten(1, 2)
        return x


class LatentDiT(nn.Module):
    """``F(c_in * x, c_noise)`` of EDM for action-conditioned Video2World prediction in latent space."""

    def __init__(self, config: DiffusionWorldModelConfig) -> None:
        super().__init__()
        self.config = config
        c, (_, ph, pw), dim = config.latent_channels, config.patch, config.dim
        self.patch_embed = nn.Linear((c + 1) * ph * pw, dim)  # +1: the condition-mask channel
        self.noise_embed = NoiseEmbedding(dim)
        self.action_embed = nn.Sequential(
            nn.Linear(config.interval_action_dim, dim), nn.SiLU(), nn.Linear(dim, dim)
        )
        self.null_action = nn.Parameter(torch.zeros(dim))
        self.context_pos = nn.Parameter(torch.randn(config.window, dim) * 0.02)
        self.shared_adaln = nn.Linear(dim, 3 * dim)
        if config.absolute_pos_emb:
            gh, gw = config.grid
            self.pos_t = nn.Parameter(torch.zeros(config.window, dim))
            self.pos_h = nn.Parameter(torch.randn(gh, dim) * 0.02)
            self.pos_w = nn.Parameter(torch.randn(gw, dim) * 0.02)
        self.rope = RotaryEmbedding3D(config.head_dim)
        self.blocks = nn.ModuleList([DiTBlock(config) for _ in range(config.depth)])
        self.final_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.final_adaln = AdaLNLoRA(dim, config.adaln_rank)
        self.final = nn.Linear(dim, c * ph * pw)
        nn.init.zeros_(self.final.weight)
        nn.init.zeros_(self.final.bias)

    def _tokens(self, x: torch.Tensor, condition_mask: torch.Tensor) -> torch.Tensor:
        """(B, C, T, h, w) latents + (B, T) mask -> (B, T*gh*gw, D) tokens."""
        b, _, t, h, w = x.shape
        mask = condition_mask[:, None, :, None, None].to(x.dtype).expand(b, 1, t, h, w)
        x = torch.cat([x, mask], dim=1)  # (B, C+1, T, h, w)
        tokens = self.patch_embed(patchify(x, self.config.patch))
        if self.config.absolute_pos_emb:
            pos = self.pos_t[:t, None, None] + self.pos_h[None, :, None] + self.pos_w[None, None, :]
            tokens = tokens + pos.flatten(0, 2)
        return tokens

    def embed_actions(self, actions: torch.Tensor | None, keep: torch.Tensor | None, batch: int, frames: int):
        """Per-frame action embeddings (B, T, D): null for frame 0, for dropped samples, or without actions.

        ``actions``: float (B, T-1, actions_per_latent * action_dim), the interval leading to frames 1..T-1.
        ``keep``: bool (B,), False drops a sample's actions (classifier-free guidance).
        """
        null = self.null_action.expand(batch, frames, -1)
        if actions is None:
            return null
        embedded = torch.cat([null[:, :1], self.action_embed(actions)], dim=1)  # (B, T, D)
        if keep is not None:
            embedded = torch.where(keep[:, None, None], embedded, null)
        return embedded

    def forward(
        self,
        x: torch.Tensor,
        condition_mask: torch.Tensor,
        c_noise: torch.Tensor,
        actions: torch.Tensor | None,
        keep_actions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x: (B, C, T, h, w) EDM-scaled; condition_mask: bool (B, T); c_noise: (B, T) -> (B, C, T, h, w)."""
        b, _, t, _, _ = x.shape
        if t > self.config.window:
            raise ValueError(
                f"LatentDiT: {t} latent frames exceed the model's window of {self.config.window}"
            )
        action_emb = self.embed_actions(actions, keep_actions, b, t)  # (B, T, D)
        cond = self.noise_embed(c_noise) + action_emb  # (B, T, D)
        shared = self.shared_adaln(F.silu(cond))
        context = action_emb + self.context_pos[:t]
        rope = self.rope(grid=(t, *self.config.grid), device=x.device)
        h = self._tokens(x, condition_mask)
        for block in self.blocks:
            h = block(h, cond, shared, context, rope)
        shift, scale, _ = (m[:, :, None] for m in self.final_adaln(cond, shared))
        h = modulate(_by_frame(self.final_norm(h), t), shift, scale).flatten(1, 2)
        return unpatchify(self.final(h), (t, *self.config.grid), self.config.patch)
