"""World-model envs (envs/wfm) on a tiny untrained world model: Gymnasium contract, seeding, one batched
model call per vector step, streaming decoding, autoreset, starts, bad input, an SB3 smoke run.

The model is untrained, so frames and predicted states are meaningless; these tests pin the plumbing
(shapes, spaces, determinism, which frames and states go where), not the physics.
"""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import cosmos_sim.envs  # noqa: F401  (registers the ids)
from cosmos_sim.envs.tasks.push_block import PushBlockTask
from cosmos_sim.envs.wfm import WorldModelEnv, WorldModelVectorEnv
from cosmos_sim.world_models.diffusion.model import CONTROL_SAMPLER

WFM_ID = "cosmos_sim/WFM-PushBlock-v0"
SCENE_ID = "cosmos_sim/PushBlock-v0"
K = 4  # frames per control interval of the CV4x8x8 tokenizer and of PushBlock


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def checkpoint(tiny_pushblock_world_model):
    return tiny_pushblock_world_model


def _rollout(env: gym.Env, seed: int, actions: np.ndarray):
    obs, info = env.reset(seed=seed)
    observations, rewards, states = [obs], [], [info["state"]]
    for action in actions:
        obs, reward, _terminated, _truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        states.append(info["state"])
    return np.stack(observations), np.array(rewards), np.stack(states)


def _count_world_steps(monkeypatch, world) -> list[int]:
    """Record the batch size of every ``world.step`` call."""
    calls: list[int] = []
    step = world.step

    def counting_step(state, actions, generator):
        calls.append(state.batch)
        return step(state, actions, generator)

    monkeypatch.setattr(world, "step", counting_step)
    return calls


def test_registration_is_lazy_and_names_both_entry_points():
    spec = gym.spec(WFM_ID)
    assert spec.entry_point == "cosmos_sim.envs.wfm.world_model_env:WorldModelEnv"
    assert spec.vector_entry_point == "cosmos_sim.envs.wfm.vector_env:WorldModelVectorEnv"
    assert spec.max_episode_steps == gym.spec(SCENE_ID).max_episode_steps == 50
    code = "import sys, cosmos_sim.envs; print('cosmos_sim.envs.wfm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_check_env_and_spaces_match_the_scene(checkpoint):
    env = gym.make(WFM_ID, checkpoint=checkpoint)
    check_env(env.unwrapped, skip_render_check=False)
    scene = gym.make(SCENE_ID)
    assert env.observation_space == scene.observation_space
    assert env.action_space == scene.action_space
    assert env.unwrapped.dt == scene.unwrapped.dt
    assert env.metadata["render_fps"] == scene.metadata["render_fps"]
    assert env.spec.max_episode_steps == 50
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    np.testing.assert_array_equal(env.render(), obs)
    scene.reset(seed=0)
    scene_info = scene.step(scene.action_space.sample())[4]
    _, reward, terminated, truncated, info = env.step(np.array([0.3, -0.2], dtype=np.float32))
    # Every key of the scene's step info, plus the decoded frames of the interval.
    assert set(info) == set(scene_info) | {"frames"}
    assert info["frames"].shape == (K, 64, 64, 3) and info["frames"].dtype == np.uint8
    assert not terminated and not truncated
    env.close()


def test_same_seed_same_rollout_other_seed_another(checkpoint):
    actions = np.random.default_rng(0).uniform(-1, 1, (4, 2)).astype(np.float32)
    env_a, env_b = WorldModelEnv(checkpoint=checkpoint), WorldModelEnv(checkpoint=checkpoint)
    obs_a, rewards_a, states_a = _rollout(env_a, 7, actions)
    obs_b, rewards_b, states_b = _rollout(env_b, 7, actions)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rewards_a, rewards_b)
    np.testing.assert_array_equal(states_a, states_b)
    obs_c, rewards_c, _ = _rollout(env_b, 8, actions)
    assert not np.array_equal(obs_a[0], obs_c[0]), "another seed must draw another start"
    assert not np.array_equal(rewards_a, rewards_c)


