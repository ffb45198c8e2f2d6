"""`cosmos-sim generate`: recorded content, determinism, resume after a kill, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from cosmos_sim.cli import main as cli_main
from cosmos_sim.data.generate import GenerateConfig, generate
from cosmos_sim.data.lerobot import EpisodeDataset
from cosmos_sim.data.recording import ACTION_KEY, GOAL_KEY, STATE_KEY, VIDEO_KEY

STEPS = 6  # short episodes keep these tests fast


def _config(root: Path, **overrides) -> GenerateConfig:
    kwargs = {"output": str(root), "num_episodes": 3, "policy": "mix", "workers": 2, "max_steps": STEPS}
    kwargs.update(overrides)
    return GenerateConfig(**kwargs)


def _episodes(root: Path) -> list[dict[str, np.ndarray]]:
    dataset = EpisodeDataset(root)
    return [
        dataset.load_episode(i, keys=[STATE_KEY, ACTION_KEY, GOAL_KEY]) for i in range(dataset.num_episodes)
    ]


def test_recorded_rows_match_the_simulator(tmp_path):
    summary = generate(_config(tmp_path / "ds", policy="expert"), progress=False)
    assert summary["recorded_now"] == 3
    dataset = EpisodeDataset(tmp_path / "ds")
    assert dataset.num_episodes == 3 and dataset.fps == pytest.approx(20.0)
    k = 4
    episode = dataset.load_episode(1)
    assert episode[VIDEO_KEY].shape == (1 + STEPS * k, 64, 64, 3)
    assert dataset.episode_meta(1)["seed"] == 1 and dataset.episode_meta(1)["policy"] == "expert"
    # Actions are held over each control interval; the row after the last frame has none.
    actions = episode[ACTION_KEY]
    for step in range(STEPS):
        np.testing.assert_array_equal(
            actions[step * k : (step + 1) * k], np.repeat(actions[step * k][None], k, 0)
        )
    np.testing.assert_array_equal(actions[-1], 0.0)
    # Replaying the recorded actions from the recorded seed reproduces the recorded states.
    env = gym.make("cosmos_sim/PushBlock-v0", return_frames=True)
    _, info = env.reset(seed=1)
    states = [info["frame_states"]]
    for step in range(STEPS):
        _, _, _, _, info = env.step(actions[step * k])
        states.append(info["frame_states"])
    np.testing.assert_array_equal(episode[STATE_KEY], np.concatenate(states).astype(np.float32))


def test_generation_does_not_depend_on_worker_count(tmp_path):
    generate(_config(tmp_path / "one", workers=1), progress=False)
    generate(_config(tmp_path / "two", workers=2), progress=False)
    for a, b in zip(_episodes(tmp_path / "one"), _episodes(tmp_path / "two"), strict=True):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_rerun_after_kill_completes_without_loss_or_duplicates(tmp_path):
    root = tmp_path / "killed"
    command = [
        sys.executable, "-m", "cosmos_sim.cli", "generate", "--out", str(root), "--episodes", "6",
        "--policy", "mix", "--workers", "1", "--max-steps", str(STEPS),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    staging = root / ".staging"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if staging.exists() and len([p for p in staging.iterdir() if p.name.startswith("episode-")]) >= 2:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the whole group: the main process and its worker
    process.wait()
    assert not (root / "meta" / "info.json").exists(), "the run was meant to be killed before it finished"

    summary = generate(_config(root, num_episodes=6, workers=1), progress=False)
    assert 0 < summary["recorded_now"] < 6
    generate(_config(tmp_path / "clean", num_episodes=6, workers=2), progress=False)
    resumed, clean = _episodes(root), _episodes(tmp_path / "clean")
    assert len(resumed) == len(clean) == 6
    for a, b in zip(resumed, clean, strict=True):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    # A complete dataset is left alone.
    assert generate(_config(root, num_episodes=6), progress=False)["recorded_now"] == 0
    # ... unless it cannot be read: it is not reported complete.
    video = next((root / "videos").rglob("*.mp4"))
    video.write_bytes(video.read_bytes()[: len(video.read_bytes()) // 2])
    with pytest.raises(ValueError, match=r"holds its 6 episodes but cannot be read .* move it aside"):
        generate(_config(root, num_episodes=6), progress=False)


def test_ctrl_c_stops_the_run_at_once_and_keeps_what_it_recorded(tmp_path):
    root = tmp_path / "interrupted"
    # SIGINT as a terminal's Ctrl-C delivers it: to the whole process group (default handler restored,
    # since a background process may inherit it ignored).
    code = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        f"sys.argv = ['cosmos-sim', 'generate', '--out', {str(root)!r}, '--episodes', '400', "
        f"'--policy', 'random', '--workers', '2', '--max-steps', '{STEPS}']; "
        "from cosmos_sim.cli import main; sys.exit(main())"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    staging = root / ".staging"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if staging.exists() and len(list(staging.glob("episode-*"))) >= 4:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    # Killed by SIGINT, as a program should be (a shell script running it stops too), after one line.
    assert process.returncode == -signal.SIGINT
    assert "interrupted: generate interrupted; the episodes finished so far are kept" in stderr.decode()
    kept = len(list(staging.glob("episode-*")))
    assert 4 <= kept < 100, f"{kept} episodes: the queued ones were recorded after the interrupt"
    resumed = generate(_config(root, num_episodes=kept + 2, workers=1, policy="random"), progress=False)
    assert resumed["recorded_now"] <= 2


def test_unknown_env_id_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"unknown env id 'cosmos_sim/Nope-v0'.*PushBlock-v0"):
        generate(_config(tmp_path / "x", env_id="cosmos_sim/Nope-v0"), progress=False)
    code = cli_main(
        ["generate", "--env", "cosmos_sim/Nope-v0", "--out", str(tmp_path / "y"), "--episodes", "1"]
    )
    assert code == 2
    assert "unknown env id" in capsys.readouterr().err
    # A registered id that is not a MuJoCo scene (a world-model env) is named as such, before any work.
    with pytest.raises(ValueError, match="'cosmos_sim/WFM-PushBlock-v0' is not a cosmos-sim MuJoCo scene"):
        generate(_config(tmp_path / "z", env_id="cosmos_sim/WFM-PushBlock-v0"), progress=False)


def test_bad_config_values_are_rejected():
    with pytest.raises(ValueError, match="policy"):
        GenerateConfig(output="x", policy="smart")
    with pytest.raises(ValueError, match="num_episodes"):
        GenerateConfig(output="x", num_episodes=0)
    with pytest.raises(ValueError, match="expert_fraction"):
        GenerateConfig(output="x", policy="mix", expert_fraction=1.5)
    for noise in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="expert_noise must be a finite number >= 0"):
            GenerateConfig(output="x", expert_noise=noise)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        GenerateConfig(output="x", seed=-5)


def test_expert_policy_for_a_scene_without_one_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no scripted expert"):
        from cosmos_sim.envs.policies import make_policy

        make_policy("expert", "cosmos_sim/CameraOrbit-v0", gym.spaces.Box(-1, 1, (3,)))


def test_bad_env_kwargs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="bad env_kwargs.*widht"):
        generate(_config(tmp_path / "a", env_kwargs={"widht": 128}), progress=False)
    with pytest.raises(ValueError, match="return_frames"):
        generate(_config(tmp_path / "b", env_kwargs={"return_frames": False}), progress=False)
    # A task comes from JSON as a dict of PushBlockTask fields.
    env = gym.make("cosmos_sim/PushBlock-v0", task={"success_threshold": 0.1}).unwrapped
    assert env.task.success_threshold == 0.1
    with pytest.raises(ValueError, match="not PushBlockTask fields"):
        gym.make("cosmos_sim/PushBlock-v0", task={"threshold": 0.1})
    with pytest.raises(ValueError, match="success_threshold must be a finite number > 0"):
        gym.make("cosmos_sim/PushBlock-v0", task={"success_threshold": float("nan")})


def test_asking_for_fewer_episodes_than_a_dataset_holds_leaves_it_whole(tmp_path):
    generate(_config(tmp_path / "ds", num_episodes=3), progress=False)
    summary = generate(_config(tmp_path / "ds", num_episodes=2), progress=False)
    assert summary["recorded_now"] == 0 and summary["episodes"] == 3
    assert EpisodeDataset(tmp_path / "ds").num_episodes == 3


@pytest.mark.parametrize("env_id", ["cosmos_sim/Physics-Bounce-v0", "cosmos_sim/CameraOrbit-v0"])
def test_other_scenes_record_into_the_same_format(tmp_path, env_id):
    policy = "zero" if "Physics" in env_id else "random"
    generate(
        _config(tmp_path / "ds", env_id=env_id, policy=policy, num_episodes=1, max_steps=2), progress=False
    )
    dataset = EpisodeDataset(tmp_path / "ds")
    episode = dataset.load_episode(0)
    frames = 1 + 2 * 4
    assert episode[VIDEO_KEY].shape == (frames, 64, 64, 3)
    assert episode["observation.intrinsics"].shape == (frames, 3, 3)
    assert episode["observation.extrinsics"].shape == (frames, 4, 4)
    assert episode["observation.depth"].shape == (frames, 64, 64, 1)
    np.testing.assert_array_equal(episode["observation.extrinsics"][:, 3], np.tile([0, 0, 0, 1], (frames, 1)))
    assert dataset.episode_meta(0)["scene"]


def test_the_mpc_policy_records_the_pushes_a_planner_makes(tmp_path):
    """Oracle CEM plus noise: it pushes the block far (random actions rarely touch it) and, like
    every recording, depends on the seed alone."""
    config = dict(env_id="cosmos_sim/PushBlock-v0", num_episodes=1, policy="mpc", workers=1, max_steps=25)
    paths = [tmp_path / name for name in ("a", "b")]
    for path in paths:
        generate(GenerateConfig(output=str(path), **config), progress=False)
    first, second = (EpisodeDataset(p).load_episode(0, keys=[STATE_KEY, ACTION_KEY]) for p in paths)
    np.testing.assert_array_equal(first[ACTION_KEY], second[ACTION_KEY])
    states = first[STATE_KEY]
    assert np.linalg.norm(states[-1, 2:4] - states[0, 2:4]) > 0.03  # the block moved more than 3 cm
    assert np.abs(first[ACTION_KEY]).max() <= 1.0


def test_the_mpc_policy_needs_a_task(tmp_path):
    with pytest.raises(ValueError, match="policy 'mpc' needs an env with a task"):
        generate(
            GenerateConfig(
                output=str(tmp_path / "d"), env_id="cosmos_sim/Physics-FreeFall-v0", policy="mpc", workers=1
            ),
            progress=False,
        )
