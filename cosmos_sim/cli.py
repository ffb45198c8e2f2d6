"""The ``cosmos-sim`` command: one verb per job.

Verbs import their module only when run, so ``cosmos-sim --help`` stays instant and optional
dependencies stay optional.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable

GENERATE_EXAMPLES = """examples:
  cosmos-sim generate --out data/pushblock --episodes 200 --policy mix --workers 2
  cosmos-sim generate --env cosmos_sim/Physics-Bounce-v0 --out data/bounce --episodes 50 --policy zero
  cosmos-sim generate --out data/pb128 --episodes 20 --env-kwargs '{"width": 128, "height": 128}'
  cosmos-sim generate --out data/pushblock_mpc --episodes 100 --policy mpc   # oracle CEM + noise
  cosmos-sim generate --env cosmos_sim/CameraOrbit-v0 --out data/orbit_dr --policy random --reset-options '{"domain_randomization": true}'
Re-running a killed command completes the dataset: no episode is lost or recorded twice."""

BENCH_EXAMPLES = """examples:
  cosmos-sim bench speed
  cosmos-sim bench speed --out outputs/bench/speed --quick
  cosmos-sim bench speed --compile     # the world model's DiT through torch.compile
  cosmos-sim bench tokenizer
  cosmos-sim bench tokenizer --checkpoint cosmos_sim/zoo/dv4x8x8 --out outputs/bench/dv4x8x8 --quick
  cosmos-sim bench rollout --checkpoint outputs/train/wfm_pushblock/model
  cosmos-sim bench policy-eval --checkpoint cosmos_sim/zoo/wfm_pushblock --quick
  cosmos-sim bench planning            # every planner + oracle + random on 50 held-out seeds
  cosmos-sim bench plan-ranking        # does the model order candidate plans as MuJoCo does?
  cosmos-sim bench physics --checkpoint outputs/train/wfm_physics/model   # vs MuJoCo, floor, ceiling
  cosmos-sim bench physics --export cases/ ; cosmos-sim bench physics --predictions cases/
  cosmos-sim bench 3d --checkpoint outputs/train/wfm_camera_orbit/model   # vs MuJoCo and two floors
  cosmos-sim bench 3d --export orbit_cases/ ; cosmos-sim bench 3d --predictions orbit_cases/"""

TRAIN_EXAMPLES = """examples:
  cosmos-sim train tokenizer --config-name cv4x8x8
  cosmos-sim train tokenizer --config-name dv4x8x8 max_minutes=30 threads=1
  cosmos-sim train tokenizer --config-name tiny out=/tmp/tok data.root=/tmp/tok_data
  cosmos-sim train wfm +experiment=pushblock
  cosmos-sim train wfm +experiment=physics                  # the 7 passive scenarios, one model
  cosmos-sim train wfm +experiment=camera_orbit threads=1   # camera-conditioned CameraOrbit
  cosmos-sim train wfm +experiment=tiny out=/tmp/wfm data.root=/tmp/wfm_data
  torchrun --nproc_per_node 2 -m cosmos_sim.cli train wfm +experiment=pushblock parallel=fsdp2
Configs: cosmos_sim/configs/{tokenizer,wfm}/; key=value overrides follow Hydra's syntax.
Re-running a killed command resumes from the run folder's last checkpoint."""

PLAN_EXAMPLES = """examples:
  cosmos-sim plan
  cosmos-sim plan --planner icem --seeds 8 --population 64 --out outputs/plan_icem
  cosmos-sim plan --planner cem icem mppi gradient --seeds 50 --with-oracle --with-random
  cosmos-sim plan --samples 4 --spread-weight 0.5      # uncertainty-aware cost
Plans in the world model (latent rollouts, task cost on predict_state) and acts in MuJoCo; the
oracle plans in MuJoCo itself with the same budget. `cosmos-sim bench planning` runs every method
on 50 held-out seeds."""

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


# Benchmarks that score any video model on simulated cases (module, export function, run function).
CASE_SUITES = {
    "physics": (
        "cosmos_sim.benchmarks.physics_alignment",
        "export_physics_cases",
        "run_physics_alignment_benchmark",
    ),
    "3d": (
        "cosmos_sim.benchmarks.consistency_3d",
        "export_consistency_3d_cases",
        "run_consistency_3d_benchmark",
    ),
}

MUJOCO_SUITES = {
    "planning": ("cosmos_sim.benchmarks.planning", "run_planning_benchmark"),
    "policy-eval": ("cosmos_sim.benchmarks.policy_eval", "run_policy_eval_benchmark"),
    "plan-ranking": ("cosmos_sim.benchmarks.plan_ranking", "run_plan_ranking_benchmark"),
}
"""Suites that score one PushBlock world model in closed loop with MuJoCo: module, entry point."""


