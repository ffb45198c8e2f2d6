"""The ``cosmos-sim`` command: one verb per job.

Verbs import their module only when run, so ``cosmos-sim --help`` stays instant and optional
dependencies stay optional.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

GENERATE_EXAMPLES = """examples:
  cosmos-sim generate --out data/pushblock --episodes 200 --policy mix --workers 2
  cosmos-sim generate --env cosmos_sim/Physics-Bounce-v0 --out data/bounce --episodes 50 --policy zero
  cosmos-sim generate --out data/pb128 --episodes 20 --env-kwargs '{"width": 128, "height": 128}'
Re-running a killed command completes the dataset: no episode is lost or recorded twice."""

BENCH_EXAMPLES = """examples:
  cosmos-sim bench speed
  cosmos-sim bench speed --out outputs/bench/speed --quick"""

DEMO_EXAMPLES = """examples:
  cosmos-sim demo
  cosmos-sim demo --out outputs/demo --episodes 16"""


def _json_arg(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {text!r} ({exc})") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def _run_generate(args: argparse.Namespace) -> int:
    from cosmos_sim.data.generate import GenerateConfig, generate, summary_json

    cfg = GenerateConfig(
        output=args.out,
        env_id=args.env,
        num_episodes=args.episodes,
        policy=args.policy,
        expert_fraction=args.expert_fraction,
        expert_noise=args.expert_noise,
        seed=args.seed,
        workers=args.workers,
        max_steps=args.max_steps,
        env_kwargs=args.env_kwargs,
        reset_options=args.reset_options,
    )
    print(summary_json(generate(cfg)))
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    if args.suite == "speed":
        from cosmos_sim.benchmarks.speed import run_speed_benchmark

        run_speed_benchmark(args.out, quick=args.quick)
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from cosmos_sim.demo import run_demo

    run_demo(args.out, num_episodes=args.episodes, workers=args.workers)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cosmos-sim",
        description="Robotics planning and simulation on video world foundation models.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    gen = verbs.add_parser(
        "generate",
        help="record episodes of a MuJoCo scene into a LeRobot v3 dataset",
        epilog=GENERATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gen.add_argument("--env", default="cosmos_sim/PushBlock-v0", help="registered scene id")
    gen.add_argument("--out", required=True, help="dataset folder")
    gen.add_argument("--episodes", type=int, default=100, help="episodes the dataset must hold")
    gen.add_argument("--policy", default="expert", choices=["random", "expert", "mix", "zero"])
    gen.add_argument("--expert-fraction", type=float, default=0.5, help="share of expert episodes in a mix")
    gen.add_argument("--expert-noise", type=float, default=0.0, help="std of noise on expert actions")
    gen.add_argument("--seed", type=int, default=0, help="episode i is reset with seed + i")
    gen.add_argument("--workers", type=int, default=2, help="recording processes")
    gen.add_argument("--max-steps", type=int, default=None, help="steps per episode (default: time limit)")
    gen.add_argument("--env-kwargs", type=_json_arg, default={}, help="JSON object for gym.make")
    gen.add_argument("--reset-options", type=_json_arg, default={}, help="JSON object for env.reset")
    gen.set_defaults(run=_run_generate)

    bench = verbs.add_parser(
        "bench",
        help="run a benchmark suite and write JSON + Markdown",
        epilog=BENCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("suite", choices=["speed"], help="which benchmark")
    bench.add_argument("--out", default="outputs/bench/speed", help="folder for results")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    bench.set_defaults(run=_run_bench)

    demo = verbs.add_parser(
        "demo",
        help="the README's main job: record PushBlock episodes, write a video and a summary table",
        epilog=DEMO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--out", default="outputs/demo", help="output folder")
    demo.add_argument("--episodes", type=int, default=8, help="episodes to record")
    demo.add_argument("--workers", type=int, default=2, help="recording processes")
    demo.set_defaults(run=_run_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        # Bad input from the user: one clear line, no traceback.
        print(f"cosmos-sim {args.verb}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
