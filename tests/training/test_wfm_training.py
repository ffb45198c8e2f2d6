"""`cosmos-sim train wfm`: a tiny recipe trains, exports a loadable world model, resumes after a kill,
and runs under torchrun with DDP and FSDP2 (2 gloo processes on CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from cosmos_sim.tokenizers import build_tokenizer, preset
from cosmos_sim.tokenizers.checkpoint import save_tokenizer
from cosmos_sim.training.checkpoint import latest_checkpoint
from cosmos_sim.training.tokenizer import summarize_metrics
from cosmos_sim.training.wfm import load_wfm_config, train_wfm
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model

REPO = Path(__file__).resolve().parents[2]


def _save_tiny_tokenizer(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    config = preset("CV4x8x8", channels=8, channels_mult=(1, 2), num_res_blocks=1, attn_resolutions=())
    return save_tokenizer(build_tokenizer(config), path)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return _save_tiny_tokenizer(tmp_path_factory.mktemp("tok") / "tiny", seed=0)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory, tokenizer):
    root = tmp_path_factory.mktemp("wfm_data")
    # Record the episodes and build the latent cache once, so the runs below only train.
    train_wfm(_config(root / "warmup", root, tokenizer, "max_steps=1"), progress=False)
    return root


def _overrides(out, data_root, tokenizer, *extra) -> list[str]:
    return ["+experiment=tiny", f"out={out}", f"data.root={data_root}", f"tokenizer.path={tokenizer}", *extra]


def _config(out, data_root, tokenizer, *extra):
    return load_wfm_config(_overrides(out, data_root, tokenizer, *extra))


def _steps(out) -> list[int]:
    return [m["step"] for m in summarize_metrics(out)]


def test_tiny_recipe_trains_exports_and_resumes(tmp_path, data_root, tokenizer):
    out = tmp_path / "run"
    final = train_wfm(_config(out, data_root, tokenizer, "max_steps=4"), progress=False)
    assert _steps(out) == [2, 4]
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    world = load_world_model(final, task="cosmos_sim/PushBlock-v0")
    meta = json.loads((final / "config.json").read_text())["metadata"]
    assert meta["steps"] == 4 and meta["weights"] == "EMA"
    frames = np.zeros((2, 1, 64, 64, 3), np.uint8)
    state = world.encode(frames)
    latents = world.rollout(state, torch.zeros(2, 3, 4, 2), torch.Generator().manual_seed(0))
    assert latents.shape == (2, 16, 3, 8, 8)
    assert world.decode(torch.cat([state.latents, latents], 2)).shape == (2, 13, 64, 64, 3)

    train_wfm(_config(out, data_root, tokenizer, "max_steps=6"), progress=False)
    assert _steps(out) == [2, 4, 6]
    assert latest_checkpoint(out).name == "step-000006"


def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path, data_root, tokenizer):
    out = tmp_path / "run"
    args = _overrides(out, data_root, tokenizer, "max_steps=100000", "save_every_minutes=0", "log_every=1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cosmos_sim.cli", "train", "wfm", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            checkpoint = latest_checkpoint(out) if (out / "checkpoints" / "latest").is_file() else None
            if checkpoint is not None and int(checkpoint.name.split("-")[1]) >= 5:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the run wrote no checkpoint in 120 s")
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-step, maybe mid-save
        proc.wait()
    resumed_from = int(latest_checkpoint(out).name.split("-")[1])
    lines_before = len(summarize_metrics(out))
    train_wfm(
        _config(out, data_root, tokenizer, f"max_steps={resumed_from + 2}", "log_every=1"), progress=False
    )
    new_steps = _steps(out)[lines_before:]
    assert new_steps == [resumed_from + 1, resumed_from + 2]


def _torchrun(out, data_root, tokenizer, *extra) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "-m",
            "cosmos_sim.cli",
            "train",
            "wfm",
            *_overrides(out, data_root, tokenizer, "threads=1", *extra),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_two_process_ddp_follows_the_one_process_loss_curve(tmp_path, data_root, tokenizer):
    # Same global batch (2 x 8 windows vs 1 x 16), different random windows: the curves agree within noise.
    common = ("max_steps=60", "log_every=10", "optimizer.lr=3e-3", "image_batch=0")
    _torchrun(tmp_path / "ddp", data_root, tokenizer, "batch=8", *common)
    train_wfm(_config(tmp_path / "one", data_root, tokenizer, "batch=16", *common), progress=False)
    curves = [
        np.array([m["video/diffusion_loss"] for m in summarize_metrics(tmp_path / run)])
        for run in ("ddp", "one")
    ]
    assert len(curves[0]) == len(curves[1]) == 6
    for curve in curves:
        assert curve[-2:].mean() < 0.8 * curve[0]  # both learn
    assert abs(curves[0][-3:].mean() - curves[1][-3:].mean()) < 0.15 * curves[1][-3:].mean()


def test_fsdp2_two_processes_train_export_and_resume_in_one(tmp_path, data_root, tokenizer):
    out = tmp_path / "fsdp"
    _torchrun(out, data_root, tokenizer, "parallel=fsdp2", "max_steps=4")
    world = load_world_model(out / "model")
    assert world.model.config.dim == 32
    # Checkpoints hold full state dicts: one process resumes the sharded run.
    train_wfm(_config(out, data_root, tokenizer, "max_steps=6"), progress=False)
    assert _steps(out) == [2, 4, 6]


def test_a_model_is_refused_with_another_tokenizer_or_task(tmp_path, data_root, tokenizer):
    final = train_wfm(_config(tmp_path / "run", data_root, tokenizer, "max_steps=1"), progress=False)
    other = _save_tiny_tokenizer(tmp_path / "other_tok", seed=1)
    with pytest.raises(ValueError, match="records tokenizer .* which is neither the latent fingerprint of"):
        load_world_model(final, tokenizer_dir=other)
    with pytest.raises(ValueError, match="imitates cosmos_sim/PushBlock-v0, not cosmos_sim/CameraOrbit-v0"):
        load_world_model(final, task="cosmos_sim/CameraOrbit-v0")


def test_a_run_folder_resumes_only_its_own_recipe(tmp_path, data_root, tokenizer, monkeypatch):
    out = tmp_path / "run"
    train_wfm(_config(out, data_root, tokenizer, "max_steps=2"), progress=False)
    config = (out / "config.json").read_bytes()
    with pytest.raises(
        ValueError, match=r"holds a run with other settings.*optimizer\.lr: 0\.0003 -> 0\.002"
    ):
        train_wfm(_config(out, data_root, tokenizer, "max_steps=4", "optimizer.lr=0.002"), progress=False)
    assert (out / "config.json").read_bytes() == config and _steps(out) == [2]
    # The budget may change: this resumes.
    train_wfm(_config(out, data_root, tokenizer, "max_steps=4", "max_minutes=9"), progress=False)
    assert _steps(out) == [2, 4]
    # So may the working folder (paths are stored resolved), and a config.json written by an older
    # version, whose scenes lack a field added since, is the same recipe.
    stored = json.loads((out / "config.json").read_text())
    del stored["data"]["scenes"][0]["dataset"]
    (out / "config.json").write_text(json.dumps(stored))
    monkeypatch.chdir(data_root.parent)
    train_wfm(_config(out, Path(data_root.name), tokenizer, "max_steps=6"), progress=False)
    assert _steps(out) == [2, 4, 6]
    assert json.loads((out / "config.json").read_text())["data"]["root"] == str(data_root.resolve())
    # Neither a saved model (here the tokenizer it was trained on) nor the other trainer's run is a WFM run.
    with pytest.raises(ValueError, match=r"out .*tiny holds a saved model \(cosmos_sim\.tokenizer/1\)"):
        train_wfm(_config(tokenizer, data_root, tokenizer), progress=False)
    other = tmp_path / "tokenizer_run"
    other.mkdir()
    (other / "train_state.pt").write_bytes(b"state")
    with pytest.raises(ValueError, match=r"holds a `train tokenizer` run \(train_state\.pt\)"):
        train_wfm(_config(other, data_root, tokenizer), progress=False)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["foo=1"], "Could not override 'foo'"),
        (["+model.depht=3"], r"unknown fields \['depht'\]"),
        (["parallel=zero"], "parallel must be 'ddp' or 'fsdp2'"),
        (["stages=[{until: 0.5, window: 9}]"], "2 <= window <= model.window"),
        (["optimizer.lr=0"], r"OptimizerConfig.lr must be a finite number > 0, got 0"),
        (["optimizer.grad_clip=nan"], r"OptimizerConfig.grad_clip must be a finite number > 0, got nan"),
        (["optimizer.final_lr_fraction=5"], r"final_lr_fraction must be a finite number >= 0 and <= 1"),
        (["optimizer.weight_decay=-1"], r"OptimizerConfig.weight_decay must be a finite number >= 0"),
        (["max_minutes=nan"], r"WFMTrainConfig.max_minutes must be a finite number > 0, got nan"),
        (["sample_every_minutes=-1"], r"sample_every_minutes must be a finite number >= 0, got -1"),
        (
            ["data.scenes=[{env_id: cosmos_sim/PushBlock-v0, episodes: 2, weight: nan}]"],
            r"weight must be a finite number > 0, got nan",
        ),
        (["data.scenes=null"], r"WFMDataConfig.scenes must be list\[SceneData\], got None"),
        (["focus.fraction=0.5"], "needs the state dims to watch"),
        (["focus.fraction=1.0", "focus.dims=[2]", "focus.min_change=0.01"], "0 <= fraction < 1"),
        (["focus.fraction=0.5", "focus.dims=[2]"], "needs min_change > 0"),
        (["focus.dims=2"], "must be a list of state dimensions"),
        (["focus.dims=[1.5]"], r"integers >= 0"),
        (["batch=abc"], r"WFMTrainConfig.batch must be int, got 'abc'"),
        (["optimizer.lr=fast"], r"OptimizerConfig.lr must be float, got 'fast'"),
        (["optimizer.betas=[0.9]"], r"OptimizerConfig.betas must be two numbers in \[0, 1\), got \[0.9\]"),
        (["model.heads=0"], r"dim \(32\) / heads \(0\) must be an even head dimension"),
        (["focus=null"], r"WFMTrainConfig.focus must be a mapping of settings, got None"),
        (["stages=[{until: 0.5, window: two}]"], r"StageConfig.window must be int, got 'two'"),
        (["data.scenes.0.episodes=1e3"], r"SceneData.episodes must be int, got 1000.0"),
    ],
)
def test_bad_configs_are_clear_errors(tmp_path, tokenizer, extra, message):
    with pytest.raises(ValueError, match=message):
        _config(tmp_path / "run", tmp_path / "data", tokenizer, *extra)


def test_the_latent_cache_is_rebuilt_when_its_dataset_changes_or_it_is_damaged(tmp_path, tokenizer, caplog):
    import shutil

    from cosmos_sim.data.scenes import SceneData, ensure_scene_datasets
    from cosmos_sim.training.wfm import LatentEpisodes, WFMDataConfig

    cache = tmp_path / "latents.safetensors"

    def build(episodes, policy):
        scene = SceneData("cosmos_sim/PushBlock-v0", episodes=episodes, policy=policy)
        data = WFMDataConfig(root=str(tmp_path), scenes=[scene], tokenizer=str(tokenizer), workers=1)
        (path,) = ensure_scene_datasets(tmp_path, [scene], "train", workers=1, progress=False)
        return path, LatentEpisodes.build(path, tokenizer, data, cache)

    path, one = build(1, "random")
    _, two = build(2, "random")  # the dataset grew
    assert len(one.latents) == 1 and len(two.latents) == 2 and two.source != one.source
    assert LatentEpisodes.load(cache).source == two.source
    shutil.rmtree(path)  # recorded again with another policy: same size, other episodes
    _, expert = build(2, "expert")
    assert expert.source != two.source and not torch.equal(expert.actions[0], two.actions[0])
    cache.write_bytes(cache.read_bytes()[:100])  # truncated
    with pytest.raises(ValueError, match="latent cache .*latents.safetensors is unreadable"):
        LatentEpisodes.load(cache)
    _, rebuilt = build(2, "expert")
    assert "encoding the dataset again" in caplog.text and rebuilt.source == expert.source


def test_a_model_of_several_scenes_trains_on_all_of_them(tmp_path, tokenizer):
    """The physics recipe's shape: several envs sharing one action space, named by a family task."""
    scene = "{{env_id: cosmos_sim/Physics-{}-v0, episodes: 1, policy: zero, heldout_episodes: 1}}"
    scenes = f"data.scenes=[{scene.format('FreeFall')}, {scene.format('Pendulum')}]"
    overrides = _overrides(tmp_path / "run", tmp_path / "data", tokenizer, "max_steps=2")
    with pytest.raises(ValueError, match="name the model's task"):
        load_wfm_config([*overrides, scenes])
    config = load_wfm_config([*overrides, scenes, "data.task=cosmos_sim/Physics"])
    world = load_world_model(train_wfm(config, progress=False), task="cosmos_sim/Physics")
    # Free fall holds one object (7 numbers), the pendulum three: states are padded to the widest.
    assert world.config.state_dim == 21 and world.action_dim == 1