def _run_bench(args: argparse.Namespace) -> int:
    out = args.out or f"outputs/bench/{args.suite}"
    if args.suite == "speed" and (args.data_root or len(args.checkpoint or []) > 1):
        raise ValueError(
            "`bench speed` takes at most one --checkpoint (a PushBlock world model for its WFM env rows) "
            "and no --data-root"
        )
    if args.compile and args.suite != "speed":
        raise ValueError(f"--compile is a `bench speed` option, not one of `bench {args.suite}`")
    if (args.export or args.predictions) and args.suite not in CASE_SUITES:
        raise ValueError(
            f"--export and --predictions are options of `bench {'` and `bench '.join(CASE_SUITES)}`, "
            f"not of `bench {args.suite}`"
        )
    if args.export and args.out:
        raise ValueError(f"bench {args.suite} --export writes into its own folder; --out has no effect there")
    if args.suite == "speed":
        from cosmos_sim.benchmarks.speed import run_speed_benchmark

        checkpoint = args.checkpoint[0] if args.checkpoint else None
        run_speed_benchmark(out, quick=args.quick, checkpoint=checkpoint, compile=args.compile)
    elif args.suite == "tokenizer":
        from cosmos_sim.benchmarks.tokenizer import run_tokenizer_benchmark

        data_root = args.data_root or "outputs/data/tokenizer"
        run_tokenizer_benchmark(args.checkpoint, out, data_root=data_root, quick=args.quick)
    elif args.suite == "rollout":
        from cosmos_sim.benchmarks.rollout import run_rollout_benchmark

        if args.checkpoint and len(args.checkpoint) > 1:
            raise ValueError("bench rollout takes one --checkpoint")
        checkpoint = args.checkpoint[0] if args.checkpoint else None
        run_rollout_benchmark(
            checkpoint, out, data_root=args.data_root or "outputs/data/wfm", quick=args.quick
        )
    elif args.suite in MUJOCO_SUITES:
        # Closed-loop suites: one PushBlock world model, MuJoCo reset with held-out seeds.
        import importlib

        module_name, run_name = MUJOCO_SUITES[args.suite]
        if args.checkpoint and len(args.checkpoint) > 1:
            raise ValueError(f"bench {args.suite} takes one --checkpoint")
        if args.data_root:
            raise ValueError(f"bench {args.suite} resets MuJoCo with held-out seeds; it takes no --data-root")
        run = getattr(importlib.import_module(module_name), run_name)
        run(args.checkpoint[0] if args.checkpoint else None, out, quick=args.quick)
    elif args.suite in CASE_SUITES:
        import importlib

        module_name, export_name, run_name = CASE_SUITES[args.suite]
        module = importlib.import_module(module_name)
        if args.data_root:
            raise ValueError(
                f"bench {args.suite} simulates held-out seeds in MuJoCo; it takes no --data-root"
            )
        if args.export and (args.checkpoint or args.predictions):
            raise ValueError(
                f"bench {args.suite} --export writes the conditioning only; score with a separate run"
            )
        if args.export:
            getattr(module, export_name)(args.export, quick=args.quick)
        else:
            getattr(module, run_name)(
                out, checkpoints=args.checkpoint, predictions=args.predictions or (), quick=args.quick
            )
    return 0


def _run_plan(args: argparse.Namespace) -> int:
    from cosmos_sim.benchmarks.planning import PlanningBudget, run_planning_benchmark

    methods = [f"wfm-{name}" for name in args.planner]
    methods += ["oracle-cem"] * args.with_oracle + ["random"] * args.with_random
    budget = PlanningBudget(
        horizon=args.horizon,
        population=args.population,
        iterations=args.iterations,
        replan_every=args.replan_every,
        samples=args.samples,
        spread_weight=args.spread_weight,
        common_noise=args.common_noise,
        max_batch=args.max_batch,
    )
    run_planning_benchmark(
        args.checkpoint,
        args.out,
        methods=tuple(dict.fromkeys(methods)),
        seeds=args.seeds,
        budget=budget,
        steps=args.steps,
        video_episodes=args.video_episodes,
        guidance=args.guidance,
    )
    return 0


