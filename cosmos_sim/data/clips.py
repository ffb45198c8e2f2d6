"""Fixed-length training clips of an episode dataset, aligned with control intervals.

A clip is ``T = 1 + k*n`` consecutive frames of one episode (``k`` frames per control step): the
causal tokenizers map it to ``1 + n`` latent frames, and a world model step consumes the ``k``
actions of one interval. With the recorder's row convention (row ``t`` holds the frame and state
at ``t`` and the action applied from ``t`` to ``t + 1``), a clip starting at row ``s`` pairs
frames/states rows ``s .. s+T-1`` with action rows ``s .. s+T-2``: the actions between
consecutive frames. Clip starts are multiples of ``stride`` (default ``k``), so a clip starts on a
control-interval boundary, and clips never cross episodes.
"""

from __future__ import annotations

import logging
import operator
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from cosmos_sim.data.lerobot import EpisodeDataset

logger = logging.getLogger(__name__)


class ClipDataset(Dataset):
    """Clips of ``clip_frames`` frames, with the actions between them and the states at them.

    Arguments: ``root_or_dataset`` a dataset folder or an open ``EpisodeDataset``; ``clip_frames``
    the clip length ``T = 1 + frames_per_step * n``; ``frames_per_step`` the frames per control
    interval ``k`` (default: the value the dataset recorded; a different one raises); ``stride`` the spacing of clip starts within an episode (default ``k``);
    ``video_key`` / ``action_key`` / ``state_key`` the features to return (``None`` omits actions
    or states); ``cache_episodes`` how many decoded episodes each process keeps (LRU), so that
    random access does not decode an episode per clip; 0 decodes just each clip's frames instead.

    Items are dicts of tensors: ``frames`` uint8 ``(T, H, W, 3)``, ``actions`` float32
    ``(T-1, A)``, ``states`` float32 ``(T, S)``, ``episode_index`` and ``start`` int64 scalars.
    Episodes shorter than ``clip_frames`` yield no clips (logged); if none is long enough,
    construction fails.
    """

    def __init__(
        self,
        root_or_dataset: str | Path | EpisodeDataset,
        *,
        clip_frames: int,
        frames_per_step: int | None = None,
        stride: int | None = None,
        video_key: str = "observation.image",
        action_key: str | None = "action",
        state_key: str | None = "observation.state",
        cache_episodes: int = 64,
    ) -> None:
        self.dataset = (
            root_or_dataset
            if isinstance(root_or_dataset, EpisodeDataset)
            else EpisodeDataset(root_or_dataset)
        )
        frames_per_step = self._frames_per_step(frames_per_step)
        k = frames_per_step
        if (
            isinstance(clip_frames, bool)
            or not isinstance(clip_frames, (int, np.integer))
            or clip_frames < 1
            or (clip_frames - 1) % frames_per_step
        ):
            raise ValueError(
                f"clip_frames must be 1 + {k}*n (n >= 0) with frames_per_step={k}, got {clip_frames!r}; "
                f"e.g. {1 + k}, {1 + 2 * k}, {1 + 4 * k}"
            )
        stride = frames_per_step if stride is None else stride
        if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1 or stride % k:
            raise ValueError(
                f"stride must be a positive multiple of frames_per_step={k} (clips start on control "
                f"intervals), got {stride!r}"
            )
        if (
            isinstance(cache_episodes, bool)
            or not isinstance(cache_episodes, (int, np.integer))
            or cache_episodes < 0
        ):
            raise ValueError(f"cache_episodes must be an int >= 0, got {cache_episodes!r}")

        features = self.dataset.features
        self._check_key(video_key, "video_key", video=True)
        for key, name in ((action_key, "action_key"), (state_key, "state_key")):
            if key is not None:
                self._check_key(key, name, video=False)
        self.clip_frames = clip_frames
        self.frames_per_step = frames_per_step
        self.stride = stride
        self.video_key, self.action_key, self.state_key = video_key, action_key, state_key
        self.cache_episodes = cache_episodes
        self._keys = [k for k in (video_key, action_key, state_key) if k is not None]
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()

        lengths = np.array([self.dataset.episode_length(i) for i in range(self.dataset.num_episodes)])
        clips_per_episode = np.where(lengths >= clip_frames, (lengths - clip_frames) // stride + 1, 0)
        if clips_per_episode.sum() == 0:
            raise ValueError(
                f"{self.dataset.root}: no episode has {clip_frames} frames (clip_frames); the longest has "
                f"{lengths.max()} frames. Use shorter clips or record longer episodes."
            )
        if short := int((clips_per_episode == 0).sum()):
            logger.warning(
                "%s: %d of %d episodes are shorter than clip_frames=%d and yield no clips",
                self.dataset.root, short, len(lengths), clip_frames,
            )  # fmt: skip
        # Clip i belongs to the episode e with ends[e-1] <= i < ends[e].
        self._ends = np.cumsum(clips_per_episode)
        self._frame_shape = features[video_key].shape

    def _frames_per_step(self, requested: int | None) -> int:
        """The dataset's recorded frames per control step; ``requested`` must agree with it."""
        recorded = self.dataset.info.get("cosmos_sim", {}).get("frames_per_step")
        value = recorded if requested is None else requested
        if value is None:
            raise ValueError(
                f"{self.dataset.root} does not record frames_per_step (not made by cosmos-sim generate); "
                "pass frames_per_step"
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"frames_per_step must be a positive int, got {value!r}")
        if recorded is not None and value != recorded:
            raise ValueError(
                f"frames_per_step={value} disagrees with {self.dataset.root}, recorded with "
                f"{recorded} frames per control step; clips would straddle control intervals"
            )
        return value

    def _check_key(self, key: str, name: str, *, video: bool) -> None:
        features = self.dataset.features
        if key not in features:
            raise ValueError(
                f"{name}={key!r} is not a feature of {self.dataset.root}; it has {list(features)}"
            )
        spec = features[key]
        if video and not spec.is_video:
            raise ValueError(f"{name}={key!r} must be a video feature, it is {spec.dtype} {spec.shape}")
        if not video and (spec.is_video or len(spec.shape) != 1):
            raise ValueError(
                f"{name}={key!r} must be a vector feature (one axis), it is {spec.dtype} {spec.shape}"
            )

    def __len__(self) -> int:
        return int(self._ends[-1])

    def clip_location(self, index: int) -> tuple[int, int]:
        """``(episode_index, start_row)`` of clip ``index``."""
        try:  # ints, numpy and 0-d tensor integers (a DataLoader sampler's); not floats or bools
            if isinstance(index, bool):
                raise TypeError
            index = operator.index(index)
        except TypeError:
            raise TypeError(f"clip index must be an integer, got {index!r}") from None
        if not -len(self) <= index < len(self):
            raise IndexError(f"clip index {index} out of range for {len(self)} clips")
        index %= len(self)
        episode = int(np.searchsorted(self._ends, index, side="right"))
        first_clip = int(self._ends[episode - 1]) if episode > 0 else 0
        return episode, (index - first_clip) * self.stride

    def _episode(self, episode: int) -> dict[str, np.ndarray]:
        # Each DataLoader worker holds its own copy of this cache (the dataset object is copied into it).
        if episode in self._cache:
            self._cache.move_to_end(episode)
            return self._cache[episode]
        rows = self.dataset.load_episode(episode, self._keys)
        self._cache[episode] = rows
        while len(self._cache) > self.cache_episodes:
            self._cache.popitem(last=False)
        return rows

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        episode, start = self.clip_location(index)
        if self.cache_episodes > 0:
            rows, first = self._episode(episode), start
        else:  # no cache: decode only the clip (from the keyframe before it), not the whole episode
            rows, first = (
                self.dataset.load_episode(episode, self._keys, rows=(start, start + self.clip_frames)),
                0,
            )
        frames = slice(first, first + self.clip_frames)
        item = {
            # A copy, so that a caller modifying the clip in place cannot alter the cached episode.
            "frames": torch.from_numpy(rows[self.video_key][frames].copy()),  # (T, H, W, 3) uint8
            "episode_index": torch.tensor(episode, dtype=torch.int64),
            "start": torch.tensor(start, dtype=torch.int64),
        }
        if self.action_key is not None:
            # (T-1, A): the actions applied between consecutive frames of the clip.
            actions = rows[self.action_key][first : first + self.clip_frames - 1]
            item["actions"] = torch.from_numpy(actions.astype(np.float32))
        if self.state_key is not None:
            item["states"] = torch.from_numpy(rows[self.state_key][frames].astype(np.float32))  # (T, S)
        return item
