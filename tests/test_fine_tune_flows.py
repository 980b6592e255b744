"""Training flows with the real lerobot-train that ACT accepts and hetero_act must too. A 1-channel
depth camera (uint16, LeRobot's single-channel type) beside an RGB one trains. Fine-tuning a hetero_act
checkpoint onto another dataset: at another image resolution it trains (the role resize applies to the actual frames, as for LeRobot's ACT); with
--rename_map onto other camera names it stops before training, since LeRobot keeps the statistics
under the dataset's names and the renamed cameras would never be normalised."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli import BIN_DIR, cli_env, log_tail, run_cli, tiny_policy_args
from conftest import ALOHA_CAMERAS_REPO_ID
from dataset_factory import write_tiny_dataset
from policy_factory import ALOHA_CAMERAS, ALOHA_ROLES

pytestmark = pytest.mark.e2e

TRAIN_FLAGS = ["--batch_size=2", "--num_workers=0", "--wandb.enable=false", "--dataset.video_backend=pyav"]


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory: pytest.TempPathFactory, aloha_cameras_dataset: Path) -> Path:
    out = tmp_path_factory.mktemp("fine_tune") / "base"
    run_cli(
        "lerobot-train",
        [
            *tiny_policy_args(camera_roles=json_roles()),
            f"--dataset.repo_id={ALOHA_CAMERAS_REPO_ID}",
            f"--dataset.root={aloha_cameras_dataset}",
            f"--output_dir={out}",
            "--steps=2",
            "--save_freq=2",
            *TRAIN_FLAGS,
        ],
        cwd=out.parent,
        log_path=out.parent / "base.log",
    )
    return out / "checkpoints/last/pretrained_model"


def json_roles() -> str:
    import json

    return json.dumps(ALOHA_ROLES)


def fine_tune(
    checkpoint: Path, dataset: Path, repo_id: str, out: Path, *extra: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(BIN_DIR / "lerobot-train"),
            f"--policy.path={checkpoint}",
            "--policy.push_to_hub=false",
            f"--dataset.repo_id={repo_id}",
            f"--dataset.root={dataset}",
            f"--output_dir={out}",
            "--steps=2",
            "--save_freq=2",
            *TRAIN_FLAGS,
            *extra,
        ],
        cwd=out.parent,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_fine_tuning_at_another_resolution_trains(tmp_path: Path, base_checkpoint: Path):
    bigger = {name: (h + 16, w + 16) for name, (h, w) in ALOHA_CAMERAS.items()}
    dataset = write_tiny_dataset(tmp_path / "bigger", bigger, 1, 12, 10, repo_id="local/bigger")
    result = fine_tune(base_checkpoint, dataset, "local/bigger", tmp_path / "run")
    assert result.returncode == 0, log_tail(result.stdout + result.stderr)
    assert (tmp_path / "run/checkpoints/last/pretrained_model/model.safetensors").is_file()


def test_fine_tuning_with_a_rename_map_stops_before_training_unnormalised_cameras(
    tmp_path: Path, base_checkpoint: Path
):
    renamed = {
        "front": ALOHA_CAMERAS["top"],
        "cam_left": ALOHA_CAMERAS["left_wrist"],
        "cam_right": ALOHA_CAMERAS["right_wrist"],
    }
    dataset = write_tiny_dataset(tmp_path / "renamed", renamed, 1, 12, 10, repo_id="local/renamed")
    rename = (
        '--rename_map={"observation.images.front": "observation.images.top", '
        '"observation.images.cam_left": "observation.images.left_wrist", '
        '"observation.images.cam_right": "observation.images.right_wrist"}'
    )
    result = fine_tune(base_checkpoint, dataset, "local/renamed", tmp_path / "run", rename)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log_tail(log)
    assert "have no normalisation statistics" in log and "--rename_map" in log, log_tail(log)
    assert not (tmp_path / "run/checkpoints").exists()


def test_a_depth_camera_beside_an_rgb_camera_trains_and_reloads(tmp_path: Path):
    """LeRobot decodes the depth frames with 1 channel but computes 3-channel statistics, so its
    normaliser hands the policy 3 equal channels: the declared 1-channel camera accepts both."""
    dataset = write_tiny_dataset(
        tmp_path / "depth",
        {"top": (64, 64)},
        1,
        12,
        10,
        repo_id="local/depth",
        depth_cameras={"depth": (64, 64)},
    )
    out = tmp_path / "run"
    run_cli(
        "lerobot-train",
        [
            *tiny_policy_args(camera_roles='{"top": "global_overview", "depth": "wrist_detail"}'),
            "--dataset.repo_id=local/depth",
            f"--dataset.root={dataset}",
            f"--output_dir={out}",
            "--steps=2",
            "--save_freq=2",
            *TRAIN_FLAGS,
        ],
        cwd=tmp_path,
        log_path=tmp_path / "train.log",
    )
    from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

    policy = HeteroACTPolicy.from_pretrained(out / "checkpoints/last/pretrained_model")
    assert policy.config.image_features["observation.images.depth"].shape == (1, 64, 64)
