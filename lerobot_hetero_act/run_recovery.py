"""Recovering an interrupted training run: the last complete checkpoint, what is missing, `last` repaired.

`lerobot-train` writes checkpoints non-atomically: a run killed inside `save_checkpoint` leaves a
step directory without `training_state/` (or with a truncated tensor file), and one killed inside
`update_last_checkpoint` (unlink, then symlink) leaves no `checkpoints/last` at all, so the documented
`--config_path=.../checkpoints/last/pretrained_model/train_config.json` fails with a bare
FileNotFoundError. Command line (prints the last complete checkpoint and the resume command;
`--fix-last` repoints `checkpoints/last` at it):

    python -m lerobot_hetero_act.run_recovery outputs/train/my_run [--fix-last]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from huggingface_hub.constants import CONFIG_NAME, SAFETENSORS_SINGLE_FILE
from lerobot.configs.train import TRAIN_CONFIG_NAME
from lerobot.utils.constants import (
    CHECKPOINTS_DIR,
    LAST_CHECKPOINT_LINK,
    OPTIMIZER_PARAM_GROUPS,
    OPTIMIZER_STATE,
    PRETRAINED_MODEL_DIR,
    RNG_STATE,
    TRAINING_STATE_DIR,
    TRAINING_STEP,
)

from .checkpoint_checks import (
    CheckpointError,
    read_json_file,
    safetensors_shapes,
)

# What LeRobot's load_training_state reads on --resume=true (scheduler_state.json only with a scheduler).
TRAINING_STATE_FILES = (
    TRAINING_STEP,
    RNG_STATE,
    OPTIMIZER_STATE,
    OPTIMIZER_PARAM_GROUPS,
)


def checkpoint_problems(checkpoint_dir: str | Path) -> list[str]:
    """What keeps `checkpoint_dir` (checkpoints/NNNNNN) from being resumed; empty if complete."""
    checkpoint_dir = Path(checkpoint_dir)
    pretrained, state = checkpoint_dir / PRETRAINED_MODEL_DIR, checkpoint_dir / TRAINING_STATE_DIR
    needed = [pretrained / n for n in (CONFIG_NAME, SAFETENSORS_SINGLE_FILE, TRAIN_CONFIG_NAME)]
    problems: list[str] = []
    for path in needed + [state / n for n in TRAINING_STATE_FILES]:
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        try:
            safetensors_shapes(path) if path.suffix == ".safetensors" else read_json_file(path)
        except CheckpointError as e:
            problems.append(str(e))
    if not problems:
        step = read_json_file(state / TRAINING_STEP).get("step")
        if str(step).zfill(len(checkpoint_dir.name)) != checkpoint_dir.name:
            problems.append(f"{state / TRAINING_STEP}: step {step} does not match the directory name")
    return problems


def step_checkpoints(output_dir: str | Path) -> list[Path]:
    """checkpoints/NNNNNN directories of a run, oldest first."""
    root = Path(output_dir) / CHECKPOINTS_DIR
    steps = [p for p in root.iterdir() if p.name.isdigit() and p.is_dir()] if root.is_dir() else []
    return sorted(steps, key=lambda p: int(p.name))


def find_last_complete_checkpoint(output_dir: str | Path) -> Path:
    """The newest checkpoints/NNNNNN of a run that can be resumed; CheckpointError if there is none."""
    checkpoints = step_checkpoints(output_dir)
    for checkpoint in reversed(checkpoints):
        if not checkpoint_problems(checkpoint):
            return checkpoint
    found = ", ".join(p.name for p in checkpoints) or "none"
    raise CheckpointError(
        Path(output_dir) / CHECKPOINTS_DIR, f"no complete checkpoint to resume from (found: {found})."
    )


def check_resume_checkpoint(checkpoint_dir: str | Path) -> None:
    """Raise a CheckpointError listing what is missing, and which checkpoint to use instead."""
    checkpoint_dir = Path(checkpoint_dir)
    problems = checkpoint_problems(checkpoint_dir)
    if not problems:
        return
    try:
        last = find_last_complete_checkpoint(checkpoint_dir.resolve().parent.parent)
        hint = f" The last complete checkpoint is {last}."
    except CheckpointError:
        hint = " The run has no complete checkpoint."
    raise CheckpointError(
        checkpoint_dir,
        f"incomplete checkpoint (training was probably killed while saving it): {'; '.join(problems)}.{hint}",
    )


def repair_last_link(output_dir: str | Path) -> Path:
    """Point checkpoints/last at the last complete checkpoint (atomically); return that checkpoint."""
    checkpoint = find_last_complete_checkpoint(output_dir)
    tmp = checkpoint.parent / f".{LAST_CHECKPOINT_LINK}.tmp"
    tmp.unlink(missing_ok=True)  # a leftover of an interrupted repair (a link, possibly dangling)
    tmp.symlink_to(checkpoint.name)
    os.replace(tmp, checkpoint.parent / LAST_CHECKPOINT_LINK)
    return checkpoint


def resume_command(checkpoint: str | Path) -> str:
    """The lerobot-train invocation that resumes from `checkpoint`."""
    train_config = Path(checkpoint) / PRETRAINED_MODEL_DIR / TRAIN_CONFIG_NAME
    return f"lerobot-train --config_path={train_config} --resume=true"


def main(argv: list[str] | None = None) -> int:
    """Report the last complete checkpoint of a run (and optionally repair checkpoints/last)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", type=Path, help="the run's --output_dir")
    parser.add_argument("--fix-last", action="store_true", help="repoint checkpoints/last at it")
    args = parser.parse_args(argv)
    try:
        fix = repair_last_link if args.fix_last else find_last_complete_checkpoint
        checkpoint = fix(args.output_dir)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for other in step_checkpoints(args.output_dir):
        if problems := checkpoint_problems(other):
            print(f"incomplete: {other} ({'; '.join(problems)})")
    print(f"last complete checkpoint: {checkpoint}")
    print(f"resume with: {resume_command(checkpoint)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
