"""Physics-IQ metrics: where and when things move in a predicted video, against the true video.

After Motamed et al. 2025, "Do generative video models understand physical principles?"
(arXiv 2501.09038, github google-deepmind/physics-IQ-benchmark). A *motion mask* marks the pixels
that change between consecutive frames; four metrics compare the prediction's motion masks (or
frames) with the truth's:

- **spatial IoU**: IoU of the union-over-time masks ("where did anything move");
- **spatiotemporal IoU**: per-frame IoU, averaged over the frames ("where and when");
- **weighted spatial IoU**: IoU of the per-pixel motion frequencies (the fraction of frames in
  which each pixel moves): ``sum(min(a, b)) / sum(max(a, b))`` ("where and how much");
- **MSE**: mean squared error of the frames, per frame, on [0, 1] pixel values.

An IoU of two empty masks is 1 (nothing moved in either: a perfect match), as in the reference
code. The **Physics-IQ score** normalizes each metric by its *physical variance*: the same metric
between two physically plausible outcomes of the same scene (two takes of a real experiment in the
paper; here two simulations whose initial states differ by a tiny perturbation). It is the paper's
formula ``100 * ((sIoU / sIoU_var + stIoU / stIoU_var + wsIoU / wsIoU_var) / 3 - (MSE - MSE_var))``
clipped to [0, 100], computed from metric means over a set of clips, so 100 means "as close to
the truth as physics is to itself".

Differences from the reference implementation, for 64x64 renders rather than full-HD footage:
motion is the change from the *previous frame* (the reference compares against a running average
of past frames), in any RGB channel (a saturated object and a grey floor can have the same grey
level), with no blur or morphological opening (a 5x5 opening would erase a 5-pixel ball).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cosmos_sim.frames import check_uint8_clip

MOTION_THRESHOLD = 16
"""A pixel moves when some RGB channel changes by more than this (of 255) from the previous frame:
above H.264 noise on a static picture and the sub-pixel shimmer of anti-aliased edges, far below
the contrast between any object and the floor."""


def motion_masks(frames: np.ndarray, previous: np.ndarray, threshold: int = MOTION_THRESHOLD) -> np.ndarray:
    """bool ``(T, H, W)``: pixels of uint8 ``frames`` ``(T, H, W, 3)`` that changed by more than
    ``threshold`` in some channel since the frame before; ``previous`` (uint8 ``(H, W, 3)``) is the
    frame before ``frames[0]`` (the last conditioning frame)."""
    frames = check_uint8_clip("motion_masks: frames", frames)
    previous = np.asarray(previous)
    if previous.dtype != np.uint8 or previous.shape != frames.shape[1:]:
        raise ValueError(
            f"motion_masks: previous must be uint8 {frames.shape[1:]}, got {previous.dtype} {previous.shape}"
        )
    video = np.concatenate([previous[None], frames]).astype(np.int16)  # (T + 1, H, W, 3)
    return np.abs(np.diff(video, axis=0)).max(axis=-1) > threshold


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def spatial_iou(pred: np.ndarray, true: np.ndarray) -> float:
    """IoU of the union-over-time of bool masks ``(T, H, W)``; 1 when neither has any motion."""
    return _iou(np.any(pred, axis=0), np.any(true, axis=0))


def spatiotemporal_ious(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """float ``(T,)``: IoU of each frame's bool masks ``(T, H, W)``; 1 for a frame where neither moves."""
    return np.array([_iou(p, t) for p, t in zip(pred, true, strict=True)])


def weighted_spatial_iou(pred: np.ndarray, true: np.ndarray) -> float:
    """IoU of the per-pixel motion frequencies of bool masks ``(T, H, W)``; 1 when neither moves."""
    p, t = pred.mean(axis=0), true.mean(axis=0)
    union = np.maximum(p, t).sum()
    return 1.0 if union == 0 else float(np.minimum(p, t).sum() / union)


def frame_mses(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """float ``(T,)``: mean squared error of each pair of uint8 frames ``(T, H, W, 3)`` in [0, 1] units."""
    p = check_uint8_clip("frame_mses: pred", pred).astype(np.float64) / 255
    t = check_uint8_clip("frame_mses: true", true).astype(np.float64) / 255
    if p.shape != t.shape:
        raise ValueError(f"frame_mses: pred {p.shape} and true {t.shape} differ in shape")
    return ((p - t) ** 2).mean(axis=(1, 2, 3))


@dataclass(frozen=True)
class PhysicsIQMetrics:
    """The four Physics-IQ metrics of one clip (or their means over clips)."""

    spatial_iou: float
    """IoU of where anything moved (higher is better, 1 = perfect)."""
    spatiotemporal_iou: float
    """Mean per-frame IoU of where things moved (higher is better)."""
    weighted_spatial_iou: float
    """IoU of how often each pixel moved (higher is better)."""
    mse: float
    """Mean squared frame error on [0, 1] pixel values (lower is better)."""

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def physics_iq_metrics(
    pred: np.ndarray, true: np.ndarray, previous: np.ndarray, threshold: int = MOTION_THRESHOLD
) -> tuple[PhysicsIQMetrics, dict[str, np.ndarray]]:
    """Metrics of predicted frames against true ones (uint8 ``(T, H, W, 3)``, both following the
    same conditioning frame ``previous``), and the per-frame curves ``spatiotemporal_iou`` and
    ``mse`` ``(T,)`` behind them."""
    pred, true = check_uint8_clip("pred", pred), check_uint8_clip("true", true)
    if pred.shape != true.shape:
        raise ValueError(f"physics_iq_metrics: pred {pred.shape} and true {true.shape} differ in shape")
    pred_masks, true_masks = motion_masks(pred, previous, threshold), motion_masks(true, previous, threshold)
    st_ious, mses = spatiotemporal_ious(pred_masks, true_masks), frame_mses(pred, true)
    metrics = PhysicsIQMetrics(
        spatial_iou=spatial_iou(pred_masks, true_masks),
        spatiotemporal_iou=float(st_ious.mean()),
        weighted_spatial_iou=weighted_spatial_iou(pred_masks, true_masks),
        mse=float(mses.mean()),
    )
    return metrics, {"spatiotemporal_iou": st_ious, "mse": mses}


def mean_metrics(metrics: list[PhysicsIQMetrics]) -> PhysicsIQMetrics:
    """Field-wise mean over clips (the reference scores means over its scenarios)."""
    if not metrics:
        raise ValueError("mean_metrics: no metrics to average")
    return PhysicsIQMetrics(
        **{k: float(np.mean([getattr(m, k) for m in metrics])) for k in asdict(metrics[0])}
    )


def physics_iq_score(model: PhysicsIQMetrics, variance: PhysicsIQMetrics) -> float:
    """The Physics-IQ score in [0, 100] of a model's mean metrics given the physical variance's.

    ``100 * ((sIoU / sIoU_var + stIoU / stIoU_var + wsIoU / wsIoU_var) / 3 - (MSE - MSE_var))``,
    clipped: a model exactly as far from the truth as physics is from itself scores 100, one whose
    motion never overlaps the truth's 0. An IoU variance of 0 (physics itself never agrees) counts
    as a ratio of 1 for any prediction: the metric then cannot tell models apart.
    """
    ratios = []
    for key in ("spatial_iou", "spatiotemporal_iou", "weighted_spatial_iou"):
        reference = getattr(variance, key)
        ratios.append(getattr(model, key) / reference if reference > 0 else 1.0)
    score = 100.0 * (sum(ratios) / 3 - (model.mse - variance.mse))
    return float(np.clip(score, 0.0, 100.0))
