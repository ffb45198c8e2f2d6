"""The `cosmos-sim` command: every verb's help shows pasteable examples; the demo runs."""

from __future__ import annotations

import json

import pytest

from cosmos_sim.cli import build_parser, main


@pytest.mark.parametrize("verb", ["generate", "bench", "demo"])
def test_every_verb_help_shows_examples(verb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([verb, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and f"cosmos-sim {verb}" in text


def test_bad_json_argument_is_rejected(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["generate", "--out", "x", "--env-kwargs", "{width: 3"])
    assert "not valid JSON" in capsys.readouterr().err


def test_demo_writes_dataset_video_and_summary(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--episodes", "2"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["episodes"] == 2 and len(summary["episodes_table"]) == 2
    assert (tmp_path / "episode_000.mp4").stat().st_size > 1000
    assert (tmp_path / "pushblock_expert" / "meta" / "info.json").exists()
    assert "| episode |" in (tmp_path / "summary.md").read_text()
    assert "Expert success rate" in capsys.readouterr().out
