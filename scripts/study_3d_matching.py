"""Which correspondences, robust estimator and frame stride let relative poses be recovered from
MuJoCo's own 64x64 CameraOrbit videos: the figures in ``benchmarks/consistency_3d.py``'s docstring.

    python scripts/study_3d_matching.py                       # nominal scene, 12 seeds (~3 min)
    python scripts/study_3d_matching.py --scenario CameraOrbit-v0-randomized

For every pair of frames ``stride`` apart in each seed's 21-frame clip (the benchmark's commands), the
relative pose is estimated from the correspondences with OpenCV's plain RANSAC or USAC_ACCURATE on the
known intrinsics and compared with the true one. Prints the median correspondence count, the success
rate at 3/10 and 5/15 degrees (rotation / translation direction) and the median and 99th-percentile
errors.
"""

from __future__ import annotations

import argparse
from functools import partial

import cv2
import numpy as np

from cosmos_sim.benchmarks.consistency_3d import SCENARIOS, SEED_START, build_ground_truth
from cosmos_sim.metrics.correspondences import flow_correspondences, sift_correspondences
from cosmos_sim.metrics.epipolar import (
    MIN_CORRESPONDENCES,
    RANSAC_CONFIDENCE,
    RANSAC_THRESHOLD_PX,
    relative_pose,
    rotation_error_deg,
    translation_direction_error_deg,
)

FAILED = (180.0, 180.0)
"""Errors counted for a pair without an estimate."""


def estimate(points_a, points_b, intrinsics, method):
    """``epipolar.estimate_relative_pose`` with the robust estimator as a parameter."""
    if len(points_a) < MIN_CORRESPONDENCES:
        return None
    essential, mask = cv2.findEssentialMat(
        points_a, points_b, intrinsics, method, RANSAC_CONFIDENCE, RANSAC_THRESHOLD_PX
    )
    if essential is None or essential.shape != (3, 3):
        return None
    inliers, rotation, translation, _ = cv2.recoverPose(essential, points_a, points_b, intrinsics, mask=mask)
    return (rotation, translation.ravel()) if inliers >= MIN_CORRESPONDENCES else None


def study(truths, label, matcher, method, stride) -> None:
    errors, counts = [], []
    for truth in truths:
        for b in range(stride, len(truth.frames)):
            a = b - stride
            points_a, points_b = matcher(truth.frames[a], truth.frames[b])
            counts.append(len(points_a))
            found = estimate(points_a, points_b, truth.intrinsics, method)
            true = relative_pose(truth.extrinsics[a], truth.extrinsics[b])
            errors.append(
                FAILED
                if found is None
                else (
                    rotation_error_deg(found[0], true.rotation),
                    translation_direction_error_deg(found[1], true.translation),
                )
            )
    e = np.array(errors)  # (pairs, 2): rotation, translation direction (degrees)
    rates = [np.mean((e[:, 0] < r) & (e[:, 1] < t)) for r, t in ((3, 10), (5, 15))]
    print(
        f"{label:24s} stride {stride}: {len(e)} pairs, {np.median(counts):5.0f} correspondences; success "
        f"3/10 {rates[0]:6.1%}, 5/15 {rates[1]:6.1%}; median errors {np.median(e[:, 0]):.2f} / "
        f"{np.median(e[:, 1]):.2f} deg, p99 {np.percentile(e[:, 0], 99):.2f} / {np.percentile(e[:, 1], 99):.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", default="CameraOrbit-v0", choices=list(SCENARIOS))
    parser.add_argument("--seeds", type=int, default=12)
    args = parser.parse_args()
    seeds = list(range(SEED_START, SEED_START + args.seeds))
    truths = build_ground_truth([args.scenario], seeds, context_frames=5, horizon=16)
    ransac, accurate = cv2.RANSAC, cv2.USAC_ACCURATE
    for label, matcher, method in [
        ("SIFT 1x, RANSAC", partial(sift_correspondences, upsample=1), ransac),
        ("SIFT 2x, RANSAC", sift_correspondences, ransac),
        ("SIFT 2x, USAC_ACCURATE", sift_correspondences, accurate),
        ("flow 2x, RANSAC", partial(flow_correspondences, upsample=2), ransac),
        ("flow 1x, USAC_ACCURATE", partial(flow_correspondences, upsample=1), accurate),
        ("flow 2x, USAC_ACCURATE", partial(flow_correspondences, upsample=2), accurate),
        ("flow 4x, USAC_ACCURATE", flow_correspondences, accurate),
    ]:
        study(truths, label, matcher, method, stride=4)
    for stride in (1, 2, 6, 8):
        study(truths, "flow 4x, USAC_ACCURATE", flow_correspondences, accurate, stride)


if __name__ == "__main__":
    main()
