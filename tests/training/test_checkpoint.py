"""Run checkpoints: rotation by step number, a named checkpoint that is gone, unreadable files."""

import pytest
import torch

from cosmos_sim.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint


def _save(out, step):
    return save_checkpoint(
        out,
        step=step,
        model_state={"w": torch.full((2,), float(step))},
        ema_state=None,
        optimizer_state={},
        trainer={"elapsed_s": 0.0},
        keep=2,
    )


def test_rotation_keeps_the_newest_steps_past_a_million(tmp_path):
    # As strings "step-1000000" < "step-999000": rotation by name would delete the newest checkpoint.
    for step in (998_000, 999_000, 1_000_000):
        _save(tmp_path, step)
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*"))
    assert kept == ["step-1000000", "step-999000"]
    assert latest_checkpoint(tmp_path).name == "step-1000000"
    assert load_checkpoint(latest_checkpoint(tmp_path))["step"] == 1_000_000


def test_a_deleted_latest_checkpoint_falls_back_to_the_one_before(tmp_path):
    assert latest_checkpoint(tmp_path) is None  # a new run
    _save(tmp_path, 5)
    newest = _save(tmp_path, 10)
    for file in newest.iterdir():
        file.unlink()
    newest.rmdir()
    with pytest.warns(
        UserWarning, match="names step-000010, which is missing or incomplete; resuming from step-000005"
    ):
        assert latest_checkpoint(tmp_path).name == "step-000005"
    (tmp_path / "checkpoints" / "step-000005" / "trainer.pt").unlink()
    with pytest.raises(
        ValueError,
        match=r"holds no other complete checkpoint; delete .*checkpoints \(and the run's model/, if it finished\) to start over",
    ):
        latest_checkpoint(tmp_path)


@pytest.mark.parametrize("damaged", ["trainer.pt", "model.safetensors"])
def test_an_unreadable_checkpoint_file_is_named(tmp_path, damaged):
    folder = _save(tmp_path, 3)
    (folder / damaged).write_bytes(b"")  # as a power cut can leave it
    with pytest.raises(ValueError, match=r"cannot read checkpoint .*step-000003 \("):
        load_checkpoint(folder)


def test_a_checkpoint_saved_with_an_ema_needs_it_to_resume(tmp_path):
    folder = save_checkpoint(
        tmp_path,
        step=4,
        model_state={"w": torch.zeros(2)},
        ema_state={"shadow": {"w": torch.ones(2)}, "decay": 0.9, "updates": 4},
        optimizer_state={},
        trainer={"elapsed_s": 0.0},
    )
    assert torch.equal(load_checkpoint(folder)["ema"]["shadow"]["w"], torch.ones(2))
    (folder / "ema.safetensors").unlink()
    # Named as a damaged checkpoint (delete it, resume from the one before), not as another model's.
    with pytest.raises(
        ValueError, match=r"cannot read checkpoint .*step-000004 \(FileNotFoundError.*delete that folder"
    ):
        load_checkpoint(folder)


def test_a_save_interrupted_earlier_leaves_no_partial_folder_behind(tmp_path):
    _save(tmp_path, 2)
    torn = tmp_path / "checkpoints" / "step-000003.tmp"  # a save killed half-way
    torn.mkdir()
    (torn / "model.safetensors").write_bytes(b"half")
    _save(tmp_path, 8)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step-*")) == ["step-000002", "step-000008"]
