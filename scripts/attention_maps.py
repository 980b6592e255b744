#!/usr/bin/env python
"""Draw where hetero_act's cameras look at each other: per-edge attention and view-gate weights.

Writes one PNG per frame, attention.npz and attention_meta.json (see lerobot_hetero_act.attention_maps).

    .venv/bin/python scripts/attention_maps.py --policy-path outputs/train/run/checkpoints/last/pretrained_model \\
        --dataset-root outputs/sim_transfer_96x128 --repo-id local/sim_transfer_96x128 \\
        --episode 12 --frames 0,150,300 --out-dir docs/attention
    .venv/bin/python scripts/attention_maps.py --policy-path <ckpt> --env aloha_multicam \\
        --env-task AlohaTransferCube-v0 --frames 0,100,200 --out-dir outputs/attention_rollout
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")

from tqdm import tqdm

from lerobot_hetero_act import attention_maps as maps


def parse_frames(text: str) -> list[int]:
    try:
        frames = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError as err:
        raise maps.AttentionMapError(
            f"--frames {text!r}: expected comma-separated integers such as 0,50,100"
        ) from err
    if not frames or frames[0] < 0:
        raise maps.AttentionMapError(f"--frames {text!r}: expected non-negative integers such as 0,50,100")
    return frames


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--policy-path", type=Path, required=True, help="a hetero_act pretrained_model directory")
    p.add_argument("--dataset-root", type=Path, help="LeRobotDataset directory (dataset mode)")
    p.add_argument("--repo-id", help="the dataset's repo id (dataset mode)")
    p.add_argument("--episode", type=int, default=0)
    p.add_argument("--env", choices=["aloha_multicam"], help="roll the policy out in this sim instead")
    p.add_argument("--env-task", default="AlohaTransferCube-v0")
    p.add_argument("--seed", type=int, default=0, help="rollout seed (env mode)")
    p.add_argument("--frames", default="0,50,100", help="frame indices in the episode, or rollout steps")
    p.add_argument("--out-dir", type=Path, default=Path("outputs/attention"))
    p.add_argument("--dpi", type=int, default=72)
    p.add_argument("--device", default="cpu")
    return p


def run(args: argparse.Namespace) -> list[Path]:
    frames = parse_frames(args.frames)
    if args.env is None and (args.dataset_root is None or args.repo_id is None):
        raise maps.AttentionMapError(
            "give --dataset-root and --repo-id (dataset mode) or --env aloha_multicam (rollout mode)"
        )
    policy, preprocessor, postprocessor = maps.load_policy(args.policy_path, args.device)
    if args.env:
        source = maps.rollout_frames(policy, preprocessor, postprocessor, args.env_task, frames, args.seed)
    else:
        cameras = list(policy.config.image_features)
        source = maps.dataset_frames(args.dataset_root, args.repo_id, args.episode, frames, cameras)
    progress = tqdm(source, total=len(frames), desc="attention maps", unit="frame", file=sys.stderr)
    return maps.write_attention_maps(policy, preprocessor, progress, args.out_dir, args.dpi)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        written = run(args)
    except maps.AttentionMapError as err:
        print(f"attention_maps: error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"{path} ({path.stat().st_size / 1024:.0f} KB)")
    print(f"{args.out_dir / 'attention.npz'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
