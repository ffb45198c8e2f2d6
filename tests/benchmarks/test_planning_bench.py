"""The planning benchmark (benchmarks/planning.py) on a tiny untrained world model: every method runs
closed loop on MuJoCo, the report and its per-method cache are written, and bad settings are refused.
Planning quality is what `cosmos-sim bench planning` measures on the shipped model, not this file."""

from __future__ import annotations

import dataclasses
import json

import pytest

from cosmos_sim.benchmarks.planning import PlanningBudget, run_planning_benchmark

pytestmark = pytest.mark.usefixtures("one_torch_thread")


SMALL = PlanningBudget(horizon=2, population=8, iterations=1, replan_every=2, max_batch=16)


def test_every_method_runs_closed_loop_and_the_report_is_written(tiny_pushblock_world_model, tmp_path):
    methods = ("random", "wfm-cem", "wfm-mppi", "oracle-cem", "expert")
    report = run_planning_benchmark(
        tiny_pushblock_world_model,
        tmp_path,
        methods=methods,
        seeds=2,
        budget=SMALL,
        steps=4,
        video_episodes=1,
        progress=False,
    )
    assert list(report["methods"]) == list(methods)
    for name in methods:
        row = report["methods"][name]
        assert len(row["success"]) == len(row["final_distance_m"]) == 2
        assert 0 <= row["summary"]["success_rate"] <= 1
        assert row["planning_s_per_step"] >= 0
    assert report["methods"]["wfm-cem"]["latency_s_per_step"] > 0  # measured on one problem
    assert report["methods"]["random"]["latency_s_per_step"] is None
    # Ground-truth planning moves the block towards the goal in 4 steps more than random actions do
    # on the same seeds: the oracle objective and the env are wired to the same state.
    oracle, random = (
        report["methods"][m]["summary"]["final_distance_mean_m"] for m in ("oracle-cem", "random")
    )
    expert = report["methods"]["expert"]["summary"]["final_distance_mean_m"]
    assert expert < random
    for name in ("planning.json", "planning.md", "planning.png", "planning.mp4"):
        assert (tmp_path / name).is_file(), name
    assert "| wfm-cem |" in (tmp_path / "planning.md").read_text()
    assert oracle <= random + 0.02  # not worse than chance by more than 2 cm


def test_finished_methods_are_reused_and_other_settings_recompute(tiny_pushblock_world_model, tmp_path):
    run = dict(methods=("random",), seeds=1, budget=SMALL, steps=2, video_episodes=0, progress=False)
    first = run_planning_benchmark(tiny_pushblock_world_model, tmp_path, **run)
    cached = json.loads((tmp_path / "methods" / "random.json").read_text())
    again = run_planning_benchmark(tiny_pushblock_world_model, tmp_path, **run)
    assert again["methods"]["random"]["wall_s"] == first["methods"]["random"]["wall_s"] == cached["wall_s"]
    other = run_planning_benchmark(tiny_pushblock_world_model, tmp_path, **{**run, "steps": 3})
    assert other["steps"] == 3 and other["methods"]["random"]["settings"]["steps"] == 3
    # A result torn by a kill (or edited into nonsense) is not trusted: the method runs again, over it.
    (tmp_path / "methods" / "random.json").write_text('{"settings": {"steps"')
    with pytest.warns(UserWarning, match="random.json is not a readable result"):
        rerun = run_planning_benchmark(tiny_pushblock_world_model, tmp_path, **run)
    assert (
        json.loads((tmp_path / "methods" / "random.json").read_text())["wall_s"]
        == rerun["methods"]["random"]["wall_s"]
    )
    assert not list((tmp_path / "methods").glob(".*tmp*"))  # written through a temporary file, renamed


