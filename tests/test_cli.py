"""The `cosmos-sim` command: every verb's help shows pasteable examples; the demo runs."""

from __future__ import annotations

import json

import pytest

from cosmos_sim.cli import build_parser, main


@pytest.mark.parametrize("verb", ["generate", "bench", "train", "plan", "demo"])
def test_every_verb_help_shows_examples(verb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([verb, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and f"cosmos-sim {verb}" in text


def test_plan_runs_the_loop_with_the_given_budget(tiny_pushblock_world_model, tmp_path, capsys):
    argv = ["plan", "--checkpoint", str(tiny_pushblock_world_model), "--out", str(tmp_path), "--seeds", "1"]
    argv += ["--steps", "2", "--horizon", "2", "--population", "4", "--iterations", "1", "--with-random"]
    assert main(argv) == 0
    report = json.loads((tmp_path / "planning.json").read_text())
    assert list(report["methods"]) == ["wfm-cem", "random"]
    assert report["budget"]["horizon"] == 2 and report["budget"]["population"] == 4
    assert "| wfm-cem |" in capsys.readouterr().out
    assert main(["plan", "--out", str(tmp_path), "--horizon", "2", "--replan-every", "3"]) == 2
    assert "replan_every" in capsys.readouterr().err


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


def test_a_file_where_a_folder_belongs_is_one_line_not_a_traceback(tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("kept")
    # The generator refuses before recording; the demo's mkdir error is reported, not raised.
    assert main(["generate", "--out", str(a_file / "data"), "--episodes", "1"]) == 2
    assert f"{a_file} exists and is not a folder" in capsys.readouterr().err
    assert main(["demo", "--out", str(a_file), "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cosmos-sim demo: error:") and "Traceback" not in err
    assert main(["bench", "physics", "--compile"]) == 2
    assert "--compile is a `bench speed` option" in capsys.readouterr().err
    assert a_file.read_text() == "kept"