def test_combined_scenes_are_drawn_by_their_weights_and_padded():
    from cosmos_sim.training.wfm import LatentEpisodes

    def scene(episodes: int, state_dim: int, value: float) -> LatentEpisodes:
        latents = [torch.full((2, 3, 1, 1), value) for _ in range(episodes)]
        actions = [torch.zeros(2, 4, 1) for _ in range(episodes)]
        states = [torch.ones(3, state_dim) for _ in range(episodes)]
        return LatentEpisodes(latents, actions, states)

    data = LatentEpisodes.combine([scene(1, 7, 0.0), scene(9, 14, 1.0)], [3.0, 1.0])
    latents, _, states = data.sample(4000, 2, torch.Generator().manual_seed(0))
    # Scene 0 has 1 episode against 9 but weight 3 against 1: drawn 3/4 of the time, not 1/10.
    assert abs(float((latents[:, 0, 0, 0, 0] == 0).float().mean()) - 0.75) < 0.03
    assert states.shape[-1] == 14 and torch.all(states[latents[:, 0, 0, 0, 0] == 0][..., 7:] == 0)
    with pytest.raises(ValueError, match="one frame size and one action space"):
        LatentEpisodes.combine(
            [
                scene(1, 7, 0.0),
                LatentEpisodes([torch.zeros(2, 3, 2, 2)], [torch.zeros(2, 4, 1)], [torch.ones(3, 7)]),
            ],
            [1, 1],
        )


