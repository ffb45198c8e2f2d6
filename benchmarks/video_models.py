"""The models a benchmark can score, behind one call: ``predict(context, actions) -> frames``.

The physics-alignment and 3D-consistency benchmarks are open to any video model (issue 6): a Python
callable, a cosmos-sim ``WorldModel`` checkpoint, or a folder of mp4 files that a model running
elsewhere wrote after reading the conditioning that ``export_cases`` exported. All of them become a
``VideoSource``; a benchmark asks it for one ``Case`` at a time, so one bad case (a missing file, a
wrong shape) is reported as that case's error and the rest of the suite is still scored.

Conventions (DESIGN.md, "Contracts"):

- ``Case.context``: the conditioning frames, uint8 ``(Tc, H, W, 3)``;
- ``Case.actions``: float32 ``(Tc - 1 + horizon, A)``, one per frame transition: ``actions[t]`` acts
  between frame ``t`` and ``t + 1`` (an env step holds its action for its ``k`` frames, so each step's
  action appears ``k`` times); passive scenes have ``A = 1`` and zeros;
- a prediction: uint8 ``(horizon, H, W, 3)``, the frames after the context.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch

from cosmos_sim.data.video_io import VideoError, decode_video, encode_video, probe_video


@dataclass
class Case:
    """One scored episode: what the model is given, and how many frames it must produce."""

    scenario: str
    """Scene name without namespace, e.g. ``Physics-FreeFall-v0`` or ``CameraOrbit-v0``."""
    seed: int
    """Reset seed of the ground-truth episode."""
    context: np.ndarray
    """uint8 (Tc, H, W, 3)."""
    actions: np.ndarray
    """float32 (Tc - 1 + horizon, A): actions[t] acts between frames t and t + 1."""
    horizon: int
    """Frames to predict after the context."""
    fps: float
    """Frame rate of the ground truth."""

    @property
    def key(self) -> str:
        return f"{self.scenario}/seed_{self.seed}"

    def expected_shape(self) -> tuple[int, int, int, int]:
        return (self.horizon, *self.context.shape[1:])


class PredictionError(ValueError):
    """A model's prediction for a case could not be obtained or has the wrong form."""


def check_prediction(frames, case: Case, source: str) -> np.ndarray:
    """Return ``frames`` as a contiguous uint8 ``(horizon, H, W, 3)`` array (a flipped or strided view is
    copied) or raise a PredictionError naming the case."""
    if isinstance(frames, torch.Tensor):
        if frames.dtype != torch.uint8:  # before .numpy(), which some dtypes (bfloat16) do not have
            raise PredictionError(
                f"{source}: {case.key}: prediction must be uint8 (0..255), got {frames.dtype}"
            )
        frames = frames.detach().cpu().numpy()
    if not isinstance(frames, np.ndarray):
        raise PredictionError(
            f"{source}: {case.key}: prediction must be a uint8 array {case.expected_shape()}, "
            f"got {type(frames).__name__}"
        )
    if frames.dtype != np.uint8:
        raise PredictionError(f"{source}: {case.key}: prediction must be uint8 (0..255), got {frames.dtype}")
    if frames.shape != case.expected_shape():
        raise PredictionError(
            f"{source}: {case.key}: prediction must have shape {case.expected_shape()} "
            f"(horizon, H, W, 3), got {frames.shape}"
        )
    return np.ascontiguousarray(frames)


def call_on_copy(source: VideoSource, case: Case, call: Callable[[Case], Any], what: str) -> Any:
    """``call`` (one of ``source``'s methods) on a copy of the case's arrays, so a model that preprocesses
    in place cannot change the ground truth; any exception it raises (a bug in a user's callable,
    running out of memory) becomes a PredictionError naming the source, the case and ``what`` raised it,
    so one failing case is reported as such and the rest of the suite is still scored."""
    private = dataclasses.replace(case, context=case.context.copy(), actions=case.actions.copy())
    try:
        return call(private)
    except PredictionError:
        raise
    except Exception as error:
        raise PredictionError(
            f"{source.name}: {case.key}: {what} raised {type(error).__name__}: {error}"
        ) from error