def test_the_video_is_always_the_reports(tiny_pushblock_world_model, tmp_path):
    """planning.mp4 belongs to the run whose report lies beside it: a cached world-model result is
    reused only with the video it made, and a run that makes no video removes an earlier one."""
    run = dict(methods=("wfm-cem",), seeds=1, budget=SMALL, progress=False)
    video, record = tmp_path / "planning.mp4", tmp_path / "methods" / "video.json"
    first = run_planning_benchmark(tiny_pushblock_world_model, tmp_path, steps=2, video_episodes=1, **run)
    assert video.is_file() and json.loads(record.read_text())["settings"]["steps"] == 2
    # Other settings, no video: the method runs again and the 2-step video is not left beside it.
    run_planning_benchmark(tiny_pushblock_world_model, tmp_path, steps=3, video_episodes=0, **run)
    assert not video.exists() and not record.exists()
    # The same settings as the first run, with the video: the cache alone cannot stand for a video
    # that is gone, so the method runs again and makes it.
    again = run_planning_benchmark(tiny_pushblock_world_model, tmp_path, steps=2, video_episodes=1, **run)
    assert video.is_file() and json.loads(record.read_text())["settings"]["steps"] == 2
    assert again["methods"]["wfm-cem"]["wall_s"] != first["methods"]["wfm-cem"]["wall_s"]
    # Now video and result agree: both are reused, and a run that asks for no video reuses the result
    # (the video of that same result may stay beside it).
    cached = run_planning_benchmark(tiny_pushblock_world_model, tmp_path, steps=2, video_episodes=1, **run)
    assert cached["methods"]["wfm-cem"]["wall_s"] == again["methods"]["wfm-cem"]["wall_s"]
    quiet = run_planning_benchmark(tiny_pushblock_world_model, tmp_path, steps=2, video_episodes=0, **run)
    assert quiet["methods"]["wfm-cem"]["wall_s"] == again["methods"]["wfm-cem"]["wall_s"] and video.is_file()
    # A report of other methods does not keep a video of one it does not hold.
    run_planning_benchmark(tiny_pushblock_world_model, tmp_path, **{**run, "methods": ("random",)}, steps=2)
    assert not video.exists()


def test_bad_settings_are_refused(tiny_pushblock_world_model, save_tiny_world_model, tmp_path):
    with pytest.raises(ValueError, match="unknown planning methods"):
        run_planning_benchmark(tiny_pushblock_world_model, tmp_path, methods=("wfm-foo",))
    with pytest.raises(ValueError, match="planning: seeds must be a positive integer, got 0"):
        run_planning_benchmark(tiny_pushblock_world_model, tmp_path, seeds=0)
    with pytest.raises(FileNotFoundError, match="world model checkpoint .*missing does not exist"):
        run_planning_benchmark(tmp_path / "missing", tmp_path)
    with pytest.raises(ValueError, match="planning: steps must be a positive integer, got -1"):
        run_planning_benchmark(tiny_pushblock_world_model, tmp_path, steps=-1)
    physics = save_tiny_world_model(tmp_path / "physics", "cosmos_sim/Physics")
    with pytest.raises(ValueError, match="imitates cosmos_sim/Physics; .* needs a cosmos_sim/PushBlock-"):
        run_planning_benchmark(physics, tmp_path)
    a_file = tmp_path / "report.txt"
    a_file.write_text("kept")
    with pytest.raises(ValueError, match="output path .*report.txt exists and is not a folder"):
        run_planning_benchmark(tiny_pushblock_world_model, a_file)
    assert a_file.read_text() == "kept"
    with pytest.raises(ValueError, match="replan_every"):
        PlanningBudget(horizon=2, replan_every=3)
    with pytest.raises(ValueError, match="population"):
        PlanningBudget(population=0)
    with pytest.raises(ValueError, match=r"population must be >= 2 \(CEM keeps 2 elites\), got 1"):
        PlanningBudget(population=1)
    with pytest.raises(ValueError, match=r"guidance must be a finite number >= 1 \(1: no classifier-free"):
        run_planning_benchmark(tiny_pushblock_world_model, tmp_path / "video", guidance=float("inf"))
    with pytest.raises(
        ValueError, match="PlanningBudget.spread_weight must be a finite number >= 0, got inf"
    ):
        PlanningBudget(samples=2, spread_weight=float("inf"))
    # The memory bound counts rollouts (candidates x samples) and must hold one candidate per problem;
    # both are checked before the model loads (the run would write its methods/ folder).
    few = dataclasses.replace(SMALL, samples=4, max_batch=12)
    with pytest.raises(
        ValueError, match=r"max_batch=12 .* 4 problems x 4 samples; raise it \(--max-batch\) to at least 16"
    ):
        run_planning_benchmark(tiny_pushblock_world_model, tmp_path / "few", seeds=4, budget=few)
    assert few.candidates_per_call(3) == 3
    with pytest.raises(ValueError, match=r"raise it \(--max-batch\) to at least 8"):
        run_planning_benchmark(
            tiny_pushblock_world_model,
            tmp_path / "few",
            quick=True,
            budget=dataclasses.replace(few, max_batch=7),
        )
    with pytest.raises(ValueError, match="video_episodes must be an integer >= 0, got -1"):
        run_planning_benchmark(tiny_pushblock_world_model, tmp_path / "video", video_episodes=-1)
    assert not (tmp_path / "few").exists() and not (tmp_path / "video").exists()
