"""`cosmos-sim bench speed --quick` runs end to end and writes what the README quotes."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from cosmos_sim.benchmarks.speed import _flop_counter, run_speed_benchmark
from cosmos_sim.cli import main


def test_speed_benchmark_writes_json_and_markdown(tmp_path):
    assert main(["bench", "speed", "--out", str(tmp_path), "--quick"]) == 0
    results = json.loads((tmp_path / "speed.json").read_text())
    rates = [
        *results["env"].values(),
        results["oracle_states_per_s"],
        *results["render_ms_per_frame"].values(),
        results["clip_read"]["clips_per_s_uncached"],
        results["clip_read"]["clips_per_s_dataloader_2_workers"],
    ]
    assert all(rate > 0 for rate in rates)
    assert (
        results["env"]["single_with_frames_frames_per_s"]
        == results["env"]["single_with_frames_steps_per_s"] * 4
    )
    assert results["machine"]["cores"] >= 1
    markdown = (tmp_path / "speed.md").read_text()
    assert "AsyncVectorEnv, N=16" in markdown and "Oracle rollout" in markdown

    # The world-model env beside the MuJoCo one, and what its vector step spends its time on.
    wfm = results["wfm_env"]
    for n in (1, 64):
        figures = wfm[f"n{n}"]
        assert figures["num_envs"] == n
        assert figures["steps_per_s"] > 0 and figures["reset_ms"] > 0
        assert figures["frames_per_s"] == pytest.approx(figures["steps_per_s"] * 4)
        split = figures["vector_step_split_ms"]
        assert (
            split["world_step"] > 0 and split["decode"] > 0 and split["rest"] >= 0
        )  # parts lie inside the step
        assert sum(split.values()) == pytest.approx(figures["vector_step_ms"], rel=0.2)
        flops = figures["gflop_per_vector_step"]
        assert 0 < flops["world_step"] < flops["env_step"]  # the decoder's convolutions come on top
        for part in ("world_step", "env_step"):
            assert 0 < figures["fraction_of_bf16_peak"][part] <= 1.5
    # FLOPs are counted on the whole batch: a vector step of 64 does exactly 64 single steps' worth.
    for part in ("world_step", "env_step"):
        assert wfm["n64"]["gflop_per_vector_step"][part] == pytest.approx(
            64 * wfm["n1"]["gflop_per_vector_step"][part], rel=1e-9
        )
    peak = results["matmul_peak_gflops"]
    for dtype in ("bfloat16", "float32"):
        assert peak[dtype]["best"] == max(peak[dtype]["by_size"].values()) > 0
    targets = results["targets"]
    assert targets["steps_per_s"]["value"] == wfm["n64"]["steps_per_s"]
    assert (
        targets["world_step_fraction_of_bf16_peak"]["value"]
        == wfm["n64"]["fraction_of_bf16_peak"]["world_step"]
    )
    assert "WFM-PushBlock WorldModelVectorEnv, N=64" in markdown
    assert ">= 200 env steps/s" in markdown and ">= 50% of matmul peak" in markdown


def test_attention_flops_are_counted_on_cpu():
    # FlopCounterMode alone counts 0 for CPU scaled_dot_product_attention (a kernel it has no formula for).
    b, heads, tokens, dim = 2, 4, 16, 8
    q = torch.randn(b, heads, tokens, dim)
    with _flop_counter() as counter:
        F.scaled_dot_product_attention(q, q, q)
    assert counter.get_total_flops() == 2 * 2 * b * heads * tokens * tokens * dim  # q @ k^T, then @ v


def test_missing_world_model_fails_before_measuring(tmp_path):
    out = tmp_path / "speed"
    with pytest.raises(FileNotFoundError, match="no_such_model"):
        run_speed_benchmark(out, quick=True, checkpoint=tmp_path / "no_such_model")
    assert not out.exists()


def test_a_world_model_of_another_task_fails_before_measuring(save_tiny_world_model, tmp_path):
    physics = save_tiny_world_model(tmp_path / "physics", "cosmos_sim/Physics")
    with pytest.raises(ValueError, match="speed: the world model at .* imitates cosmos_sim/Physics"):
        run_speed_benchmark(tmp_path / "speed", quick=True, checkpoint=physics)
    assert not (tmp_path / "speed").exists()
