"""`cosmos-sim bench plan-ranking`: the scores on hand-made costs, a quick run of the tiny untrained
world model through the CLI (the report and its wiring; its rankings are meaningless), and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cosmos_sim.benchmarks.plan_ranking import (
    candidate_plans,
    run_plan_ranking_benchmark,
    score_state,
    summarize,
)
from cosmos_sim.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _costs(cost: np.ndarray) -> dict[str, np.ndarray]:
    return {"cost": cost, "goal_term": cost * 2, "pusher_term": -cost, "goal_end": cost / 10}


def test_a_perfect_model_scores_one_and_a_reversed_one_below_zero():
    true = _costs(np.array([3.0, 1.0, 2.0, 5.0]))
    perfect = score_state(true, _costs(true["cost"] * 0.5), 0.5, 0.5)
    assert perfect["rho_cost"] == pytest.approx(1.0) and perfect["rho_pusher_term"] == pytest.approx(1.0)
    assert perfect["pick_gain"] == perfect["best_gain"] == pytest.approx(2.75 - 1.0)
    reversed_ = score_state(true, _costs(-true["cost"]), 0.5, 0.5)
    assert reversed_["rho_cost"] == pytest.approx(-1.0)
    assert reversed_["pick_gain"] == pytest.approx(2.75 - 5.0)  # it picks the worst candidate
    # The pick's progress: start distance minus its end distance, true and as the model foresaw it.
    assert reversed_["pick_progress_true_m"] == pytest.approx(0.5 - 0.5)
    assert reversed_["pick_progress_model_m"] == pytest.approx(0.5 + 0.5)

    summary = summarize([perfect, reversed_])
    assert summary["pick_quality"]["value"] == pytest.approx((1.75 - 2.25) / 3.5)
    assert summary["rho_cost"]["mean"] == pytest.approx(0.0) and summary["states"] == 2


def test_a_model_with_constant_costs_has_no_rho():
    true = _costs(np.array([3.0, 1.0, 2.0]))
    flat = score_state(true, _costs(np.zeros(3)), 0.5, 0.5)
    assert np.isnan(flat["rho_cost"])
    summary = summarize([flat, score_state(true, _costs(true["cost"]), 0.5, 0.5)])
    assert summary["rho_cost"]["states"] == 1 and summary["rho_cost"]["mean"] == pytest.approx(1.0)


def test_candidates_start_with_the_compass_pushes_and_are_seeded():
    plans = candidate_plans(3, 12, 4, seed=7)
    assert plans.shape == (3, 12, 4, 2) and plans.dtype == torch.float32
    assert torch.allclose(plans[:, 0], torch.tensor([1.0, 0.0]).expand(3, 4, 2))
    assert torch.allclose(plans[:, :8].norm(dim=-1), torch.ones(3, 8, 4))
    assert plans[:, 8:].abs().max() <= 1.0
    assert torch.equal(plans, candidate_plans(3, 12, 4, seed=7))
    assert not torch.equal(plans, candidate_plans(3, 12, 4, seed=8))


def test_quick_run_through_the_cli_writes_the_report(tiny_pushblock_world_model, tmp_path):
    out = tmp_path / "ranking"
    args = [
        "bench",
        "plan-ranking",
        "--checkpoint",
        str(tiny_pushblock_world_model),
        "--out",
        str(out),
        "--quick",
    ]
    assert main(args) == 0
    report = json.loads((out / "plan_ranking.json").read_text(), parse_constant=pytest.fail)
    assert set(report["variants"]) == {"common noise", "independent noise"}
    assert report["states"] == 4 and report["candidates"] == 16
    for variant in report["variants"].values():
        assert variant["states"] == 4
        for term in ("rho_cost", "rho_goal_term", "rho_pusher_term"):
            assert set(variant[term]) == {"mean", "interval", "states"}
    assert len(report["per_state"]["common noise"]) == 4
    assert "| common noise |" in (out / "plan_ranking.md").read_text()


def test_bad_input_is_refused(save_tiny_world_model, tiny_pushblock_world_model, tmp_path, capsys):
    orbit = save_tiny_world_model(tmp_path / "orbit", "cosmos_sim/CameraOrbit-v0")
    with pytest.raises(ValueError, match="needs a cosmos_sim/PushBlock-\\* world model"):
        run_plan_ranking_benchmark(orbit, tmp_path / "out", quick=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_plan_ranking_benchmark(tmp_path / "missing", tmp_path / "out", quick=True)
    for name, value in (("seeds", 0), ("candidates", 1), ("horizon", True)):
        with pytest.raises(ValueError, match=name):
            run_plan_ranking_benchmark(tiny_pushblock_world_model, tmp_path / "out", **{name: value})
    with pytest.raises(ValueError, match="leads must be non-negative"):
        run_plan_ranking_benchmark(tiny_pushblock_world_model, tmp_path / "out", leads=[-1])
    assert main(["bench", "plan-ranking", "--checkpoint", "a", "--checkpoint", "b"]) == 2
    assert "takes one --checkpoint" in capsys.readouterr().err