def predict_case(source: VideoSource, case: Case) -> np.ndarray:
    """``source``'s checked prediction for ``case`` (``call_on_copy``)."""
    return check_prediction(call_on_copy(source, case, source.predict, "the model"), case, source.name)


class VideoSource:
    """Something that predicts the frames of a case."""

    name: str = "model"

    def predict(self, case: Case) -> np.ndarray:
        """uint8 ``(horizon, H, W, 3)``; raises ``PredictionError`` saying what was wrong."""
        raise NotImplementedError


class CallableSource(VideoSource):
    """``fn(context (1, Tc, H, W, 3) uint8, actions (1, Tc - 1 + horizon, A) float32) -> frames
    (1, horizon, H, W, 3) uint8`` (numpy or torch)."""

    def __init__(self, fn: Callable, name: str = "callable") -> None:
        if not callable(fn):
            raise TypeError(f"CallableSource needs a callable, got {type(fn).__name__}")
        self.fn, self.name = fn, name

    def predict(self, case: Case) -> np.ndarray:
        out = self.fn(case.context[None], case.actions[None])
        if isinstance(out, np.ndarray | torch.Tensor) and out.ndim == 5 and out.shape[0] == 1:
            out = out[0]
        return check_prediction(out, case, self.name)


class WorldModelSource(VideoSource):
    """A cosmos-sim world model checkpoint: encode the context with its actions, roll out the future
    actions in latent space (one latent frame per ``k`` frames), decode.

    The context must be ``1 + k*n`` frames and the horizon a multiple of ``k``.
    """

    def __init__(self, checkpoint: str | Path, *, seed: int = 0, name: str | None = None) -> None:
        from cosmos_sim.world_models.diffusion.checkpoint import load_world_model

        self.world = load_world_model(checkpoint)
        self.seed = seed
        self.name = name or Path(checkpoint).name

    def predict(self, case: Case) -> np.ndarray:
        k, world = self.world.actions_per_step, self.world
        tc = case.context.shape[0]
        if (tc - 1) % k or case.horizon % k:
            raise PredictionError(
                f"{self.name}: {case.key}: the model needs 1 + {k}*n context frames and a horizon that is a "
                f"multiple of {k}, got {tc} and {case.horizon}"
            )
        size = world.frame_size
        if case.context.shape[1:3] != size:
            raise PredictionError(
                f"{self.name}: {case.key}: the model takes {size[0]}x{size[1]} (H x W) frames, the case has "
                f"{case.context.shape[1]}x{case.context.shape[2]}"
            )
        if case.actions.shape[1] != world.action_dim:
            raise PredictionError(
                f"{self.name}: {case.key}: the model takes {world.action_dim}-dim actions, the case has "
                f"{case.actions.shape[1]}"
            )
        state = world.encode(case.context[None], case.actions[None, : tc - 1] if tc > 1 else None)
        future = torch.from_numpy(np.ascontiguousarray(case.actions[tc - 1 :], dtype=np.float32))
        future = future.reshape(1, case.horizon // k, k, -1)
        generator = torch.Generator().manual_seed(self.seed + case.seed)
        latents = world.rollout(state, future, generator)
        frames = world.decode(torch.cat([state.latents, latents], dim=2))[0]  # (tc + horizon, H, W, 3)
        return check_prediction(frames[tc:], case, self.name)


class TokenizerRoundTripSource(VideoSource):
    """A world model's own ceiling: its tokenizer's reconstruction of the true clip (context and
    future encoded together, as the model's latents would be if its dynamics were perfect). A model
    can at best show what its decoder shows, so this row separates what the dynamics lose from what
    the tokenizer does."""

    def __init__(self, model: WorldModelSource, clips: dict[str, np.ndarray]) -> None:
        """``clips``: uint8 (Tc + horizon, H, W, 3) true clip, context first, per ``Case.key``."""
        self.world, self.name = model.world, f"{model.name}: tokenizer round trip"
        self._clips = clips

    def predict(self, case: Case) -> np.ndarray:
        if case.key not in self._clips:
            raise PredictionError(f"{self.name}: {case.key}: no true clip for this case")
        clip, tc = self._clips[case.key], case.context.shape[0]
        if clip.shape[0] != tc + case.horizon or not np.array_equal(clip[:tc], case.context):
            raise PredictionError(
                f"{self.name}: {case.key}: the true clip must be the case's {tc} context frames and then "
                f"its {case.horizon} future frames, got {clip.shape[0]} frames"
            )
        try:
            state = self.world.encode(clip[None], case.actions[None])
        except ValueError as error:  # frames or actions the model does not take
            raise PredictionError(f"{self.name}: {case.key}: {error}") from None
        return check_prediction(self.world.decode(state.latents)[0, tc:], case, self.name)


def with_round_trips(models: Iterable[VideoSource], clips: dict[str, np.ndarray]) -> list[VideoSource]:
    """The models in order, each world-model checkpoint followed by its tokenizer's round trip of
    ``clips`` (true clips, context first, per ``Case.key``): the rows both benchmarks score."""
    rows: list[VideoSource] = []
    for model in models:
        rows.append(model)
        if isinstance(model, WorldModelSource):
            rows.append(TokenizerRoundTripSource(model, clips))
    return rows


def case_video_path(folder: str | Path, case: Case) -> Path:
    """Where a folder source keeps a case's predicted video: ``<folder>/<scenario>/seed_<seed>.mp4``."""
    return Path(folder) / case.scenario / f"seed_{case.seed}.mp4"


PREDICTION_VIDEO_FORMAT = "H.264 in YUV 4:4:4 at CRF 0 (ffmpeg -c:v libx264 -pix_fmt yuv444p -crf 0), or RGB"
"""How a model running elsewhere must write its predictions. Chroma subsampling (4:2:0, the usual
default) alone costs the exact MuJoCo frames about 20-30 Physics-IQ points and 0.2 mask IoU, so a
subsampled video is refused instead of scored as if the model had made the loss."""


def _chroma_subsampled(pix_fmt: str | None, width: int, height: int) -> bool:
    """Whether a pixel format stores any chroma plane at less than the frame's size (4:2:0, 4:2:2, NV12,
    P010, ...), as FFmpeg describes the format."""
    try:
        planes = av.VideoFormat(pix_fmt or "", width, height).components
    except (ValueError, TypeError):
        return False  # unknown to FFmpeg: decoding says what is wrong with the file
    return any(plane.is_chroma and (plane.width < width or plane.height < height) for plane in planes)


class FolderSource(VideoSource):
    """Predictions written by a model that runs elsewhere: ``<folder>/<scenario>/seed_<seed>.mp4``, each
    holding exactly the ``horizon`` predicted frames at the case's size and frame rate, without chroma
    subsampling (``PREDICTION_VIDEO_FORMAT``)."""

    def __init__(self, folder: str | Path, name: str | None = None) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"FolderSource: no folder {self.folder}")
        # "parent/name" of the resolved path, as checkpoints: "." or two runs' "preds" stay distinct.
        self.name = name or "/".join(self.folder.resolve().parts[-2:])

    def predict(self, case: Case) -> np.ndarray:
        path = case_video_path(self.folder, case)
        if not path.is_file():
            scenarios = sorted(p.name for p in self.folder.iterdir() if p.is_dir())
            raise PredictionError(
                f"{self.name}: {case.key}: no video at {path} (the folder has scenarios {scenarios})"
            )
        try:
            info = probe_video(path)
            frames = decode_video(path)
        except VideoError as error:
            raise PredictionError(f"{self.name}: {case.key}: {error}") from None
        height, width = case.context.shape[1:3]
        if _chroma_subsampled(info.get("video.pix_fmt"), width, height):
            raise PredictionError(
                f"{self.name}: {case.key}: {path} is {info['video.pix_fmt']}; chroma subsampling blurs the "
                f"small coloured objects the benchmark measures, so write {PREDICTION_VIDEO_FORMAT}"
            )
        fps = info.get("video.fps")
        if fps is None or abs(float(fps) - case.fps) > 1e-3 * case.fps:
            found = "an unknown frame rate" if fps is None else f"{float(fps):g} fps"
            raise PredictionError(
                f"{self.name}: {case.key}: {path} runs at {found}, expected {case.fps:g} fps"
            )
        return check_prediction(frames, case, f"{self.name} ({path})")


