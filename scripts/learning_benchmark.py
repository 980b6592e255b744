#!/usr/bin/env python
"""Learning benchmark of hetero_act against LeRobot's ACT, closed loop in the multi-camera ALOHA sim.

    python scripts/learning_benchmark.py record                      # scripted demos (resumable)
    python scripts/learning_benchmark.py train --model act --seed 1000   # lerobot-train (resumes)
    python scripts/learning_benchmark.py eval  --model act --seed 1000   # lerobot-eval every new checkpoint
    python scripts/learning_benchmark.py run   --model act hetero_cell_keys --seed 1000  # train+eval each
    python scripts/learning_benchmark.py watch --model act hetero_cell_keys    # eval checkpoints as they land
    python scripts/learning_benchmark.py time  --model act hetero_cell_keys  # s/step side by side (quiet machine)
    python scripts/learning_benchmark.py heldout --model act hetero_cell_keys  # held-out L1 of final checkpoints
    python scripts/learning_benchmark.py report                      # figures + docs/benchmarks.md section

Two trainings side by side on 2 cores, one torch thread each, evaluated as they go:

    for m in act hetero_cell_keys; do
      python scripts/learning_benchmark.py train --model $m --threads 1 &
    done
    python scripts/learning_benchmark.py watch --model act hetero_cell_keys --threads 1

All take `--protocol configs/learning_benchmark_transfer_cube.json` (default). Big files go to
`outputs/learning_benchmark/<protocol name>/`, the small per-checkpoint results that the report is
made from to `docs/benchmark_results/<protocol name>/` (commit them as they arrive). `--threads 1`
gives the torch processes one thread each, for running two jobs side by side on a 2-core machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lerobot_hetero_act.benchmarks.learning import (
    DEFAULT_PROTOCOL,
    BenchmarkPaths,
    LearningProtocol,
    evaluate_heldout,
    evaluate_pending,
    measure_step_times,
    record,
    train,
    watch_and_evaluate,
)
from lerobot_hetero_act.benchmarks.learning_report import write_learning_report
from lerobot_hetero_act.offline_run import REPO


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "command", choices=["record", "train", "eval", "run", "watch", "time", "heldout", "report"]
    )
    parser.add_argument("--protocol", type=Path, default=DEFAULT_PROTOCOL)
    parser.add_argument("--model", nargs="+", default=[], help="model name(s) of the protocol")
    parser.add_argument(
        "--seed", type=int, nargs="+", default=None, help="training seed(s); default: the first"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process")
    parser.add_argument("--work-dir", type=Path, help="default outputs/learning_benchmark/<protocol name>")
    parser.add_argument("--results-dir", type=Path, help="default docs/benchmark_results/<protocol name>")
    parser.add_argument("--doc", type=Path, default=REPO / "docs/benchmarks.md")
    args = parser.parse_args()

    protocol = LearningProtocol.from_file(args.protocol)
    paths = BenchmarkPaths(
        work=args.work_dir or REPO / "outputs/learning_benchmark" / protocol.name,
        results=args.results_dir or REPO / "docs/benchmark_results" / protocol.name,
    )
    seeds = args.seed or protocol.train_seeds[:1]
    if args.command in ("train", "eval", "run", "watch", "time", "heldout") and not args.model:
        parser.error(f"--model is required; this protocol has {sorted(protocol.models)}")
    for model in args.model:
        protocol.model_args(model)  # unknown names fail before anything runs

    if args.command == "record":
        record(protocol, paths, threads=args.threads)
    elif args.command == "watch":
        watch_and_evaluate(protocol, paths, [(m, s) for m in args.model for s in seeds], threads=args.threads)
        return
    elif args.command == "time":
        print(measure_step_times(protocol, paths, args.model, threads=args.threads)["s_per_step"])
        return
    elif args.command == "heldout":
        record(protocol, paths, threads=args.threads, heldout=True)
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        for model in args.model:
            for seed in seeds:
                evaluate_heldout(protocol, paths, model, seed)
        return
    elif args.command == "report":
        print(write_learning_report(protocol, paths.results, args.doc))
    for model in args.model:
        for seed in seeds:
            if args.command in ("train", "run"):
                train(protocol, paths, model, seed, threads=args.threads)
            if args.command in ("eval", "run"):
                evaluate_pending(protocol, paths, model, seed, threads=args.threads)


if __name__ == "__main__":
    main()
