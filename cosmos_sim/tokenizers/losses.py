"""Reconstruction losses for tokenizer training that need no downloaded weights.

Cosmos trains its tokenizers with L1 plus a VGG perceptual loss, then optical-flow and Gram-matrix
terms (arXiv 2501.03575, Sec. 3.1.2); those need pretrained networks, which we may not download. We keep
the L1 term and replace the perceptual ones with SSIM (structure and contrast, from torchmetrics) and
an L1 on Haar high-frequency bands, which weights edges and texture that plain L1 under-weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torchmetrics.functional.image import structural_similarity_index_measure

from cosmos_sim.configs import check_field_types, check_finite
from cosmos_sim.nn.wavelet import haar_dwt2d


@dataclass(frozen=True)
class ReconstructionLossConfig:
    """Weights of the reconstruction terms."""

    l1: float = 1.0
    """Mean absolute error in [-1, 1] units."""
    mse: float = 0.0
    """Mean squared error in [-1, 1] units: PSNR's own objective. On mostly flat synthetic frames it
    weights the large errors on small objects that L1 treats like background noise
    (docs/design/tokenizer_training.md)."""
    ssim: float = 0.2
    """Weight of 1 - SSIM, per frame (11x11 Gaussian window)."""
    wavelet: float = 1.0
    """Weight of the L1 between one-level Haar high bands (LH, HL, HH) of reconstruction and target."""

    def __post_init__(self) -> None:
        check_field_types(self)
        check_finite(self, "l1", "mse", "ssim", "wavelet", at_least=0)
        if not (self.l1 or self.mse or self.ssim or self.wavelet):
            raise ValueError("ReconstructionLossConfig: every weight is 0; give at least one term a weight")


class ReconstructionLoss(nn.Module):
    """``loss(reconstruction, target)`` on ``(B, 3, T, H, W)`` in [-1, 1] -> (total, {term: value})."""

    def __init__(self, config: ReconstructionLossConfig = ReconstructionLossConfig()) -> None:
        super().__init__()
        self.config = config

    def forward(
        self, reconstruction: torch.Tensor, target: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        error = reconstruction - target
        terms: dict[str, torch.Tensor] = {}
        if c.l1:
            terms["l1"] = error.abs().mean()
        if c.mse:
            terms["mse"] = error.pow(2).mean()
        if c.ssim:
            frames_rec = reconstruction.transpose(1, 2).flatten(0, 1)  # (B*T, 3, H, W)
            frames_tgt = target.transpose(1, 2).flatten(0, 1)
            ssim = structural_similarity_index_measure(frames_rec, frames_tgt, data_range=2.0)
            terms["ssim"] = 1.0 - ssim
        if c.wavelet:
            channels = target.shape[1]
            high_rec = haar_dwt2d(reconstruction)[:, channels:]  # (B, 3C, T, H/2, W/2): LH, HL, HH
            high_tgt = haar_dwt2d(target)[:, channels:]
            terms["wavelet"] = (high_rec - high_tgt).abs().mean()
        total = sum(getattr(c, name) * value for name, value in terms.items())
        return total, {name: float(value.detach()) for name, value in terms.items()}