def test_pickled_env_continues_identically(checkpoint):
    env = gym.make(WFM_ID, checkpoint=checkpoint)
    env.reset(seed=5)
    env.step(np.zeros(2, dtype=np.float32))  # the decoder streams now carry state
    clone = pickle.loads(pickle.dumps(env))
    action = np.array([0.7, -0.4], dtype=np.float32)
    out_a, out_b = env.step(action), clone.step(action)
    np.testing.assert_array_equal(out_a[0], out_b[0])
    assert out_a[1] == out_b[1]
    np.testing.assert_array_equal(out_a[4]["state"], out_b[4]["state"])
    np.testing.assert_array_equal(out_a[4]["frames"], out_b[4]["frames"])  # every frame of the interval


def test_steps_decode_the_new_frames_of_the_whole_latent_clip(checkpoint, monkeypatch):
    # Streaming decoding of one latent frame per step gives the frames of decoding the whole episode's
    # latents at once (to a uint8 level: the tokenizer's streaming is exact up to float rounding).
    task = PushBlockTask(pusher_distance_weight=0.0, success_bonus=0.5)
    env = WorldModelEnv(checkpoint=checkpoint, task=task)
    assert env.task is task and env.core.scene.task is task
    world = env.world
    new_latents = []
    step = world.step

    def recording_step(state, actions, generator):
        out = step(state, actions, generator)
        new_latents.append(out.latents[:, :, -1:])
        return out

    monkeypatch.setattr(world, "step", recording_step)
    obs, _ = env.reset(seed=3)
    start = env.core.latents.clone()  # window - 1 = 2 latent frames: the start frame held still
    streamed = []
    for action in ([1.0, 0.0], [0.0, 1.0], [-1.0, 0.5]):
        obs, reward, _, _, info = env.step(np.array(action, dtype=np.float32))
        np.testing.assert_array_equal(info["frames"][-1], obs)
        np.testing.assert_array_equal(env.render(), obs)
        assert reward == sum(info[k] for k in ("reward_goal", "reward_pusher", "reward_success"))
        assert info["reward_pusher"] == 0.0
        np.testing.assert_allclose(reward, task.reward(info["state"], info["goal"]))
        streamed.append(info["frames"])
    whole = world.decode(torch.cat([start, *new_latents], dim=2))[0]  # (1 + k*(2 - 1) + 3k, H, W, 3)
    assert whole.shape[0] == 1 + K + 3 * K
    diff = np.abs(whole[-3 * K :].astype(int) - np.concatenate(streamed).astype(int))
    assert diff.max() <= 1
    # The model's context stays bounded at window - 1 latent frames.
    assert env.core.latents.shape[2] == world.config.window - 1 == 2


