"""Per-frame PSNR and SSIM of uint8 videos (torchmetrics), as the benchmarks report them."""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

PSNR_CAP_DB = 100.0
"""PSNR given to an exact frame (whose PSNR is infinite), so means stay finite. The smallest non-zero
error at 64x64 uint8 gives ~89 dB."""


def frame_quality(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame PSNR (capped at ``PSNR_CAP_DB``) and SSIM of uint8 (T, H, W, 3) frames, in [0, 1] units."""
    p = torch.from_numpy(pred).permute(0, 3, 1, 2).float() / 255
    t = torch.from_numpy(true).permute(0, 3, 1, 2).float() / 255
    psnr = peak_signal_noise_ratio(p, t, data_range=1.0, reduction="none", dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(p, t, data_range=1.0, reduction="none")
    return psnr.clamp(max=PSNR_CAP_DB).numpy(), ssim.numpy()
