"""Scene mixtures: splits land in their own folders with disjoint seeds; bad entries are clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from cosmos_sim.data.lerobot import EpisodeDataset
from cosmos_sim.data.scenes import SPLIT_SEEDS, SceneData, ensure_scene_datasets, scene_dataset_dir


def test_train_and_heldout_are_separate_datasets_with_disjoint_seeds(tmp_path):
    scenes = [SceneData("cosmos_sim/Physics-FreeFall-v0", episodes=2, policy="zero", heldout_episodes=1)]
    train = ensure_scene_datasets(tmp_path, scenes, "train", workers=1, progress=False)
    heldout = ensure_scene_datasets(tmp_path, scenes, "heldout", workers=1, progress=False)
    assert train == [tmp_path / "train" / "Physics-FreeFall-v0"]
    assert heldout == [scene_dataset_dir(tmp_path, scenes[0], "heldout")]
    assert len(EpisodeDataset(train[0])) == 2 and len(EpisodeDataset(heldout[0])) == 1
    assert SPLIT_SEEDS["heldout"] - SPLIT_SEEDS["train"] > 10_000  # no overlap for any realistic size
    first_train = EpisodeDataset(train[0]).load_episode(0, keys=["observation.image"])["observation.image"]
    first_heldout = EpisodeDataset(heldout[0]).load_episode(0, keys=["observation.image"])[
        "observation.image"
    ]
    assert (first_train != first_heldout).any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(episodes=0), "episode counts must be >= 1"),
        (dict(episodes=1, weight=0.0), "weight must be a finite number > 0"),
        (dict(episodes=1, reset_options=["domain_randomization"]), "reset_options must be a mapping"),
        (dict(episodes=1, dataset="../elsewhere"), "dataset must be a plain folder name"),
        (dict(episodes="two"), "SceneData.episodes must be int"),
        (dict(episodes=1, dataset=".."), "dataset must be a plain folder name"),
    ],
)
def test_bad_scene_entries_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SceneData("cosmos_sim/PushBlock-v0", **kwargs)


def test_unknown_split_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown split 'test'"):
        scene_dataset_dir(tmp_path, SceneData("cosmos_sim/PushBlock-v0", episodes=1), "test")


def test_one_env_can_appear_twice_under_two_dataset_names(tmp_path):
    from cosmos_sim.training.wfm import WFMDataConfig

    expert = SceneData("cosmos_sim/PushBlock-v0", episodes=1, policy="expert")
    planner = SceneData("cosmos_sim/PushBlock-v0", episodes=1, policy="mpc", dataset="PushBlock-v0-mpc")
    assert scene_dataset_dir(tmp_path, planner, "train") == tmp_path / "train" / "PushBlock-v0-mpc"
    assert WFMDataConfig(scenes=[expert, planner]).task == "cosmos_sim/PushBlock-v0"
    with pytest.raises(ValueError, match="share a dataset folder"):
        WFMDataConfig(scenes=[expert, SceneData("cosmos_sim/PushBlock-v0", episodes=1, policy="mpc")])


def test_a_scene_records_with_its_reset_options(tmp_path):
    nominal = SceneData("cosmos_sim/CameraOrbit-v0", episodes=1, heldout_episodes=1)
    randomized = SceneData(
        "cosmos_sim/CameraOrbit-v0",
        episodes=1,
        heldout_episodes=1,
        dataset="randomized",
        reset_options={"domain_randomization": True},
    )
    paths = ensure_scene_datasets(tmp_path, [nominal, randomized], "heldout", workers=1, progress=False)
    first = [
        EpisodeDataset(p).load_episode(0, keys=["observation.image"])["observation.image"][0] for p in paths
    ]
    # Same seed, same camera orbit: only the randomized scene's objects and floor tell them apart.
    assert np.abs(first[0].astype(int) - first[1].astype(int)).mean() > 10


def test_a_data_root_that_is_one_dataset_is_refused_before_recording(tmp_path):
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "info.json").write_text("{}")  # what `cosmos-sim generate --out` writes
    scene = SceneData("cosmos_sim/PushBlock-v0", episodes=1)
    with pytest.raises(ValueError, match=r"is one episode dataset .* here .*/train/PushBlock-v0/"):
        ensure_scene_datasets(tmp_path, [scene], "train", workers=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta"]  # nothing recorded into it
