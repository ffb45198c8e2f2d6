"""PushBlock-v0: timing, task functions, expert quality, domain randomization, oracle rollouts."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import cosmos_sim.envs  # noqa: F401
from cosmos_sim.envs.policies import make_policy
from cosmos_sim.envs.tasks.push_block import PushBlockExpert, PushBlockTask
from cosmos_sim.planners.mujoco_oracle import MujocoOracleDynamics

EPISODE_STEPS = 50
# Expert return on seed 0, measured with MuJoCo 4.0.0 (physics is deterministic for a given build).
REWARD_SUM_SEED0 = 41.3646044462271


def test_timing_is_pinned():
    env = gym.make("cosmos_sim/PushBlock-v0")
    scene = env.unwrapped
    assert scene.model.opt.timestep == pytest.approx(0.01)
    assert scene.physics_steps_per_frame == 5 and scene.frames_per_step == 4
    assert scene.frame_dt == pytest.approx(0.05) and scene.dt == pytest.approx(0.2)
    assert env.metadata["render_fps"] == pytest.approx(20.0)
    assert env.spec.max_episode_steps == EPISODE_STEPS


def test_reward_sum_of_a_fixed_rollout_is_pinned():
    # Pins physics + reward: a change in either moves this number.
    env = gym.make("cosmos_sim/PushBlock-v0")
    _, info = env.reset(seed=0)
    expert = PushBlockExpert()
    total = 0.0
    for _ in range(EPISODE_STEPS):
        _, reward, _, truncated, info = env.step(expert(info["state"], info["goal"]))
        total += reward
    assert truncated
    assert total == pytest.approx(REWARD_SUM_SEED0, rel=1e-4)


def _success_rate(policy_name: str, seeds: range) -> float:
    env = gym.make("cosmos_sim/PushBlock-v0")
    policy = make_policy(policy_name, "cosmos_sim/PushBlock-v0", env.action_space)
    successes = 0
    for seed in seeds:
        obs, info = env.reset(seed=seed)
        policy.reset(np.random.default_rng(seed))
        for _ in range(EPISODE_STEPS):
            obs, _, _, _, info = env.step(policy(obs, info))
        successes += info["is_success"]
    return successes / len(seeds)


def test_expert_solves_the_task_and_random_actions_do_not():
    # 50 seeds each: the expert must succeed on >= 90%, random actions on <= 10%.
    assert _success_rate("expert", range(50)) >= 0.9
    assert _success_rate("random", range(50)) <= 0.1


def test_task_functions_agree_on_numpy_and_torch_and_batch():
    task = PushBlockTask()
    rng = np.random.default_rng(0)
    states = rng.uniform(-0.2, 0.2, (4, 6, 5))
    goals = rng.uniform(-0.2, 0.2, (4, 6, 3))
    goals[0, 0, :2] = states[0, 0, 2:4] + 0.01  # one success
    r_np = task.reward(states, goals)
    r_t = task.reward(torch.from_numpy(states), torch.from_numpy(goals))
    assert r_np.shape == (4, 6)
    np.testing.assert_allclose(r_np, r_t.numpy(), rtol=1e-12)
    success = task.success(states, goals)
    assert success[0, 0] and success.sum() >= 1
    assert r_np[0, 0] == pytest.approx(
        -0.01 * np.sqrt(2) - 0.1 * np.linalg.norm(states[0, 0, :2] - states[0, 0, 2:4]) + 1.0
    )


def test_reward_terms_in_info_sum_to_reward():
    env = gym.make("cosmos_sim/PushBlock-v0")
    env.reset(seed=1)
    _, reward, _, _, info = env.step(np.array([0.3, -0.2], dtype=np.float32))
    assert reward == pytest.approx(info["reward_goal"] + info["reward_pusher"] + info["reward_success"])


def test_out_of_range_actions_are_clipped():
    env_a, env_b = gym.make("cosmos_sim/PushBlock-v0"), gym.make("cosmos_sim/PushBlock-v0")
    env_a.reset(seed=2)
    env_b.reset(seed=2)
    out_a = env_a.step(np.array([5.0, -7.0], dtype=np.float32))
    out_b = env_b.step(np.array([1.0, -1.0], dtype=np.float32))
    np.testing.assert_array_equal(out_a[4]["state"], out_b[4]["state"])


def test_domain_randomization_through_reset_options():
    env = gym.make("cosmos_sim/PushBlock-v0").unwrapped
    env.reset(seed=0)
    nominal = env.scene
    env.reset(seed=0, options={"domain_randomization": True})
    randomized = env.scene
    assert randomized["block_mass"] != nominal["block_mass"]
    assert 0.03 <= randomized["block_half_size"] <= 0.05
    env.reset(seed=0, options={"scene": {"block_mass": 0.33}})
    assert env.scene["block_mass"] == 0.33 and env.model.body("block").mass[0] == pytest.approx(0.33)
    with pytest.raises(ValueError, match="unknown scene parameters"):
        env.reset(seed=0, options={"scene": {"blok_mass": 1.0}})


def test_reset_to_given_state_and_goal():
    env = gym.make("cosmos_sim/PushBlock-v0").unwrapped
    state, goal = np.array([0.1, 0.1, -0.1, 0.0, 0.5]), np.array([0.0, 0.1, 0.0])
    _, info = env.reset(seed=0, options={"state": state, "goal": goal})
    np.testing.assert_allclose(info["state"], state)
    np.testing.assert_allclose(info["goal"], goal)
    with pytest.raises(ValueError, match="goal"):
        env.reset(seed=0, options={"goal": [0.0, np.nan, 0.0]})


def test_depth_and_segmentation_observations():
    env = gym.make("cosmos_sim/PushBlock-v0", depth=True, segmentation=True)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    # The camera is 1 m above the table: the table is ~1 m away, the block (0.04 m tall) nearer.
    assert 0.9 < np.median(obs["depth"]) < 1.05
    block_id = env.unwrapped.model.geom("block").id
    block_pixels = obs["segmentation"][..., 0] == block_id
    assert block_pixels.sum() > 10
    assert obs["depth"][block_pixels].mean() < np.median(obs["depth"]) - 0.02


def test_oracle_rollout_reproduces_env_stepping():
    env = gym.make("cosmos_sim/PushBlock-v0", return_frames=True).unwrapped
    env.reset(seed=4)
    env.step(np.array([0.2, 0.2], dtype=np.float32))
    oracle = MujocoOracleDynamics(env, num_threads=2)
    actions = np.random.default_rng(0).uniform(-1, 1, (6, 8, 2))
    result = oracle.rollout(actions, return_frames=True)
    assert result.states.shape == (6, 8, 5)
    assert result.frames.shape == (6, 8 * 4, 64, 64, 3)
    saved = env.get_state()
    states, frames = [], []
    for action in actions[2]:
        _, _, _, _, info = env.step(action)
        states.append(info["state"])
        frames.append(info["frames"])
    np.testing.assert_array_equal(np.array(states), result.states[2])
    np.testing.assert_array_equal(np.concatenate(frames), result.frames[2])
    # The oracle leaves the env alone and re-clones on request.
    env.set_state(saved)
    oracle.clone()
    np.testing.assert_array_equal(oracle.rollout(actions[2:3]).states[0], np.array(states))


def test_oracle_rejects_bad_actions():
    env = gym.make("cosmos_sim/PushBlock-v0").unwrapped
    env.reset(seed=0)
    oracle = MujocoOracleDynamics(env, num_threads=1)
    with pytest.raises(ValueError, match=r"\(B, H, 2\)"):
        oracle.rollout(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        oracle.rollout(np.full((1, 2, 2), np.nan))


def test_a_refused_reset_leaves_the_running_episode_as_it_was():
    env = gym.make("cosmos_sim/PushBlock-v0").unwrapped
    env.reset(seed=0, options={"scene": {"block_mass": 0.3}})
    for _ in range(3):
        env.step(np.array([0.5, -0.5]))
    before = env.get_state()
    for bad in ({"state": [9.0] * 5}, {"scene": {"block_half_size": 0.08}, "goal": [0.5, 0.0, 0.0]}):
        with pytest.raises(ValueError):
            env.reset(options=bad)
        np.testing.assert_array_equal(env.get_state(), before)
        assert env.scene["block_mass"] == 0.3 and env.scene["block_half_size"] == 0.04
    again = gym.make("cosmos_sim/PushBlock-v0").unwrapped
    again.reset(seed=0, options={"scene": {"block_mass": 0.3}})
    again.set_state(before)
    np.testing.assert_array_equal(env.step(np.array([0.3, 0.3]))[0], again.step(np.array([0.3, 0.3]))[0])


def test_bad_reset_options_are_clear_errors():
    env = gym.make("cosmos_sim/PushBlock-v0")
    with pytest.raises(ValueError, match=r"unknown options \['domain_randomisation'\]"):
        env.reset(seed=0, options={"domain_randomisation": True})
    with pytest.raises(ValueError, match="outside"):
        env.reset(seed=0, options={"state": [0.0, 0.0, 0.6, 0.0, 0.0]})
    with pytest.raises(ValueError, match="outside"):
        env.reset(seed=0, options={"goal": [0.5, 0.0, 0.0]})
    with pytest.raises(ValueError, match=r"block_half_size'\] must be a number in \(0, 0.1\]"):
        env.reset(seed=0, options={"scene": {"block_half_size": "big"}})
    # A block too wide for any pusher start (reset once searched for one forever), an infinite mass, a
    # NaN colour: each refused by name.
    for key, value in (("block_half_size", 1.0), ("block_mass", np.inf), ("block_friction", np.nan)):
        with pytest.raises(ValueError, match=rf"scene\['{key}'\] must be a number in"):
            env.reset(seed=0, options={"scene": {key: value}})
    with pytest.raises(ValueError, match=r"block_rgba'\] must be 4 numbers in \[0, 1\]"):
        env.reset(seed=0, options={"scene": {"block_rgba": [np.nan, 0, 0, 1]}})
    with pytest.raises(ValueError, match=r"must be a dict"):
        env.reset(seed=0, options={"scene": 3})
    with pytest.raises(ValueError, match=r"domain_randomization'\] must be True or False, got 'no'"):
        env.reset(seed=0, options={"domain_randomization": "no"})
    with pytest.raises(ValueError, match=r"4 numbers in \[0, 1\]"):
        env.reset(seed=0, options={"scene": {"block_rgba": [2, 0, 0, 1]}})


def test_oracle_refuses_a_snapshot_of_an_older_scene():
    env = gym.make("cosmos_sim/PushBlock-v0").unwrapped
    env.reset(seed=0)
    oracle = MujocoOracleDynamics(env, num_threads=1)
    env.reset(seed=1, options={"domain_randomization": True})  # a new model
    with pytest.raises(RuntimeError, match="clone"):
        oracle.rollout(np.zeros((1, 2, 2)))
    oracle.clone()
    assert oracle.rollout(np.zeros((1, 2, 2))).states.shape == (1, 2, 5)
