"""What a training run reports: metric lines in ``metrics.jsonl`` and TensorBoard scalars, and sample
videos as mp4 files plus a frame strip in TensorBoard (``tensorboard --logdir <out>/tensorboard``).

Only the main process writes; on other ranks a ``RunLogger(enabled=False)`` does nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cosmos_sim.data.video_io import encode_video


class RunLogger:
    """metrics.jsonl + TensorBoard events + sample videos in a run folder."""

    def __init__(self, out: str | Path, *, enabled: bool = True, fps: float = 10.0) -> None:
        self.out = Path(out)
        self.enabled = enabled
        self.fps = fps
        self._metrics = None
        self._writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self._metrics = (self.out / "metrics.jsonl").open("a")
            self._writer = SummaryWriter(str(self.out / "tensorboard"))

    def scalars(self, record: dict, step: int) -> None:
        if not self.enabled:
            return
        self._metrics.write(json.dumps(record) + "\n")
        self._metrics.flush()
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)):
                self._writer.add_scalar(key, value, step)
        self._writer.flush()

    def video(self, tag: str, frames: np.ndarray, step: int) -> Path | None:
        """uint8 frames (T, H, W, 3) -> ``samples/<tag name>-<step>.mp4`` and an 8-frame strip in TensorBoard."""
        if not self.enabled:
            return None
        path = self.out / "samples" / f"{tag.split('/')[-1]}-{step:06d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        encode_video(path, frames, self.fps, crf=10)
        picks = np.linspace(0, len(frames) - 1, min(8, len(frames))).round().astype(int)
        self._writer.add_images(tag, frames[picks], step, dataformats="NHWC")
        self._writer.flush()
        return path

    def close(self) -> None:
        if self.enabled:
            self._metrics.close()
            self._writer.close()
