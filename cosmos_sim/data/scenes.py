"""Training and held-out datasets of several MuJoCo scenes, generated on demand.

A recipe (tokenizer or world-model training, a benchmark) names the scenes it needs as ``SceneData``
entries; ``ensure_scene_datasets`` records whatever is missing with ``cosmos_sim.data.generate`` (which
resumes and never shrinks a dataset) under ``root/<split>/<scene>``. The two splits use disjoint seed
ranges, so held-out episodes are never seen in training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cosmos_sim.configs import check_field_types
from cosmos_sim.data.generate import GenerateConfig, generate

SPLIT_SEEDS = {"train": 0, "heldout": 1_000_000}
"""Seed of episode 0 in each split; episode i uses seed + i."""


@dataclass(frozen=True)
class SceneData:
    """One scene of a dataset mixture."""

    env_id: str
    """Registered scene id, e.g. ``cosmos_sim/PushBlock-v0``."""
    episodes: int
    """Episodes to record for the training split."""
    policy: str = "random"
    """Recording policy (see ``GenerateConfig.policy``)."""
    heldout_episodes: int = 4
    """Episodes to record for the held-out split."""
    weight: float = 1.0
    """Relative sampling weight of this scene in a training mixture."""
    reset_options: dict | None = None
    """Options for every ``reset`` (e.g. ``{"domain_randomization": true}``)."""
    dataset: str = ""
    """Folder name of its datasets under ``root/<split>/`` (default: the env's name, e.g.
    ``PushBlock-v0``); another name lets one env appear twice, recorded with two policies."""

    def __post_init__(self) -> None:
        check_field_types(self)
        if self.episodes < 1 or self.heldout_episodes < 1:
            raise ValueError(
                f"SceneData({self.env_id}): episode counts must be >= 1, got {self.episodes}, {self.heldout_episodes}"
            )
        if not 0 < self.weight < math.inf:  # NaN fails too
            raise ValueError(
                f"SceneData({self.env_id}): weight must be a finite number > 0, got {self.weight}"
            )
        if self.reset_options is not None and not isinstance(self.reset_options, dict):
            raise ValueError(
                f"SceneData({self.env_id}): reset_options must be a mapping, got {self.reset_options!r}"
            )
        if self.dataset and (Path(self.dataset).name != self.dataset or self.dataset in (".", "..")):
            raise ValueError(
                f"SceneData({self.env_id}): dataset must be a plain folder name, got {self.dataset!r}"
            )

    @property
    def name(self) -> str:
        return self.dataset or self.env_id.split("/")[-1]


def scene_dataset_dir(root: str | Path, scene: SceneData, split: str) -> Path:
    if split not in SPLIT_SEEDS:
        raise ValueError(f"unknown split {split!r}; known: {sorted(SPLIT_SEEDS)}")
    return Path(root) / split / scene.name


def ensure_scene_datasets(
    root: str | Path, scenes: Sequence[SceneData], split: str, *, workers: int = 2, progress: bool = True
) -> list[Path]:
    """The dataset folder of each scene in ``split``, recording missing episodes first."""
    if (Path(root) / "meta" / "info.json").is_file():
        raise ValueError(
            f"{root} is one episode dataset (it has meta/info.json), not a data root: a data root holds "
            f"<split>/<scene>/ datasets, here {root}/{split}/{scenes[0].name if scenes else '<scene>'}/ "
            f"(missing episodes are recorded there)"
        )
    paths = []
    for scene in scenes:
        path = scene_dataset_dir(root, scene, split)
        episodes = scene.episodes if split == "train" else scene.heldout_episodes
        generate(
            GenerateConfig(
                output=str(path),
                env_id=scene.env_id,
                num_episodes=episodes,
                policy=scene.policy,
                seed=SPLIT_SEEDS[split],
                workers=workers,
                reset_options=dict(scene.reset_options or {}),
            ),
            progress=progress,
        )
        paths.append(path)
    return paths
