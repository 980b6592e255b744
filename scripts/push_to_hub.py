#!/usr/bin/env python
"""Push an existing hetero_act `pretrained_model/` folder to the Hugging Face Hub.

    python scripts/push_to_hub.py outputs/train/run/checkpoints/last/pretrained_model \
        --repo-id <user>/<name> [--private] [--dry-run] [--dataset-repo-id <user>/<dataset>]

Uploads model.safetensors, config.json, train_config.json, both processors (json + safetensors)
and a model card (README.md, generated from the config unless the folder has one) in one commit,
the same files `lerobot-train --policy.push_to_hub=true` uploads. Use it for a run trained without
pushing, or to publish an intermediate checkpoint. `--dry-run` checks the folder and lists the
files without contacting the Hub. Log in first (`hf auth login`) or set HF_TOKEN.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lerobot_hetero_act.checkpoint_checks import CheckpointError
from lerobot_hetero_act.hub import push_pretrained_dir


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, push (or dry-run), report; exit code 2 for a bad folder or repo id."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a checkpoint's pretrained_model directory")
    parser.add_argument("--repo-id", required=True, help="<user>/<name> on the Hub")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--dry-run", action="store_true", help="check and list files, upload nothing")
    parser.add_argument("--dataset-repo-id", help="dataset named in the card (default: train_config.json's)")
    args = parser.parse_args(argv)
    try:
        files = push_pretrained_dir(
            args.folder,
            args.repo_id,
            private=args.private,
            dry_run=args.dry_run,
            dataset_repo_id=args.dataset_repo_id,
        )
    except (CheckpointError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    action = "would upload" if args.dry_run else "uploaded"
    print(f"{action} to https://huggingface.co/{args.repo_id}:")
    for name in files:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