def test_vector_env_steps_all_sub_envs_in_one_model_call(checkpoint, monkeypatch):
    envs = gym.make_vec(WFM_ID, num_envs=3, vectorization_mode="vector_entry_point", checkpoint=checkpoint)
    assert isinstance(envs, WorldModelVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.max_episode_steps == 50  # passed on from the registration by make_vec
    scene = gym.make(SCENE_ID)
    assert envs.single_observation_space == scene.observation_space
    assert envs.single_action_space == scene.action_space
    assert envs.observation_space.shape == (3, 64, 64, 3) and envs.action_space.shape == (3, 2)
    calls = _count_world_steps(monkeypatch, envs.unwrapped.world)
    obs, info = envs.reset(seed=0)
    assert obs.shape == (3, 64, 64, 3) and obs.dtype == np.uint8 and info["goal"].shape == (3, 3)
    assert calls == []
    for i in range(3):
        obs, rewards, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert calls == [3] * (i + 1), "one batched world.step per vector step"
    assert envs.observation_space.contains(obs)
    assert rewards.shape == terminated.shape == truncated.shape == (3,)
    assert info["frames"].shape == (3, K, 64, 64, 3) and info["state"].shape == (3, 5)
    assert info["_frames"].all()
    assert len(envs.render()) == 3
    envs.close()


def test_vector_seeding_per_sub_env(checkpoint):
    actions = np.random.default_rng(1).uniform(-1, 1, (3, 2, 2)).astype(np.float32)
    # float32 throughout: the comparisons of batched and unbatched frames below hold to 2 grey levels
    # there (bfloat16's batch-size-dependent rounding is larger; the test is of seeding, not precision).
    vec_a, vec_b = (WorldModelVectorEnv(2, checkpoint=checkpoint, bf16=False) for _ in range(2))
    runs = []
    for envs, seed in ((vec_a, [11, 12]), (vec_b, [11, 12]), (vec_b, [11, 13])):
        obs, info = envs.reset(seed=seed)
        observations, goals = [obs], info["goal"]
        for action in actions:
            observations.append(envs.step(action)[0])
        runs.append((np.stack(observations), goals))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert np.array_equal(runs[1][0][0, 0], runs[2][0][0, 0])  # sub-env 0 kept its seed: same start
    assert not np.array_equal(runs[1][0][0, 1], runs[2][0][0, 1])  # sub-env 1 got another
    # Sub-env i with seed s draws the start a single env with seed s draws (scene, goal, start frame);
    # its predicted frames are not bit-identical: one generator drives the batched call, and batched
    # float math differs from unbatched in the last bits.
    # A bad seed list is refused before any sub-env is re-seeded: the next reset without seeds goes on
    # with the streams it had.
    before = [rng.bit_generator.state for rng in vec_b._rngs]
    for bad in ([99, 1.5], [99, -1], [99, True]):
        with pytest.raises(ValueError, match=r"a list of 2 seeds \(each None or an int >= 0\)"):
            vec_b.reset(seed=bad)
    assert [rng.bit_generator.state for rng in vec_b._rngs] == before
    single = WorldModelEnv(checkpoint=checkpoint, bf16=False)
    for i, seed in enumerate((11, 13)):
        obs, info = single.reset(seed=seed)
        np.testing.assert_array_equal(info["goal"], runs[2][1][i])
        assert np.abs(obs.astype(int) - runs[2][0][0, i].astype(int)).max() <= 2
    # A vector env of one is the single env exactly (both run the same core with one sub-env).
    one = WorldModelVectorEnv(1, checkpoint=checkpoint, bf16=False)
    obs_vec, _ = one.reset(seed=5)
    obs_single, _ = single.reset(seed=5)
    np.testing.assert_array_equal(obs_vec[0], obs_single)
    for action in actions[:, 0]:
        out_vec, out_single = one.step(action[None]), single.step(action)
        np.testing.assert_array_equal(out_vec[0][0], out_single[0])
        assert out_vec[1][0] == out_single[1]


def test_vector_autoreset_of_a_finished_sub_env(checkpoint, monkeypatch):
    # Success for every goal but sub-env 0's first (the untrained model's predicted states mean
    # nothing): sub-env 1 terminates on its first step, and again after its autoreset; sub-env 0 never.
    never = np.array([0.2, 0.2])

    class AllButOneGoal(PushBlockTask):
        def success(self, state, goal):
            return ~np.all(np.asarray(goal)[..., :2] == never, axis=-1) & np.ones(np.shape(state)[:-1], bool)

    task = AllButOneGoal()
    envs = WorldModelVectorEnv(
        2, checkpoint=checkpoint, task=task, terminate_on_success=True, max_episode_steps=3
    )
    frames = np.stack([gym.make(SCENE_ID).reset(seed=s)[0][None] for s in (0, 1)])  # (2, 1, H, W, 3)
    goals = np.array([[0.2, 0.2, 0.0], [0.0, 0.0, 0.0]])
    calls = _count_world_steps(monkeypatch, envs.world)
    envs.reset(seed=0, options={"frames": frames, "goal": goals})
    actions = np.zeros((2, 2), dtype=np.float32)

    _, rewards, terminated, truncated, info = envs.step(actions)
    np.testing.assert_array_equal(terminated, [False, True])
    assert info["is_success"].tolist() == [False, True]
    # Next step: sub-env 1 is reset (reward 0, reset info, no frames) while sub-env 0 steps alone.
    obs, rewards, terminated, truncated, info = envs.step(actions)
    assert calls == [2, 1]
    assert rewards[1] == 0.0 and not terminated[1] and not truncated[1]
    assert info["_frames"].tolist() == [True, False] and info["_goal"].all()
    assert np.all(np.abs(info["goal"][1, :2]) <= 0.2), (
        "the new start comes from the scene's reset distribution"
    )
    assert len(envs.core.streams) == 2  # sub-env 1 decodes through a stream of its new episode
    np.testing.assert_array_equal(envs.render()[1], obs[1])
    # Sub-env 0 reaches the time limit of 3 steps; sub-env 1 terminates again on its first new step.
    _, _, terminated, truncated, _ = envs.step(actions)
    assert truncated.tolist() == [True, False] and terminated.tolist() == [False, True]
    _, rewards, terminated, truncated, info = envs.step(actions)
    assert calls == [2, 1, 2], "no model call when every sub-env is being reset"
    assert rewards.tolist() == [0.0, 0.0] and "frames" not in info  # reset infos only
    assert len(envs.core.streams) == 1  # both restarted in the same step: one batched stream


def test_start_from_given_frames_and_from_a_dataset(checkpoint, tmp_path):
    env = WorldModelEnv(checkpoint=checkpoint)
    scene = gym.make(SCENE_ID, return_frames=True)
    first, info = scene.reset(seed=4)
    _, _, _, _, step_info = scene.step(np.array([0.5, 0.5], dtype=np.float32))
    frames = np.concatenate([first[None], step_info["frames"]])  # (1 + k, H, W, 3)
    actions = np.repeat(step_info["action"][None], K, axis=0)
    obs, wfm_info = env.reset(seed=0, options={"frames": frames, "actions": actions, "goal": info["goal"]})
    np.testing.assert_array_equal(wfm_info["goal"], info["goal"])
    assert env.observation_space.contains(obs)
    assert env.step(np.zeros(2, dtype=np.float32))[4]["frames"].shape == (K, 64, 64, 3)
    # Other options go to the scene's reset: here a goal of our choosing for a drawn start.
    _, wfm_info = env.reset(seed=0, options={"goal": [0.1, -0.1, 0.5]})
    np.testing.assert_array_equal(wfm_info["goal"], [0.1, -0.1, 0.5])

    from cosmos_sim.data.generate import GenerateConfig, generate
    from cosmos_sim.data.lerobot import EpisodeDataset
    from cosmos_sim.data.recording import GOAL_KEY

    data = tmp_path / "data"
    generate(
        GenerateConfig(output=str(data), num_episodes=1, max_steps=1, workers=1, policy="random"),
        progress=False,
    )
    env = WorldModelEnv(checkpoint=checkpoint, reset_source="dataset", dataset=data)
    _, info = env.reset(seed=0)
    np.testing.assert_array_equal(info["goal"], EpisodeDataset(data).load_episode(0, [GOAL_KEY])[GOAL_KEY][0])
    with pytest.raises(ValueError, match="reset_source='dataset'"):
        env.reset(options={"state": np.zeros(5)})


def test_bad_input_is_a_clear_error(checkpoint, tmp_path, save_tiny_world_model):
    env = WorldModelEnv(checkpoint=checkpoint)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step(np.array([np.nan, 0.0], dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        env.step(np.zeros(3, dtype=np.float32))
    envs = WorldModelVectorEnv(2, checkpoint=checkpoint)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        envs.step(np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="list of 2 seeds"):
        envs.reset(seed=[1, 2, 3])
    goal = np.zeros(3)
    bad_frames = {
        "float32": np.zeros((1, 64, 64, 3), dtype=np.float32),
        "32x32": np.zeros((1, 32, 32, 3), dtype=np.uint8),
        "3 frames": np.zeros((3, 64, 64, 3), dtype=np.uint8),
    }
    for frames in bad_frames.values():
        with pytest.raises(ValueError, match=r"uint8 numpy array of shape \(1 \+ 4\*n, 64, 64, 3\)"):
            env.reset(options={"frames": frames, "goal": goal})
    with pytest.raises(ValueError, match=r"shape \(N=2, 1 \+ 4\*n, 64, 64, 3\)"):
        envs.reset(options={"frames": np.zeros((1, 64, 64, 3), dtype=np.uint8), "goal": goal})
    frame = np.zeros((1, 64, 64, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="options\\['goal'\\]"):
        env.reset(options={"frames": frame})
    with pytest.raises(ValueError, match="4 actions"):
        env.reset(options={"frames": np.zeros((5, 64, 64, 3), dtype=np.uint8), "goal": goal})
    with pytest.raises(ValueError, match="unknown options"):
        env.reset(options={"sate": np.zeros(5)})  # a typo reaches the scene's reset, which names it
    with pytest.raises(ValueError, match=r"options\['goal'\] must be numbers, got 'abc'"):
        env.reset(options={"frames": frame, "goal": "abc"})
    with pytest.raises(ValueError, match="options must be a dict or None, got list"):
        env.reset(options=[1])
    with pytest.raises(ValueError, match="WorldModelEnv.step: actions must be numbers, got 'left'"):
        env.step("left")
    # The step before the bad resets is not lost: the env continues.
    assert env.step(np.zeros(2, dtype=np.float32))[0].shape == (64, 64, 3)

    other = save_tiny_world_model(tmp_path / "orbit", "cosmos_sim/CameraOrbit-v0")
    with pytest.raises(ValueError, match="CameraOrbit-v0.*PushBlock-v0"):
        gym.make(WFM_ID, checkpoint=other)
    with pytest.raises(FileNotFoundError, match=r"checkpoint=.*cosmos-sim train wfm \+experiment=pushblock"):
        WorldModelEnv(checkpoint=tmp_path / "missing")
    with pytest.raises(ValueError, match="reset_source"):
        WorldModelEnv(checkpoint=checkpoint, reset_source="video")
    with pytest.raises(ValueError, match="render_mode"):
        WorldModelEnv(checkpoint=checkpoint, render_mode="human")
    with pytest.raises(FileNotFoundError, match="is a file: pass the folder that holds"):
        WorldModelEnv(checkpoint=Path(checkpoint) / "config.json")
    # Arguments of the wrong type are named at construction, not deep inside the first step.
    for kwargs, message in (
        ({"sampler": "heun"}, "sampler must be a SamplerConfig, a dict of its fields or None"),
        ({"sampler": {"stepz": 3}}, r"unknown sampler field\(s\) \['stepz'\]"),
        ({"terminate_on_success": "False"}, "terminate_on_success must be True or False"),
        ({"bf16": "no"}, "bf16 must be True or False, got 'no'"),
        ({"device": "gpu"}, "device must name a torch device"),
    ):
        with pytest.raises(ValueError, match=message):
            WorldModelEnv(checkpoint=checkpoint, **kwargs)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="asks for CUDA, but this machine has no CUDA device"):
            WorldModelEnv(checkpoint=checkpoint, device="cuda")
    # A sampler dict changes the documented default (2 Euler steps), not SamplerConfig()'s 8 Heun steps.
    guided = WorldModelEnv(checkpoint=checkpoint, sampler={"guidance": 2.0})
    assert guided.world.sampler == dataclasses.replace(CONTROL_SAMPLER, guidance=2.0)
    # A goal handed over with the frames is held to the scene's own rule for goals.
    with pytest.raises(ValueError, match=r"options\['goal'\] \[1.0, -1.0, 0.0\] lies outside the reachable"):
        env.reset(options={"frames": frame, "goal": [1.0, -1.0, 0.0]})
    # The rule is the nominal scene's, whatever block the env's last reset drew.
    env.reset(options={"scene": {"block_half_size": 0.08}})
    env.reset(options={"frames": frame, "goal": [0.24, 0.0, 0.0]})
    with pytest.raises(ValueError, match=r"options\['goal'\]\[1\] \[0.0, 5.0, 0.0\] lies outside"):
        envs.reset(options={"frames": np.zeros((2, 1, 64, 64, 3), np.uint8), "goal": [[0, 0, 0], [0, 5, 0]]})
    # A numpy integer seed is an int (the vector env passes Python ints on to Gymnasium).
    assert envs.reset(seed=np.int64(5))[0].shape == (2, 64, 64, 3)


def test_ppo_trains_in_the_world_model_env(checkpoint):
    ppo = pytest.importorskip("stable_baselines3").PPO
    env = gym.make(WFM_ID, checkpoint=checkpoint)
    model = ppo("CnnPolicy", env, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.learn(32)
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))