def resolve_sources(
    sources: Iterable[VideoSource | Callable],
    checkpoints: Iterable[str | Path] | None,
    predictions: Iterable[str | Path],
    *,
    default_checkpoint: Path,
    reserved: Iterable[str],
) -> list[VideoSource]:
    """The models a benchmark scores: ``sources`` (``VideoSource``s or ``predict(context, actions)``
    callables), world-model ``checkpoints`` (``None``: ``default_checkpoint`` if it exists) and
    ``predictions`` folders. Their names must be distinct and not the benchmark's ``reserved`` row names."""
    out: list[VideoSource] = []
    if isinstance(sources, VideoSource) or callable(sources):
        sources = [sources]  # one model given alone
    for source in sources:
        if isinstance(source, VideoSource):
            out.append(source)
        else:
            out.append(CallableSource(source, name=getattr(source, "__name__", "callable")))
    if checkpoints is None:
        checkpoints = [default_checkpoint] if (default_checkpoint / "config.json").is_file() else []
    for checkpoint in checkpoints:
        if not (Path(checkpoint) / "config.json").is_file():
            raise FileNotFoundError(f"no world model at {checkpoint} (a folder with config.json)")
        # "parent/name": training runs save into <run>/model, so the folder name alone is ambiguous.
        out.append(WorldModelSource(checkpoint, name="/".join(Path(checkpoint).resolve().parts[-2:])))
    out += [FolderSource(folder) for folder in predictions]
    names = [s.name for s in out]
    duplicated = sorted({n for n in names if names.count(n) > 1} | (set(reserved) & set(names)))
    if duplicated:
        raise ValueError(
            f"models to score need distinct names (and not the reference rows'), got {duplicated}; name "
            f"callables with CallableSource(fn, name=...) and folders with FolderSource(folder, name=...)"
        )
    return out


