"""Training clips: length rule, control-interval alignment, episode boundaries, row alignment, loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from cosmos_sim.data.clips import ClipDataset
from cosmos_sim.data.lerobot import EpisodeDataset


def _expected_locations(lengths: list[int], clip_frames: int, stride: int) -> list[tuple[int, int]]:
    return [(e, s) for e, n in enumerate(lengths) for s in range(0, n - clip_frames + 1, stride)]


def test_clip_length_must_be_one_plus_a_multiple_of_frames_per_step(reference_dataset):
    with pytest.raises(ValueError, match=r"clip_frames must be 1 \+ 4\*n .* got 10; e\.g\. 5, 9, 17"):
        ClipDataset(reference_dataset, clip_frames=10)
    with pytest.raises(ValueError, match=r"got 0"):
        ClipDataset(reference_dataset, clip_frames=0)
    with pytest.raises(ValueError, match="frames_per_step must be a positive int, got 0"):
        ClipDataset(reference_dataset, clip_frames=9, frames_per_step=0)
    with pytest.raises(ValueError, match="stride must be a positive multiple of frames_per_step=4.*got 0"):
        ClipDataset(reference_dataset, clip_frames=9, stride=0)
    # The dataset's recorded frames per step is the default; a different one is refused.
    assert ClipDataset(reference_dataset, clip_frames=9).frames_per_step == 4
    with pytest.raises(ValueError, match="disagrees"):
        ClipDataset(reference_dataset, clip_frames=7, frames_per_step=3)


def test_clips_start_on_control_intervals_and_never_cross_episodes(reference_dataset, synthetic):
    dataset = EpisodeDataset(reference_dataset)
    lengths = [dataset.episode_length(i) for i in range(dataset.num_episodes)]
    for clip_frames, stride in [(9, None), (13, 8), (5, 12)]:
        clips = ClipDataset(dataset, clip_frames=clip_frames, stride=stride)
        expected = _expected_locations(lengths, clip_frames, stride or synthetic.FRAMES_PER_STEP)
        assert [clips.clip_location(i) for i in range(len(clips))] == expected
        for episode, start in expected:
            assert start % (stride or synthetic.FRAMES_PER_STEP) == 0
            assert start + clip_frames <= lengths[episode]


def test_frames_actions_and_states_line_up(reference_dataset, synthetic):
    dataset = EpisodeDataset(reference_dataset)
    clips = ClipDataset(dataset, clip_frames=9)
    for index in range(len(clips)):
        item = clips[index]
        episode, start = int(item["episode_index"]), int(item["start"])
        assert (episode, start) == clips.clip_location(index)
        assert item["frames"].dtype == torch.uint8 and item["frames"].shape == (9, 64, 64, 3)
        assert item["actions"].dtype == torch.float32 and item["actions"].shape == (8, 2)
        assert item["states"].dtype == torch.float32 and item["states"].shape == (9, 4)
        rows = np.arange(start, start + 9)
        # state[:, 0] is the episode and state[:, 1] / action[:, 0] the row each value was recorded at.
        np.testing.assert_array_equal(item["states"][:, 0].numpy(), episode)
        np.testing.assert_array_equal(item["states"][:, 1].numpy(), rows)
        np.testing.assert_array_equal(item["actions"][:, 0].numpy(), rows[:-1])
        written = synthetic.make_episode(episode)
        np.testing.assert_array_equal(item["actions"].numpy(), written["action"][start : start + 8])
        decoded = dataset.load_episode(episode, ["observation.image"])["observation.image"]
        np.testing.assert_array_equal(item["frames"].numpy(), decoded[start : start + 9])


def test_short_episodes_are_skipped_and_too_short_datasets_are_a_clear_error(reference_dataset, caplog):
    dataset = EpisodeDataset(reference_dataset)
    lengths = [dataset.episode_length(i) for i in range(dataset.num_episodes)]
    longest = max(lengths)  # 25 frames = 1 + 4*6
    clips = ClipDataset(dataset, clip_frames=21)
    assert {clips.clip_location(i)[0] for i in range(len(clips))} == {
        e for e, n in enumerate(lengths) if n >= 21
    }
    assert "episodes are shorter than clip_frames=21" in caplog.text
    with pytest.raises(ValueError, match=rf"no episode has 29 frames .* the longest has {longest} frames"):
        ClipDataset(dataset, clip_frames=29)


def test_keys_are_checked(reference_dataset):
    with pytest.raises(ValueError, match=r"video_key='action' must be a video feature"):
        ClipDataset(reference_dataset, clip_frames=9, video_key="action")
    with pytest.raises(ValueError, match=r"action_key='nope' is not a feature of .*; it has \["):
        ClipDataset(reference_dataset, clip_frames=9, action_key="nope")
    with pytest.raises(
        ValueError, match=r"state_key='observation.camera_intrinsics' must be a vector feature"
    ):
        ClipDataset(reference_dataset, clip_frames=9, state_key="observation.camera_intrinsics")
    frames_only = ClipDataset(reference_dataset, clip_frames=5, action_key=None, state_key=None)
    assert sorted(frames_only[0]) == ["episode_index", "frames", "start"]


def test_decoded_episodes_are_cached_per_process(reference_dataset, monkeypatch):
    clips = ClipDataset(reference_dataset, clip_frames=5, cache_episodes=2)
    loads = []
    real = clips.dataset.load_episode
    monkeypatch.setattr(clips.dataset, "load_episode", lambda i, keys=None: loads.append(i) or real(i, keys))
    first_episode = [i for i in range(len(clips)) if clips.clip_location(i)[0] == 0]
    for index in first_episode:
        clips[index]
    assert loads == [0]  # one decode serves every clip of the episode
    for episode in (1, 2, 0):
        clips[next(i for i in range(len(clips)) if clips.clip_location(i)[0] == episode)]
    assert loads == [0, 1, 2, 0]  # LRU of 2: episode 0 was evicted by 1 and 2
    assert list(clips._cache) == [2, 0]
    # Modifying a returned clip does not alter the cached episode.
    item = clips[first_episode[0]]
    item["frames"].zero_()
    assert clips[first_episode[0]]["frames"].any()


def test_dataloader_with_two_workers_yields_every_clip_once(reference_dataset):
    clips = ClipDataset(reference_dataset, clip_frames=9)
    loader = DataLoader(
        clips, batch_size=4, shuffle=True, num_workers=2, generator=torch.Generator().manual_seed(0)
    )
    seen = []
    for batch in loader:
        assert batch["frames"].dtype == torch.uint8 and batch["frames"].shape[1:] == (9, 64, 64, 3)
        assert batch["actions"].shape[1:] == (8, 2) and batch["states"].shape[1:] == (9, 4)
        # Each clip's states come from its own episode and rows.
        np.testing.assert_array_equal(batch["states"][:, 0, 0].numpy(), batch["episode_index"].numpy())
        np.testing.assert_array_equal(batch["states"][:, 0, 1].numpy(), batch["start"].numpy())
        seen += list(zip(batch["episode_index"].tolist(), batch["start"].tolist(), strict=True))
    assert sorted(seen) == [clips.clip_location(i) for i in range(len(clips))]


def test_stride_off_the_control_grid_is_rejected(reference_dataset):
    with pytest.raises(ValueError, match="positive multiple of frames_per_step"):
        ClipDataset(reference_dataset, clip_frames=9, stride=3)


def test_uncached_clips_decode_only_their_frames_and_equal_cached_ones(reference_dataset):
    cached = ClipDataset(reference_dataset, clip_frames=9)
    uncached = ClipDataset(reference_dataset, clip_frames=9, cache_episodes=0)
    assert len(cached) == len(uncached)
    for index in range(len(cached)):
        a, b = cached[index], uncached[index]
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (index, key)


def test_episode_row_ranges_match_whole_episodes(reference_dataset):
    dataset = EpisodeDataset(reference_dataset)
    whole = dataset.load_episode(1)
    part = dataset.load_episode(1, rows=(3, 11))
    for key in whole:
        np.testing.assert_array_equal(part[key], whole[key][3:11])
    with pytest.raises(ValueError, match="not a non-empty range"):
        dataset.load_episode(1, rows=(5, 5))
    with pytest.raises(ValueError, match="not a non-empty range"):
        dataset.load_episode(1, rows=(0, dataset.episode_length(1) + 1))


def test_indices_and_sizes_may_be_numpy_or_tensor_integers(reference_dataset):
    clips = ClipDataset(
        reference_dataset, clip_frames=np.int64(5), stride=np.int64(4), cache_episodes=np.int64(1)
    )
    first = clips[0]["frames"]
    for index in (np.int64(0), torch.tensor(0)):  # a DataLoader sampler may hand out tensors
        assert torch.equal(clips[index]["frames"], first)
    for index in (1.5, True):
        with pytest.raises(TypeError, match="clip index must be an integer"):
            clips[index]
