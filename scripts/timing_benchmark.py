#!/usr/bin/env python
"""Timing benchmark of hetero_act's token modes against LeRobot's ACT (cost, not learning).

    .venv/bin/python scripts/timing_benchmark.py                # full run, ~20-30 min on 2 CPU cores
    .venv/bin/python scripts/timing_benchmark.py --render-only  # re-render the doc from the JSON
    .venv/bin/python scripts/timing_benchmark.py --models act hetero_cell_keys hetero_cell_keys_compiled --no-onnx
    .venv/bin/python scripts/timing_benchmark.py --quick --json /tmp/t.json --doc /tmp/t.md  # smoke test

Writes the results to `--json` and the section between the timing markers of `--doc`. What is
measured: see `lerobot_hetero_act/benchmarks/timing.py`. Learning quality is measured by
`scripts/learning_benchmark.py`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
from pathlib import Path

from lerobot_hetero_act.benchmarks.timing import (
    DEFAULT_MODELS,
    MODELS,
    QUICK_DIMS,
    QUICK_ROLE_GRIDS,
    QUICK_ROLE_IMAGE_SIZES,
    TimingPlan,
    run_timing,
)
from lerobot_hetero_act.benchmarks.timing_report import render_section, write_section
from lerobot_hetero_act.offline_run import REPO
from lerobot_hetero_act.sim.cameras import parse_image_size


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, default=REPO / "docs/benchmark_results/timing.json")
    p.add_argument("--doc", type=Path, default=REPO / "docs/benchmarks.md")
    p.add_argument("--quick", action="store_true", help="tiny images, dims and grids, 2 repeats, 1 thread")
    p.add_argument("--render-only", action="store_true", help="only re-render --doc from --json")
    models_help = "default: all but hetero_cell_keys_compiled (torch.compile: slow, opt-in)"
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS, choices=list(MODELS), help=models_help)
    p.add_argument("--resolutions", nargs="+", default=["240x320", "480x640"], help="HxW per camera")
    p.add_argument("--role-grids", type=json.loads, default=None, help="JSON role -> [rows, cols]")
    p.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime row")
    p.add_argument("--infer-repeats", type=int, default=20)
    p.add_argument("--train-repeats", type=int, default=5)
    p.add_argument("--train-batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--notes-file", type=Path, help="markdown shown under the targets (kept in the JSON)")
    args = p.parse_args(argv)

    if args.render_only:
        write_section(args.doc, render_section(json.loads(args.json.read_text())))
        return
    if args.quick:
        if args.resolutions == p.get_default("resolutions"):
            args.resolutions = ["32x64", "64x96"]
        args.infer_repeats = args.train_repeats = 2
        args.train_batch, args.threads = 2, 1
    resolutions = [parse_image_size(r, "--resolutions") for r in args.resolutions]
    plan = TimingPlan(
        models=args.models,
        resolutions=resolutions,
        dims=QUICK_DIMS if args.quick else {},
        role_grids=args.role_grids or (QUICK_ROLE_GRIDS if args.quick else None),
        **({"role_image_sizes": QUICK_ROLE_IMAGE_SIZES} if args.quick else {}),
        infer_repeats=args.infer_repeats,
        train_repeats=args.train_repeats,
        warmup=1 if args.quick else 2,
        train_batch=args.train_batch,
        threads=args.threads,
        isolate=not args.quick,
        onnx=not args.no_onnx,
    )
    timing = run_timing(plan)
    timing["command"] = shlex.join([".venv/bin/python", "scripts/timing_benchmark.py", *argv])
    timing["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if args.notes_file:
        timing["notes"] = args.notes_file.read_text()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(timing, indent=2) + "\n")
    write_section(args.doc, render_section(timing))
    print(f"wrote {args.json} and the timing section of {args.doc}")


if __name__ == "__main__":
    main()
