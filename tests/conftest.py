"""Fixtures shared by the test modules: a saved tiny pretrained_model folder and a Hub cache layout.

Helper modules of this folder (policy_factory, dataset_factory, cli, eval_actions) are imported by
bare name: pytest puts this folder on sys.path because it holds this conftest.py. The research
harness, which is not installed with the plugin, is imported as `bench` from scripts/ (added here).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))  # the `bench` package

import pytest
import torch
from dataset_factory import ALOHA_CAMERAS_REPO_ID, ALOHA_TOP_REPO_ID, write_tiny_dataset
from lerobot.utils.constants import ACTION, OBS_STATE
from policy_factory import ACTION_DIM, ALOHA_CAMERAS, ONE_CELL_ROLE_GRIDS, STATE_DIM, make_policy

from lerobot_hetero_act.camera_roles import camera_key
from lerobot_hetero_act.processor_hetero_act import make_hetero_act_pre_post_processors

# Two cameras small enough for a one-cell feature map, so saving and loading take milliseconds.
SMALL_CAMERAS = {"top": (32, 32), "left_wrist": (24, 32)}
SNAPSHOT_COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="session")
def aloha_cameras_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 12-frame episode with the three ALOHA cameras (small sizes), for short real trainings."""
    root = tmp_path_factory.mktemp("data") / "tiny_aloha_cameras"
    return write_tiny_dataset(
        root, ALOHA_CAMERAS, n_episodes=1, frames_per_episode=12, fps=10, repo_id=ALOHA_CAMERAS_REPO_ID
    )


@pytest.fixture(scope="session")
def aloha_top_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 12-frame episode with only `top` at gym-aloha's 480x640 and 50 fps, so a checkpoint
    trained on it runs in LeRobot's plain `aloha` env."""
    root = tmp_path_factory.mktemp("data") / "tiny_aloha_top"
    return write_tiny_dataset(
        root,
        {"top": (480, 640)},
        n_episodes=1,
        frames_per_episode=12,
        fps=50,
        seed=1,
        repo_id=ALOHA_TOP_REPO_ID,
    )


@pytest.fixture(scope="session")
def _saved_pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    policy = make_policy(SMALL_CAMERAS, role_grids=ONE_CELL_ROLE_GRIDS)
    stats = {
        camera_key(name): {"mean": torch.zeros(3, 1, 1), "std": torch.ones(3, 1, 1)} for name in SMALL_CAMERAS
    }
    stats[OBS_STATE] = {"mean": torch.zeros(STATE_DIM), "std": torch.ones(STATE_DIM)}
    stats[ACTION] = {"mean": torch.zeros(ACTION_DIM), "std": torch.ones(ACTION_DIM)}
    folder = tmp_path_factory.mktemp("saved") / "pretrained_model"
    policy.save_pretrained(folder)
    for processor in make_hetero_act_pre_post_processors(policy.config, dataset_stats=stats):
        processor.save_pretrained(folder)
    (folder / "train_config.json").write_text(
        json.dumps({"dataset": {"repo_id": "user/two_cam"}, "steps": 7})
    )
    return folder


@pytest.fixture
def pretrained_dir(_saved_pretrained: Path, tmp_path: Path) -> Path:
    """A two-camera pretrained_model folder as lerobot-train writes it (policy, both processors,
    train_config.json), copied per test so that a test may damage it."""
    return Path(shutil.copytree(_saved_pretrained, tmp_path / "pretrained_model"))


def _build_hf_cache(
    cache_root: Path, repo_id: str, files: dict[str, Path], commit: str = SNAPSHOT_COMMIT
) -> Path:
    repo_dir = cache_root / f"models--{repo_id.replace('/', '--')}"
    blobs, snapshot = repo_dir / "blobs", repo_dir / "snapshots" / commit
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for name, source in files.items():
        data = source.read_bytes()
        blob = blobs / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    return snapshot


@pytest.fixture(scope="session")
def build_hf_cache() -> Callable[..., Path]:
    """build(cache_root, repo_id, {name: file}) lays files out as `snapshot_download` leaves them:
    content-addressed blobs, a snapshot of relative symlinks named by the commit, and refs/main
    holding the commit. Returns the snapshot dir."""
    return _build_hf_cache
