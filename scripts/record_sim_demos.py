#!/usr/bin/env python
"""Record scripted ALOHA sim demonstrations (transfer cube / insertion) as a local LeRobotDataset.

Example:
    MUJOCO_GL=egl HF_HUB_OFFLINE=1 python scripts/record_sim_demos.py --task transfer_cube \\
        --episodes 50 --cameras top,left_wrist,right_wrist --image-size 240x320 \\
        --camera-size left_wrist=120x160 --camera-size right_wrist=120x160 --root data/sim_transfer

Only episodes whose joint-space replay succeeds are kept. Interrupting (Ctrl-C, SIGTERM, a crash)
keeps every finished episode; running the same command again continues where it stopped.
The scripted success rate is printed and stored in <root>/recording_summary.json (progress and
per-seed results in <root>/scripted_demos.json). Exit status: 0 when all episodes are saved, 1 if
--max-attempts ran out first, 2 on bad arguments, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

from lerobot_hetero_act.sim.cameras import (
    CAMERAS,
    DEFAULT_CAMERAS,
    DEFAULT_IMAGE_SIZE,
    parse_camera_sizes,
    parse_cameras,
    parse_image_size,
    resolve_camera_sizes,
)
from lerobot_hetero_act.sim.task_spec import TASKS, get_task


def build_parser() -> argparse.ArgumentParser:
    h, w = DEFAULT_IMAGE_SIZE
    doc = __doc__.split("\n\n", 1)
    parser = argparse.ArgumentParser(
        description=doc[0], epilog=doc[1], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--task", required=True, help=f"one of: {', '.join(TASKS)}")
    add("--root", required=True, type=Path, help="dataset directory (created, or resumed)")
    add("--episodes", type=int, default=50, help="successful episodes to save (default 50)")
    cams = ",".join(DEFAULT_CAMERAS)
    add("--cameras", default=cams, help=f"comma-separated (default {cams}); from: {', '.join(CAMERAS)}")
    add("--image-size", default=f"{h}x{w}", help=f"HEIGHTxWIDTH for every camera (default {h}x{w})")
    add(
        "--camera-size", action="append", default=[], metavar="CAM=HxW", help="repeatable, or comma-separated"
    )
    add("--seed", type=int, default=0, help="first seed; seeds fix the object poses (default 0)")
    add("--episode-length", type=int, help="steps per episode at 50 Hz (default: 400 for both tasks)")
    add(
        "--video",
        dest="use_videos",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="MP4 videos (default) or PNGs",
    )
    add("--antialias", action="store_true", help="4x MSAA (~2x slower); eval with --env.antialias=true")
    add("--repo-id", default="local/aloha_sim_scripted", help="dataset repo id stored in metadata")
    add("--keep-failed", action="store_true", help="also save episodes whose replay failed (for quick tests)")
    add("--max-attempts", type=int, help="stop after this many seeds (default 4x episodes + 20)")
    add("--report", type=Path, help="also write the summary JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:  # the cheap checks first, so that a typo fails before MuJoCo is imported
        task = get_task(args.task, "--task").name
        cameras = parse_cameras(args.cameras, "--cameras")
        size = parse_image_size(args.image_size, "--image-size")
        overrides = parse_camera_sizes(",".join(args.camera_size), "--camera-size")
        camera_sizes = resolve_camera_sizes(cameras, size, overrides, "--camera-size")
        from lerobot_hetero_act.sim.record import RecordConfig, record_demos

        given = {f.name: getattr(args, f.name) for f in fields(RecordConfig) if hasattr(args, f.name)}
        cfg = RecordConfig(**{**given, "task": task, "camera_sizes": camera_sizes})
    except ValueError as err:
        parser.error(str(err))

    try:
        summary = record_demos(cfg)
    except KeyboardInterrupt as err:
        print(f"\nInterrupted ({err}); finished episodes are saved. Re-run the same command to continue.")
        return 130
    except (FileExistsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    report = {
        "task": task,
        "root": str(summary.root),
        "saved_episodes": summary.saved_episodes,
        "attempted": summary.attempted,
        "successful": summary.successful,
        "scripted_success_rate": round(summary.success_rate, 4),
        "failed_seeds": summary.failed_seeds,
        "complete": summary.complete,
    }
    print(
        f"Saved {summary.saved_episodes} episodes to {summary.root}; scripted success rate "
        f"{summary.success_rate:.1%} ({summary.successful}/{summary.attempted} seeds)"
    )
    print(json.dumps(report))
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if summary.complete else 1


if __name__ == "__main__":
    sys.exit(main())
