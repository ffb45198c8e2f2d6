"""`cosmos-sim bench speed --quick` runs end to end and writes what the README quotes."""

from __future__ import annotations

import json

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
