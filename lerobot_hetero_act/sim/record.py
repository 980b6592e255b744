"""Record scripted ALOHA demonstrations as a local LeRobotDataset (v3), resumably.

Per seed: plan the scripted motion in the mocap scene and replay it in the joint scene without
rendering (cheap); only if the replay succeeds is it replayed once more with the selected cameras
rendered and written frame by frame. Each saved episode is finalized on its own (see
`progress.py` for why), so an interrupted run leaves a loadable dataset of whole episodes and
re-running the same command continues with the next seed.

Command line: `python -m lerobot_hetero_act.sim.record --help` (CLI_USAGE below).
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # off-screen rendering; set before MuJoCo is imported

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.utils.constants import ACTION, OBS_STATE
from tqdm import tqdm

from lerobot_hetero_act.camera_roles import camera_key
from lerobot_hetero_act.sim import progress as prog
from lerobot_hetero_act.sim.cameras import (
    CAMERAS,
    DEFAULT_CAMERAS,
    DEFAULT_IMAGE_SIZE,
    ImageSize,
    format_camera_sizes,
    parse_camera_sizes,
    parse_cameras,
    parse_image_size,
    resolve_camera_sizes,
)
from lerobot_hetero_act.sim.features import dataset_features
from lerobot_hetero_act.sim.rendering import CameraRenderer
from lerobot_hetero_act.sim.scene import AlohaScene
from lerobot_hetero_act.sim.scripted_rollout import replay, scripted_episode
from lerobot_hetero_act.sim.signals import SignalGuard
from lerobot_hetero_act.sim.task_spec import FPS, TASKS, get_task
from lerobot_hetero_act.video_backend import video_backend

logger = logging.getLogger(__name__)

FrameHook = Callable[[int, int], None]
"""Called as (episode_index, step) before each recorded frame; lets tests inject failures."""


@dataclass(frozen=True)
class RecordConfig:
    task: str
    root: Path
    episodes: int
    camera_sizes: dict[str, ImageSize] = field(
        default_factory=lambda: dict.fromkeys(DEFAULT_CAMERAS, DEFAULT_IMAGE_SIZE)
    )
    """Recorded cameras in order, each with its (height, width)."""
    repo_id: str = "local/aloha_sim_scripted"
    seed: int = 0
    """First seed; attempts use seed, seed+1, ... (the seed fixes the object poses)."""
    episode_length: int | None = None
    """Steps per episode; None = the task's default (400)."""
    use_videos: bool = True
    antialias: bool = False
    """Multisample anti-aliasing (slower); use the same setting for the eval env."""
    keep_failed: bool = False
    """Save episodes whose replay did not succeed too (for quick tests with short horizons)."""
    max_attempts: int | None = None
    """Give up after this many seeds; None = 4x episodes + 20."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", get_task(self.task).name)
        object.__setattr__(self, "root", Path(self.root))
        parse_cameras(list(self.camera_sizes), "camera_sizes")
        sizes = {
            cam: parse_image_size(size, f"camera_sizes[{cam}]") for cam, size in self.camera_sizes.items()
        }
        object.__setattr__(self, "camera_sizes", sizes)
        if self.episodes < 1:
            raise ValueError(f"episodes: must be at least 1, got {self.episodes}")
        if self.episode_length is not None and self.episode_length < 2:
            raise ValueError(f"episode_length: must be at least 2, got {self.episode_length}")

    @property
    def length(self) -> int:
        return self.episode_length or get_task(self.task).episode_length

    @property
    def attempt_limit(self) -> int:
        return self.max_attempts if self.max_attempts is not None else 4 * self.episodes + 20

    def settings(self) -> dict[str, Any]:
        """Everything a resumed run must share with the original one."""
        return {
            "task": self.task,
            "repo_id": self.repo_id,
            "cameras": format_camera_sizes(self.camera_sizes),
            "first_seed": self.seed,
            "episode_length": self.length,
            "fps": FPS,
            "use_videos": self.use_videos,
            "antialias": self.antialias,
            "keep_failed": self.keep_failed,
        }


@dataclass(frozen=True)
class RecordSummary:
    root: Path
    saved_episodes: int
    attempted: int
    successful: int
    success_rate: float
    saved_seeds: list[int]
    failed_seeds: list[int]
    complete: bool


def _prepare_root(cfg: RecordConfig) -> prog.Progress:
    """Load (and repair) the progress of an earlier run in `cfg.root`, or start afresh."""
    root = cfg.root
    fresh = prog.Progress(settings=cfg.settings(), next_seed=cfg.seed)
    if not root.exists() or (root.is_dir() and not any(root.iterdir())):
        if root.exists():
            root.rmdir()  # LeRobotDataset.create insists on creating the directory itself
        return fresh
    progress = prog.load_progress(root)
    if progress is None:
        raise FileExistsError(
            f"root: {root} exists but was not written by this recorder (no {prog.SIDECAR_NAME}); "
            "choose a new --root or delete it"
        )
    now = fresh.settings
    changed = [
        f"{k}: recorded {v!r}, now {now.get(k)!r}" for k, v in progress.settings.items() if now.get(k) != v
    ]
    if changed:
        details = "; ".join(changed)
        raise ValueError(f"root: {root} holds a recording with other settings ({details}); use a new --root")
    if prog.rollback(root, progress):
        logger.warning("Rolled back an episode whose commit was interrupted (seed %s).", progress.next_seed)
    if not progress.saved_seeds:
        # Nothing saved yet: LeRobot cannot resume an empty dataset, so start the files again
        # (failed attempts stay known through the in-memory progress).
        shutil.rmtree(root)
    return progress


def _open_dataset(cfg: RecordConfig, progress: prog.Progress, guard: SignalGuard) -> LeRobotDataset:
    if (cfg.root / "meta" / "info.json").exists():
        return LeRobotDataset.resume(cfg.repo_id, root=cfg.root, video_backend=video_backend())
    with guard.deferred():  # never leave a created dataset without the sidecar that marks it ours
        dataset = LeRobotDataset.create(
            cfg.repo_id,
            fps=FPS,
            features=dataset_features(cfg.camera_sizes, cfg.use_videos),
            root=cfg.root,
            robot_type="aloha",
            use_videos=cfg.use_videos,
            video_backend=video_backend(),
        )
        prog.save_progress(cfg.root, progress)
    return dataset


def _record_episode(
    cfg: RecordConfig,
    progress: prog.Progress,
    guard: SignalGuard,
    scene: AlohaScene,
    renderer: CameraRenderer,
    seed: int,
    actions: np.ndarray,
    on_frame: FrameHook | None,
) -> bool:
    """Replay `actions` with rendering into the dataset and commit the episode. False if the
    rendered replay unexpectedly failed (then nothing is saved)."""
    instruction = get_task(cfg.task).instruction
    episode_index = len(progress.saved_seeds)
    dataset = _open_dataset(cfg, progress, guard)
    try:

        def add_frame(step: int, state: np.ndarray, action: np.ndarray) -> None:
            if on_frame is not None:
                on_frame(episode_index, step)
            frame: dict[str, Any] = {
                OBS_STATE: state.astype(np.float32),
                ACTION: action.astype(np.float32),
                "task": instruction,
            }
            for camera, image in renderer.render().items():
                frame[camera_key(camera)] = image
            dataset.add_frame(frame)

        result = replay(scene, seed, actions, on_frame=add_frame)
        if not (result.success or cfg.keep_failed):
            logger.warning("Seed %d succeeded without rendering but not with it; skipped.", seed)
            return False
        attempt = prog.Attempt(seed, result.success, result.max_reward, saved=True)
        with guard.deferred():
            prog.begin_commit(cfg.root, progress, seed)
            # In-process encoding: a Ctrl-C reaches encoder worker processes directly and would
            # break the commit that the deferral protects.
            dataset.save_episode(parallel_encoding=False)
            dataset.finalize()
            prog.end_commit(cfg.root, progress, attempt)
        return True
    finally:
        if dataset.has_pending_frames():
            dataset.clear_episode_buffer()
        dataset.finalize()
        prog.clear_scratch(cfg.root)  # LeRobot removes the frames but not the empty folders


def record_demos(
    cfg: RecordConfig, on_frame: FrameHook | None = None, show_progress: bool = True
) -> RecordSummary:
    """Record until `cfg.episodes` episodes are saved (or the attempt limit is hit)."""
    progress = _prepare_root(cfg)
    mocap = AlohaScene(cfg.task, "mocap")
    joint = AlohaScene(cfg.task, "joint")
    renderer = CameraRenderer(joint.physics, cfg.camera_sizes, antialias=cfg.antialias)
    guard = SignalGuard()
    bar = tqdm(
        total=cfg.episodes,
        initial=min(len(progress.saved_seeds), cfg.episodes),
        desc=f"{cfg.task} episodes",
        unit="ep",
        disable=not show_progress,
    )
    try:
        with guard.installed():
            while len(progress.saved_seeds) < cfg.episodes and len(progress.attempts) < cfg.attempt_limit:
                seed = progress.next_seed
                actions, result = scripted_episode(mocap, joint, seed, cfg.length)
                saved = False
                if result.success or cfg.keep_failed:
                    saved = _record_episode(cfg, progress, guard, joint, renderer, seed, actions, on_frame)
                if not saved:
                    progress.attempts.append(
                        prog.Attempt(seed, result.success, result.max_reward, saved=False)
                    )
                    progress.next_seed = seed + 1
                    if cfg.root.exists():
                        prog.save_progress(cfg.root, progress)
                bar.update(int(saved))
                bar.set_postfix(tried=len(progress.attempts), success=f"{progress.success_rate:.0%}")
    finally:
        bar.close()
        renderer.close()
    summary = progress.summary()
    if cfg.root.exists():
        prog.atomic_write_json(
            cfg.root / prog.SUMMARY_NAME, {"task": cfg.task, "settings": cfg.settings(), **summary}
        )
    saved = summary.pop("saved")
    return RecordSummary(root=cfg.root, saved_episodes=saved, complete=saved >= cfg.episodes, **summary)


CLI_USAGE = """Record scripted ALOHA sim demonstrations (transfer cube / insertion) as a local LeRobotDataset.

Example:
    MUJOCO_GL=egl HF_HUB_OFFLINE=1 python -m lerobot_hetero_act.sim.record --task transfer_cube \\
        --episodes 50 --cameras top,left_wrist,right_wrist --image-size 240x320 \\
        --camera-size left_wrist=120x160 --camera-size right_wrist=120x160 --root data/sim_transfer

Only episodes whose joint-space replay succeeds are kept. Interrupting (Ctrl-C, SIGTERM, a crash)
keeps every finished episode; running the same command again continues where it stopped.
The scripted success rate is printed and stored in <root>/recording_summary.json (progress and
per-seed results in <root>/scripted_demos.json). Exit status: 0 when all episodes are saved, 1 if
--max-attempts ran out first, 2 on bad arguments, 130 when interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    h, w = DEFAULT_IMAGE_SIZE
    doc = CLI_USAGE.split("\n\n", 1)
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
