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
from pathlib import Path

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
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--task", required=True, help=f"one of: {', '.join(TASKS)}")
    parser.add_argument("--root", required=True, type=Path, help="dataset directory (created, or resumed)")
    parser.add_argument("--episodes", type=int, default=50, help="successful episodes to save (default 50)")
    parser.add_argument(
        "--cameras",
        default=",".join(DEFAULT_CAMERAS),
        help=f"comma-separated cameras to record (default {','.join(DEFAULT_CAMERAS)}); available: {', '.join(CAMERAS)}",
    )
    h, w = DEFAULT_IMAGE_SIZE
    parser.add_argument(
        "--image-size", default=f"{h}x{w}", help=f"HEIGHTxWIDTH for every camera (default {h}x{w})"
    )
    parser.add_argument(
        "--camera-size",
        action="append",
        default=[],
        metavar="CAMERA=HxW",
        help="per-camera size override, repeatable or comma-separated, e.g. left_wrist=120x160",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="first seed; seeds fix the object poses (default 0)"
    )
    parser.add_argument(
        "--episode-length",
        type=int,
        default=None,
        help="steps per episode at 50 Hz (default: 400 for both tasks)",
    )
    parser.add_argument(
        "--video",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="store MP4 videos (default) or PNG images",
    )
    parser.add_argument(
        "--antialias",
        action="store_true",
        help="render with 4x multisampling (about 2x slower); pass --env.antialias=true when evaluating",
    )
    parser.add_argument(
        "--repo-id", default="local/aloha_sim_scripted", help="dataset repo id stored in metadata"
    )
    parser.add_argument(
        "--keep-failed", action="store_true", help="also save episodes whose replay failed (for quick tests)"
    )
    parser.add_argument(
        "--max-attempts", type=int, default=None, help="stop after this many seeds (default 4x+20)"
    )
    parser.add_argument("--report", type=Path, default=None, help="also write the summary JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    try:
        task = get_task(args.task, "--task").name
        cameras = parse_cameras(args.cameras, "--cameras")
        size = parse_image_size(args.image_size, "--image-size")
        overrides = parse_camera_sizes(",".join(args.camera_size), "--camera-size")
        camera_sizes = resolve_camera_sizes(cameras, size, overrides, "--camera-size")
    except ValueError as err:
        parser.error(str(err))

    os.environ.setdefault("MUJOCO_GL", "egl")
    from lerobot_hetero_act.sim.record import RecordConfig, record_demos

    try:
        cfg = RecordConfig(
            task=task,
            root=args.root,
            episodes=args.episodes,
            camera_sizes=camera_sizes,
            repo_id=args.repo_id,
            seed=args.seed,
            episode_length=args.episode_length,
            use_videos=args.video,
            antialias=args.antialias,
            keep_failed=args.keep_failed,
            max_attempts=args.max_attempts,
        )
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
