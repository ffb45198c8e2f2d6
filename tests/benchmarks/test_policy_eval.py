"""`cosmos-sim bench policy-eval` on a tiny untrained world model: the report, both sides' wiring, bad input.

The tiny model's predictions are meaningless, so these tests pin the plumbing (same starts on both sides,
the policy fed the predicted state, one row per policy, an undefined correlation explained) and check
the MuJoCo side for real: the scripted expert must beat random actions there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import pytest
import torch

from cosmos_sim.benchmarks import policy_eval
from cosmos_sim.benchmarks.policy_eval import (
    POLICIES,
    WFM_ENV_ID,
    PolicySpec,
    mujoco_starts,
    rank_correlation,
    run_mujoco_episodes,
    run_policy_eval_benchmark,
    run_wfm_episodes,
    success_rho_interval,
)
from cosmos_sim.cli import main

SEEDS = [20_000, 20_001, 20_002]


@pytest.fixture(autouse=True)
def one_thread():
    """Keep to one core (the development machines' other core trains models)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _spec(name: str) -> PolicySpec:
    return next(spec for spec in POLICIES if spec.name == name)


def _reject_nan(text: str):
    raise AssertionError(f"{text} in policy_eval.json: not valid JSON")


def test_quick_run_writes_a_row_per_policy_and_explains_the_correlation(tiny_pushblock_world_model, tmp_path):
    out = tmp_path / "bench"
    assert (
        main(
            [
                "bench",
                "policy-eval",
                "--checkpoint",
                str(tiny_pushblock_world_model),
                "--out",
                str(out),
                "--quick",
            ]
        )
        == 0
    )
    results = json.loads((out / "policy_eval.json").read_text(), parse_constant=_reject_nan)
    assert results["episodes"] == 4 and results["steps"] == 10
    assert [p["name"] for p in results["policies"]] == [spec.name for spec in POLICIES]
    assert len(POLICIES) >= 5
    for row in results["policies"]:
        for side in ("mujoco", "wfm"):
            outcome = row[side]
            assert len(outcome["success"]) == len(outcome["final_distances_m"]) == 4
            assert outcome["success_rate"] == pytest.approx(np.mean(outcome["success"]))
            assert outcome["success_rate"] <= outcome["success_any_rate"] <= 1
            assert outcome["final_distance_m"] > 0 and outcome["seconds"] > 0
    for corr in results["spearman"].values():
        # Defined: a rank correlation; undefined (a side whose values are all equal): a reason, no NaN.
        if corr["rho"] is None:
            assert corr["note"].startswith("undefined: ")
        else:
            assert -1 <= corr["rho"] <= 1 and corr["note"] is None
    assert results["machine"]["threads"] == 1
    markdown = (out / "policy_eval.md").read_text()
    assert all(f"| {spec.name} |" in markdown for spec in POLICIES)
    assert "Spearman rank correlation" in markdown


def test_expert_beats_random_in_mujoco():
    # 4 seeds of 50 steps: the expert solves nearly every held-out start in ~15 steps; uniform random
    # actions solved none of 32 (the block starts 0.1-0.3 m from the goal and must end within 3 cm).
    env = gym.make("cosmos_sim/PushBlock-v0")
    seeds = [*SEEDS, 20_003]
    expert = run_mujoco_episodes(env, _spec("expert"), 0, seeds, steps=50)
    random = run_mujoco_episodes(env, _spec("random"), len(POLICIES) - 1, seeds, steps=50)
    env.close()
    assert sum(expert["success"]) >= 3
    assert sum(expert["success"]) > sum(random["success"])
    assert expert["final_distance_m"] < random["final_distance_m"]


@dataclass
class _RecordingPolicy:
    """Zero actions; keeps every ``info`` it is handed."""

    seen: list[dict] = field(default_factory=list)
    name: str = "recording"

    def reset(self, rng: np.random.Generator) -> None:
        pass

    def __call__(self, obs, info) -> np.ndarray:
        self.seen.append({key: np.array(value) for key, value in info.items()})
        return np.zeros(2, dtype=np.float32)


def test_wfm_episodes_start_from_the_mujoco_reset_and_see_the_predicted_state(tiny_pushblock_world_model):
    made: list[_RecordingPolicy] = []

    def make(space: gym.spaces.Box) -> _RecordingPolicy:
        made.append(_RecordingPolicy())
        return made[-1]

    spec = PolicySpec("recording", "records info", make)
    scene = gym.make("cosmos_sim/PushBlock-v0")
    truth = [scene.reset(seed=seed)[1] for seed in SEEDS]
    starts = mujoco_starts(scene, SEEDS)
    scene.close()
    # 3 episodes in 2 sub-envs: a full batch, then one padded with a copy of its last episode.
    envs = gym.make_vec(
        WFM_ENV_ID,
        num_envs=2,
        vectorization_mode="vector_entry_point",
        checkpoint=tiny_pushblock_world_model,
        max_episode_steps=3,
    )
    result = run_wfm_episodes(envs, spec, 0, SEEDS, starts, steps=3)
    envs.close()
    assert len(result["success"]) == 3
    assert len(made) == 4 and all(len(policy.seen) == 3 for policy in made)
    for policy, info in zip(made, [*truth, truth[-1]], strict=True):
        # Same goal as PushBlock-v0.reset(seed); the state is the model's prediction, not the true one.
        assert all(np.array_equal(seen["goal"], info["goal"]) for seen in policy.seen)
        assert policy.seen[0]["state"].shape == info["state"].shape
        assert not np.allclose(policy.seen[0]["state"], info["state"], atol=1e-3)


def test_rank_correlation_is_explained_where_undefined():
    assert rank_correlation([0.9, 0.5, 0.0], [0.6, 0.4, 0.1])["rho"] == pytest.approx(1.0)
    assert rank_correlation([0.9, 0.5, 0.0], [0.1, 0.4, 0.6])["rho"] == pytest.approx(-1.0)
    constant = rank_correlation([0.9, 0.5, 0.0], [0.25, 0.25, 0.25])
    assert constant["rho"] is None and "world model side" in constant["note"]
    assert "MuJoCo side" in rank_correlation([0.0, 0.0, 0.0], [0.2, 0.1, 0.0])["note"]


def test_rho_interval_is_tight_when_the_ranking_is_clear_and_wide_when_it_is_luck():
    rng = np.random.default_rng(0)
    rates = np.array([0.95, 0.75, 0.5, 0.25, 0.05])
    mujoco = (rng.random((128, 5)) < rates).astype(float)
    # A model with the same ranking: every resample keeps it, so the interval sits near 1.
    clear = success_rho_interval(mujoco, (rng.random((128, 5)) < rates).astype(float), resamples=500)
    assert clear["low"] > 0.6 and clear["high"] == pytest.approx(1.0)
    # A model whose rates are all the same (0.1): any rho it shows is the luck of the seeds.
    luck = success_rho_interval(mujoco, (rng.random((128, 5)) < 0.1).astype(float), resamples=500)
    assert luck["low"] < 0 < luck["high"] and luck["high"] - luck["low"] > 0.8
    assert luck["resamples"] == 500 and 0 <= luck["undefined"] < 50


def test_one_episode_is_reported_without_an_interval(tmp_path, save_tiny_world_model, monkeypatch):
    # A defined rho (2 steps solve nothing, so the real one would be undefined): the interval is still
    # skipped, because one episode gives the bootstrap nothing to resample.
    defined = {"rho": 0.5, "p_value": 0.3, "note": None}
    monkeypatch.setattr(policy_eval, "rank_correlation", lambda mujoco, wfm: dict(defined))
    checkpoint = save_tiny_world_model(tmp_path / "pushblock", "cosmos_sim/PushBlock-v0")
    results = run_policy_eval_benchmark(checkpoint, tmp_path / "bench", episodes=1, steps=2, progress=False)
    assert results["episodes"] == 1 and (tmp_path / "bench" / "policy_eval.json").is_file()
    assert results["spearman"]["success_rate"] == defined


def test_bad_input_is_a_clear_error(tmp_path, save_tiny_world_model, capsys):
    out = tmp_path / "bench"
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        run_policy_eval_benchmark(tmp_path / "no_such_model", out, progress=False)
    with pytest.raises(ValueError, match="episodes must be a positive integer, got 0"):
        run_policy_eval_benchmark(None, out, episodes=0, progress=False)
    assert main(["bench", "policy-eval", "--checkpoint", "a", "--checkpoint", "b", "--out", str(out)]) == 2
    assert "bench policy-eval takes one --checkpoint" in capsys.readouterr().err
    other_task = save_tiny_world_model(tmp_path / "orbit", "cosmos_sim/CameraOrbit-v0")
    with pytest.raises(ValueError, match="CameraOrbit-v0.*PushBlock"):
        run_policy_eval_benchmark(other_task, out, progress=False)
    assert not out.exists()  # nothing is written before the inputs are checked
