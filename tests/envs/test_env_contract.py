"""Gymnasium contract for every registered cosmos_sim/ MuJoCo scene (Gymnasium tests/envs style).

World-model envs (``cosmos_sim/WFM-*``) need a trained checkpoint and have no simulator state to
round-trip or per-frame states; their contract is tested in test_wfm_env.py."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import cosmos_sim.envs  # noqa: F401  (registers the ids)

ENV_IDS = sorted(
    env_id
    for env_id in gym.registry
    if env_id.startswith("cosmos_sim/") and not env_id.startswith("cosmos_sim/WFM-")
)


def _rollout(env: gym.Env, seed: int, steps: int):
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    observations, states, rewards = [obs], [info["state"]], []
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        observations.append(obs)
        states.append(info["state"])
        rewards.append(reward)
        if terminated or truncated:
            break
    return observations, np.array(states), np.array(rewards)


def _equal_obs(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    return np.array_equal(a, b)


def test_some_ids_are_registered():
    assert "cosmos_sim/PushBlock-v0" in ENV_IDS


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=False)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_rollout_and_spaces(env_id):
    # Unwrapped, so the 50 steps are not cut short by the shorter time limits of passive scenes.
    env_a, env_b = gym.make(env_id).unwrapped, gym.make(env_id).unwrapped
    obs_a, states_a, rewards_a = _rollout(env_a, seed=7, steps=50)
    obs_b, states_b, rewards_b = _rollout(env_b, seed=7, steps=50)
    assert len(obs_a) == len(obs_b) == 51
    assert all(_equal_obs(x, y) for x, y in zip(obs_a, obs_b, strict=True))
    np.testing.assert_array_equal(states_a, states_b)
    np.testing.assert_array_equal(rewards_a, rewards_b)
    assert all(env_a.observation_space.contains(o) for o in obs_a)
    _, states_c, _ = _rollout(env_b, seed=8, steps=5)
    assert not np.array_equal(states_a[0], states_c[0]), "a different seed must give a different start"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_state_round_trip_continues_bit_for_bit(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=3)
    env.action_space.seed(3)
    for _ in range(3):
        env.step(env.action_space.sample())
    saved = env.get_state()
    actions = [env.action_space.sample() for _ in range(5)]
    first = [env.step(a) for a in actions]
    env.step(env.action_space.sample())  # wander off, then come back
    env.set_state(saved)
    np.testing.assert_array_equal(env.get_state(), saved)
    second = [env.step(a) for a in actions]
    for (o1, r1, *_rest1, i1), (o2, r2, *_rest2, i2) in zip(first, second, strict=True):
        assert _equal_obs(o1, o2)
        assert r1 == r2
        np.testing.assert_array_equal(i1["state"], i2["state"])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickled_env_continues_identically(env_id):
    env = gym.make(env_id)
    env.reset(seed=5)
    clone = pickle.loads(pickle.dumps(env))
    action = env.action_space.sample()
    out_a, out_b = env.step(action), clone.step(action)
    assert _equal_obs(out_a[0], out_b[0])
    np.testing.assert_array_equal(out_a[4]["state"], out_b[4]["state"])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_actions_raise_clear_errors(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    shape = env.action_space.shape
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((shape[0] + 1,), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step(np.full(shape, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step(np.full(shape, np.inf, dtype=np.float32))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_return_frames_carries_every_frame_of_the_interval(env_id):
    env = gym.make(env_id, return_frames=True)
    obs, info = env.reset(seed=0)
    k = env.unwrapped.frames_per_step
    assert info["frames"].shape[0] == 1
    obs, *_, info = env.step(env.action_space.sample())
    frames = info["frames"]
    assert frames.shape == (k, env.unwrapped.height, env.unwrapped.width, 3) and frames.dtype == np.uint8
    assert info["frame_states"].shape[0] == k
    rgb = obs["rgb"] if isinstance(obs, dict) else obs
    np.testing.assert_array_equal(frames[-1], rgb)  # the observation is the interval's last frame
    np.testing.assert_array_equal(info["frame_states"][-1], info["state"])


def test_a_refused_first_reset_leaves_the_made_env_usable():
    # Gymnasium's passive env checker would break every later step after a first reset that raises.
    env = gym.make("cosmos_sim/PushBlock-v0")
    with pytest.raises(gym.error.Error, match="Seed must be"):
        env.reset(seed=-1)
    env.reset(seed=0)
    assert env.step(np.zeros(2, dtype=np.float32))[0].shape == (64, 64, 3)
