"""Per-frame PSNR and SSIM of uint8 videos (torchmetrics), as the benchmarks report them."""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from cosmos_sim.frames import check_uint8_clip

PSNR_CAP_DB = 100.0
"""PSNR given to an exact frame (whose PSNR is infinite), so means stay finite. The smallest non-zero
error at 64x64 uint8 gives ~89 dB."""


SSIM_WINDOW = 11
"""Side of torchmetrics' Gaussian SSIM window: frames must be at least this large."""


def frame_quality(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame PSNR (capped at ``PSNR_CAP_DB``) and SSIM of uint8 (T, H, W, 3) frames, in [0, 1] units.

    Both must be uint8 of the same shape with T >= 1: float frames in [0, 1] would be scored as nearly
    black and every pair would look alike."""
    pred, true = check_uint8_clip("frame_quality: pred", pred), check_uint8_clip("frame_quality: true", true)
    if pred.shape != true.shape:
        raise ValueError(f"frame_quality: pred {pred.shape} and true {true.shape} differ in shape")
    if min(pred.shape[1:3]) < SSIM_WINDOW:
        raise ValueError(
            f"frame_quality: frames must be at least {SSIM_WINDOW}x{SSIM_WINDOW} (the SSIM window), got {pred.shape[1:3]}"
        )
    p = torch.from_numpy(np.ascontiguousarray(pred)).permute(0, 3, 1, 2).float() / 255
    t = torch.from_numpy(np.ascontiguousarray(true)).permute(0, 3, 1, 2).float() / 255
    psnr = peak_signal_noise_ratio(p, t, data_range=1.0, reduction="none", dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(p, t, data_range=1.0, reduction="none")
    return psnr.clamp(max=PSNR_CAP_DB).numpy(), ssim.numpy()