def export_cases(cases: list[Case], folder: str | Path) -> Path:
    """Write what a model running elsewhere needs: per case ``<scenario>/seed_<seed>_context.mp4``
    (H.264 at CRF 0 in YUV 4:4:4, near-lossless) and ``seed_<seed>.json`` (actions, horizon, fps, size,
    where and how to write the prediction), plus ``cases.json`` listing them. Its predictions go to
    ``case_video_path``, written as ``PREDICTION_VIDEO_FORMAT`` says."""
    folder = Path(folder)
    index = []
    for case in cases:
        base = folder / case.scenario
        base.mkdir(parents=True, exist_ok=True)
        encode_video(
            base / f"seed_{case.seed}_context.mp4", case.context, fps=case.fps, pix_fmt="yuv444p", crf=0
        )
        meta = {
            "scenario": case.scenario,
            "seed": case.seed,
            "context_frames": int(case.context.shape[0]),
            "horizon": case.horizon,
            "fps": case.fps,
            "height": int(case.context.shape[1]),
            "width": int(case.context.shape[2]),
            "actions": case.actions.tolist(),
            "prediction": str(case_video_path(".", case)),
            "prediction_format": PREDICTION_VIDEO_FORMAT,
        }
        (base / f"seed_{case.seed}.json").write_text(json.dumps(meta) + "\n")
        index.append({"scenario": case.scenario, "seed": case.seed})
    (folder / "cases.json").write_text(json.dumps(index, indent=1) + "\n")
    return folder