def _run_train(args: argparse.Namespace) -> int:
    if args.model == "wfm":
        from cosmos_sim.training.wfm import load_wfm_config, train_wfm

        print(train_wfm(load_wfm_config(args.overrides, args.config_name or "train")))
        return 0
    from cosmos_sim.training.tokenizer import load_train_config, train_tokenizer

    config = load_train_config(args.config_name or "cv4x8x8", args.overrides)
    print(train_tokenizer(config))
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
    gen.add_argument("--policy", default="expert", choices=["random", "expert", "mix", "zero", "mpc"])
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
    bench.add_argument(
        "suite",
        choices=["speed", "tokenizer", "rollout", "planning", "plan-ranking", "policy-eval", "physics", "3d"],
        help="which benchmark",
    )
    bench.add_argument("--out", default=None, help="folder for results (default: outputs/bench/SUITE)")
    bench.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    bench.add_argument(
        "--compile",
        action="store_true",
        help="speed: the world model's DiT through torch.compile (about a minute of compilation first)",
    )
    bench.add_argument(
        "--checkpoint",
        action="append",
        metavar="DIR",
        help="tokenizer: a saved tokenizer folder, repeatable (default: zoo cv4x8x8 and dv4x8x8); "
        "rollout, planning, plan-ranking, policy-eval, speed: one saved world model (default: zoo wfm_pushblock); "
        "physics: world models to score, repeatable (default: zoo wfm_physics if present); "
        "3d: camera world models to score, repeatable (default: zoo wfm_camera_orbit if present)",
    )
    bench.add_argument(
        "--data-root",
        default=None,
        help="held-out datasets (default: outputs/data/tokenizer for tokenizer, outputs/data/wfm for rollout)",
    )
    bench.add_argument(
        "--predictions",
        action="append",
        metavar="DIR",
        help="physics, 3d: a folder of predicted videos <DIR>/<scenario>/seed_<seed>.mp4 to score, repeatable",
    )
    bench.add_argument(
        "--export",
        default=None,
        metavar="DIR",
        help="physics, 3d: write the conditioning for external models",
    )
    bench.set_defaults(run=_run_bench)

    train = verbs.add_parser(
        "train",
        help="train a model from a shipped Hydra recipe (resumable)",
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("model", choices=["tokenizer", "wfm"], help="what to train")
    train.add_argument(
        "--config-name",
        default=None,
        help="recipe in cosmos_sim/configs/<model>/ (default: cv4x8x8 for tokenizer, train for wfm)",
    )
    train.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. max_minutes=10 model.channels=32")
    train.set_defaults(run=_run_train)

    plan = verbs.add_parser(
        "plan",
        help="the README's main job: MPC in the world model closing the loop on MuJoCo PushBlock",
        epilog=PLAN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("--checkpoint", default=None, help="world model folder (default: zoo wfm_pushblock)")
    plan.add_argument(
        "--planner",
        nargs="+",
        default=["cem"],
        choices=["cem", "icem", "mppi", "gradient"],
        help="optimizer(s) planning in the world model",
    )
    plan.add_argument("--with-oracle", action="store_true", help="also run oracle-CEM (planning in MuJoCo)")
    plan.add_argument("--with-random", action="store_true", help="also run random actions")
    plan.add_argument("--seeds", type=int, default=4, help="held-out episodes, all planned in one batch")
    plan.add_argument("--steps", type=int, default=None, help="control steps (default: the episode length)")
    plan.add_argument("--horizon", type=int, default=4, help="control steps planned ahead")
    plan.add_argument("--population", type=int, default=32, help="candidate plans per iteration")
    plan.add_argument("--iterations", type=int, default=2, help="optimizer iterations per replan")
    plan.add_argument("--replan-every", type=int, default=2, help="steps executed between replans")
    plan.add_argument("--samples", type=int, default=1, help="world-model rollouts per candidate")
    plan.add_argument("--spread-weight", type=float, default=0.0, help="penalty on the samples' cost spread")
    plan.add_argument(
        "--common-noise",
        action="store_true",
        help="roll a problem's candidates out with the same world-model noise (common random numbers)",
    )
    plan.add_argument(
        "--max-batch",
        type=int,
        default=512,
        help="memory budget: world-model rollouts per model call (at least seeds x samples)",
    )
    plan.add_argument("--video-episodes", type=int, default=2, help="episodes in the truth|imagined video")
    plan.add_argument(
        "--guidance",
        type=float,
        default=1.0,
        help="classifier-free guidance of the model's sampler (1: none)",
    )
    plan.add_argument("--out", default="outputs/plan", help="output folder")
    plan.set_defaults(run=_run_plan)

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
    parser = build_parser()
    # Hydra overrides (key=value) may follow options, which argparse does not give to a trailing
    # positional list: collect the leftovers for `train`, and reject them for every other verb.
    args, extra = parser.parse_known_args(argv)
    if extra and args.verb == "train" and not any(item.startswith("-") for item in extra):
        args.overrides = [*args.overrides, *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt as exc:
        # Ctrl-C: what the command kept (if it says) in one line, no traceback.
        print(f"cosmos-sim {args.verb}: interrupted{': ' + str(exc) if str(exc) else ''}", file=sys.stderr)
        if argv is None:
            # Run as the program: end by SIGINT itself, so a shell script running us stops too (bash
            # goes on to its next line when the command exits normally, even with code 130).
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        return 130
    except Exception as exc:
        # Bad input from the user (OSError: a path that is a file, a folder that cannot be written;
        # Gymnasium's own errors: a seed or env id it refuses): one clear line, no traceback.
        # (Gymnasium is imported by the command, not here, so the CLI starts fast.)
        gym = sys.modules.get("gymnasium")
        user_errors = (ValueError, OSError, RuntimeError) + ((gym.error.Error,) if gym else ())
        if not isinstance(exc, user_errors):
            raise
        print(f"cosmos-sim {args.verb}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
