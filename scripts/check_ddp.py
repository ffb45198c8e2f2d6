"""Two-process DDP against one process with the same global batch: the loss curves must agree within
noise (issue 4's target). Runs the `tiny` WFM experiment (or another) twice on CPU with gloo:

    python scripts/check_ddp.py --steps 200 --batch 16 --tokenizer cosmos_sim/zoo/cv4x8x8

Writes outputs/bench/ddp/ddp.{json,md} and prints the table: the diffusion loss every `--log-every`
steps (DDP: mean over the 2 ranks' halves of the batch), and the relative gap of the last quarter's
means. Each run draws its own random windows, so the curves differ by sampling noise only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from cosmos_sim.training.tokenizer import summarize_metrics


def _run(out: Path, processes: int, batch: int, args: argparse.Namespace) -> list[dict]:
    overrides = [
        f"+experiment={args.experiment}",
        f"out={out}",
        f"data.root={args.data_root}",
        f"tokenizer.path={args.tokenizer}",
        f"batch={batch}",
        f"max_steps={args.steps}",
        f"log_every={args.log_every}",
        f"optimizer.lr={args.lr}",
        "image_batch=0",
        "threads=1",
    ]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes)]
    command = [
        *(launcher if processes > 1 else [sys.executable]),
        "-m",
        "cosmos_sim.cli",
        "train",
        "wfm",
        *overrides,
    ]
    done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True)
    if done.returncode:  # the training run's own message says what was wrong
        raise SystemExit(
            f"check_ddp: the {processes}-process run failed (exit {done.returncode}):\n{done.stderr[-4000:]}"
        )
    return summarize_metrics(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--experiment", default="tiny")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16, help="global batch (each of the 2 ranks takes half)")
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--tokenizer", default="cosmos_sim/zoo/cv4x8x8")
    parser.add_argument("--data-root", default="outputs/data/wfm_tiny")
    parser.add_argument("--out", default="outputs/bench/ddp")
    args = parser.parse_args()
    if args.batch < 2 or args.batch % 2:
        parser.error(
            f"--batch is the global batch the 2 ranks split evenly: an even number >= 2, got {args.batch}"
        )
    if args.steps < 1 or args.log_every < 1:
        parser.error(f"--steps and --log-every must be >= 1, got {args.steps} and {args.log_every}")
    with tempfile.TemporaryDirectory() as tmp:
        two = _run(Path(tmp) / "ddp", 2, args.batch // 2, args)
        one = _run(Path(tmp) / "one", 1, args.batch, args)
    key = "video/diffusion_loss"
    curves = {"2 processes (DDP)": [m[key] for m in two], "1 process": [m[key] for m in one]}
    quarter = max(1, len(one) // 4)
    tails = {name: float(np.mean(curve[-quarter:])) for name, curve in curves.items()}
    gap = abs(tails["2 processes (DDP)"] - tails["1 process"]) / tails["1 process"]
    steps = [m["step"] for m in one]
    lines = [
        f"DDP check: `{args.experiment}` experiment, global batch {args.batch}, {args.steps} steps, lr {args.lr}.",
        "",
        "| step | " + " | ".join(map(str, steps)) + " |",
        "|---|" + "---|" * len(steps),
        *(f"| {name} | " + " | ".join(f"{v:.3f}" for v in curve) + " |" for name, curve in curves.items()),
        "",
        f"Mean of the last {quarter} points: DDP {tails['2 processes (DDP)']:.4f}, one process "
        f"{tails['1 process']:.4f}; relative gap {gap:.1%}.",
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ddp.json").write_text(
        json.dumps({"args": vars(args), "steps": steps, "curves": curves, "gap": gap}, indent=2) + "\n"
    )
    (out / "ddp.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