def test_focus_draws_its_share_from_the_windows_where_the_watched_state_moves():
    from cosmos_sim.training.wfm import LatentEpisodes, WindowFocus

    # Two episodes of 6 latent frames; state dim 1 moves only between frames 3 and 4 of episode 1.
    states = [torch.zeros(6, 2), torch.zeros(6, 2)]
    states[1][4:, 1] = 1.0
    states[0][:, 0] = torch.arange(6.0)  # dim 0 moves everywhere and is not watched
    latents = [torch.full((1, 6, 1, 1), float(e)) for e in range(2)]
    data = LatentEpisodes(latents, [torch.zeros(5, 4, 1)] * 2, states)
    focus = WindowFocus(dims=[1], min_change=0.5, fraction=0.5)
    # Windows of 3 frames holding the step 3 -> 4: starts 2 and 3 of episode 1.
    assert data.focused_windows(3, focus).tolist() == [[1, 2], [1, 3]]
    z, _, s = data.sample(1000, 3, torch.Generator().manual_seed(0), focus)
    moved = (s[:, 1:, 1] - s[:, :-1, 1]).abs().amax(1) >= 0.5
    # Half the batch is focused, and a quarter of the uniform rest (2 of 8 windows) moves too.
    assert abs(float(moved.float().mean()) - (0.5 + 0.5 * 2 / 8)) < 0.05
    with pytest.raises(ValueError, match="the task state has 2 dimensions"):
        data.focused_windows(3, WindowFocus(dims=[5], min_change=0.5, fraction=0.5))
    with pytest.raises(ValueError, match="lower focus.min_change"):
        data.focused_windows(3, WindowFocus(dims=[1], min_change=2.0, fraction=0.5))
    # Without focus the draws are those of plain sampling.
    plain = data.sample(50, 3, torch.Generator().manual_seed(1))
    off = data.sample(50, 3, torch.Generator().manual_seed(1), WindowFocus())
    assert all(torch.equal(a, b) for a, b in zip(plain, off, strict=True))


def test_a_recipe_with_focus_and_state_consistency_trains(tmp_path, data_root, tokenizer):
    focus = "focus={dims: [0, 1], min_change: 0.001, fraction: 0.5}"  # the pusher: it moves
    config = _config(
        tmp_path / "run", data_root, tokenizer, "max_steps=2", focus, "+model.state_consistency=1.0"
    )
    world = load_world_model(train_wfm(config, progress=False))
    assert world.config.state_consistency == 1.0
    metrics = summarize_metrics(tmp_path / "run")[-1]
    assert metrics["video/state_consistency"] > 0
    # A focus that matches no window is refused before the first step.
    config = _config(
        tmp_path / "none",
        data_root,
        tokenizer,
        "max_steps=2",
        "focus={dims: [2, 3], min_change: 100.0, fraction: 0.5}",
    )
    with pytest.raises(ValueError, match="lower focus.min_change"):
        train_wfm(config, progress=False)
