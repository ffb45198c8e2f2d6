"""Before a training run starts: its process group and device (``setup_distributed``) and its run
folder (``claim_run_folder``), each refusing a setting that would otherwise fail late or silently."""

from __future__ import annotations

import pytest
import torch

from cosmos_sim.training.distributed import setup_distributed
from cosmos_sim.training.run_folder import claim_run_folder


@pytest.fixture
def no_torchrun(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_one_process_runs_on_the_device_asked_for(no_torchrun):
    context = setup_distributed("cpu")
    assert (context.rank, context.world_size, context.device) == (0, 1, torch.device("cpu"))


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        # A RANK left in the shell: this process would skip every write of rank 0 and exit 0.
        ({"RANK": "1"}, r"RANK=1 but WORLD_SIZE=1: start several processes with torchrun, or unset RANK"),
        ({"WORLD_SIZE": "abc"}, r"environment variable WORLD_SIZE='abc' is not an integer"),
        ({"LOCAL_RANK": "-1"}, r"environment variable LOCAL_RANK='-1' must be >= 0"),
    ],
)
def test_a_torchrun_environment_that_does_not_add_up_is_named(no_torchrun, environment, message):
    for name, value in environment.items():
        no_torchrun.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        setup_distributed("cpu")


@pytest.mark.parametrize("device", ["gpu", "CPU", "tpu:0"])
def test_a_device_that_is_not_one_is_named(no_torchrun, device):
    with pytest.raises(ValueError, match=r"device must be auto, cpu, cuda or cuda:N, got"):
        setup_distributed(device)


def test_a_cuda_device_this_machine_lacks_is_named(no_torchrun):
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    message = "no CUDA device is available" if not count else f"this machine has {count}"
    with pytest.raises(ValueError, match=message):
        setup_distributed(f"cuda:{count}")


def test_an_empty_out_is_refused_rather_than_training_into_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"train tokenizer: out is empty; name a run folder"):
        claim_run_folder("", "tokenizer", {"lr": 1.0})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("trainer", "state"), [("tokenizer", "train_state.pt"), ("wfm", "checkpoints")])
def test_a_finished_model_without_its_training_state_is_not_overwritten(tmp_path, trainer, state):
    out = tmp_path / "run"
    claim_run_folder(out, trainer, {"lr": 1.0})
    (out / "model").mkdir()
    (out / "model" / "model.safetensors").write_bytes(b"trained")
    with pytest.raises(
        ValueError, match=rf"holds a finished model .* but not the training state \({state}\)"
    ):
        claim_run_folder(out, trainer, {"lr": 0.01})
    assert (out / "model" / "model.safetensors").read_bytes() == b"trained"
    # With its state, it is a run to resume (or to refuse for other settings), as before.
    (out / state).mkdir() if state == "checkpoints" else (out / state).write_bytes(b"state")
    assert claim_run_folder(out, trainer, {"lr": 1.0}) == out
