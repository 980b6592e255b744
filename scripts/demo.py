#!/usr/bin/env python
"""The README's main job: record scripted multi-camera ALOHA demos -> lerobot-train hetero_act ->
lerobot-eval in aloha_multicam -> outputs/demo/report/ (report.md, curves.png, summary.json, videos).

    python scripts/demo.py                                   # the CPU default (see DemoConfig)
    python scripts/demo.py --quick                           # a few-minute smoke run of the loop
    python scripts/demo.py --preset configs/demo_gpu.json    # a preset of DemoConfig fields

Rerunning continues an interrupted run: recorded episodes, checkpoints and evaluations are kept.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lerobot_hetero_act.demo import DemoConfig, run_demo
from lerobot_hetero_act.offline_run import REPO


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--output-dir", type=Path, default=None, help="default outputs/demo (outputs/demo_quick)"
    )
    parser.add_argument("--preset", type=Path, help="JSON file of DemoConfig fields")
    parser.add_argument(
        "--quick", action="store_true", help="a few-minute smoke run (does not learn the task)"
    )
    for name in ("steps", "episodes", "eval_episodes", "final_eval_episodes"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, help=f"override {name}")
    args = parser.parse_args()

    if args.preset and args.quick:
        parser.error("--preset and --quick exclude each other")
    try:
        cfg = (
            DemoConfig.from_file(args.preset)
            if args.preset
            else DemoConfig.quick()
            if args.quick
            else DemoConfig()
        )
        for name in ("steps", "episodes", "eval_episodes", "final_eval_episodes"):
            if getattr(args, name) is not None:
                setattr(cfg, name, getattr(args, name))
        cfg.to_protocol()
    except ValueError as err:
        parser.error(str(err))
    out = (args.output_dir or REPO / ("outputs/demo_quick" if args.quick else "outputs/demo")).resolve()
    report = run_demo(cfg, out)
    print(f"\n[demo] report: {report / 'report.md'}\n")
    print((report / "report.md").read_text())


if __name__ == "__main__":
    main()
