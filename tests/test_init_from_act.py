"""`init_from_act`: start hetero_act from a real LeRobot ACT checkpoint written by `lerobot-train`.

An ACT checkpoint is trained for 2 steps with the real CLI; then (a) an in-process HeteroACTPolicy
initialised from it must hold exactly ACT's backbone / VAE / transformer / head tensors and fresh
fusion tensors, with a report that says so; (b) `lerobot-train --policy.type=hetero_act
--policy.init_from_act=<dir>` logs the report and trains; (c) loading the resulting hetero_act
checkpoint never touches the ACT checkpoint again (it may be gone); bad paths fail by name.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
from cli import BIN_DIR, run_logged, tiny_policy_args
from dataset_factory import ALOHA_CAMERAS_REPO_ID
from policy_factory import CHUNK, make_config
from safetensors.torch import load_file

from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

pytestmark = pytest.mark.e2e

FUSION_PREFIX = "model.camera_fusion."
ACT_ONLY = {"model.encoder_img_feat_input_proj.weight", "model.encoder_img_feat_input_proj.bias"}
# ACT's module groups that must carry over unchanged.
CARRIED_GROUPS = (
    "model.backbone.",
    "model.vae_encoder",
    "model.encoder.",
    "model.decoder.",
    "model.action_head.",
    "model.encoder_latent_input_proj.",
    "model.encoder_robot_state_input_proj.",
    "model.encoder_1d_feature_pos_embed.",
    "model.decoder_pos_embed.",
)
INIT_LINE = re.compile(r"init_from_act (\S+): loaded (\d+) tensors")


def lerobot_train(args: list[str], cwd: Path) -> str:
    """Run lerobot-train offline for 2 steps; assert success and return the log."""
    cmd = [str(BIN_DIR / "lerobot-train"), *args, "--steps=2", "--save_freq=2", "--batch_size=2"]
    cmd += ["--num_workers=0", "--log_freq=1", "--wandb.enable=false"]
    return run_logged(cmd, cwd, cwd / "lerobot_train.log")


@pytest.fixture(scope="module")
def act_checkpoint(aloha_cameras_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pretrained_model dir of a 2-step `lerobot-train --policy.type=act` run."""
    work = tmp_path_factory.mktemp("act")
    lerobot_train(
        [
            *tiny_policy_args("act"),
            f"--dataset.repo_id={ALOHA_CAMERAS_REPO_ID}",
            f"--dataset.root={aloha_cameras_dataset}",
            f"--output_dir={work / 'run'}",
        ],
        cwd=work,
    )
    return work / "run" / "checkpoints" / "000002" / "pretrained_model"


@pytest.fixture(scope="module")
def hetero_run(
    aloha_cameras_dataset: Path, act_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, str]:
    """`lerobot-train --policy.type=hetero_act --policy.init_from_act=<copy of the ACT checkpoint>`.

    Returns (hetero pretrained_model dir, the ACT copy it was initialised from, log).
    """
    work = tmp_path_factory.mktemp("hetero")
    act_copy = work / "act_copy"
    shutil.copytree(act_checkpoint, act_copy)
    log = lerobot_train(
        [
            *tiny_policy_args("hetero_act"),
            f"--policy.init_from_act={act_copy}",
            f"--dataset.repo_id={ALOHA_CAMERAS_REPO_ID}",
            f"--dataset.root={aloha_cameras_dataset}",
            f"--output_dir={work / 'run'}",
        ],
        cwd=work,
    )
    return work / "run" / "checkpoints" / "000002" / "pretrained_model", act_copy, log


def test_in_process_init_copies_act_tensors_and_reports(act_checkpoint: Path) -> None:
    act_state = load_file(act_checkpoint / "model.safetensors")
    torch.manual_seed(123)  # fusion init must not depend on ACT's weights
    policy = HeteroACTPolicy(make_config(init_from_act=str(act_checkpoint)))
    own = policy.state_dict()
    report = policy.init_report

    carried = [k for k in own if not k.startswith(FUSION_PREFIX)]
    fusion = [k for k in own if k.startswith(FUSION_PREFIX)]
    assert fusion and carried
    for group in CARRIED_GROUPS:
        assert any(k.startswith(group) for k in carried), f"no tensor of {group} in hetero_act"
    for key in carried:
        assert torch.equal(own[key], act_state[key]), f"{key} differs from the ACT checkpoint"
    for key in fusion:
        assert key not in act_state

    assert sorted(report.loaded) == sorted(carried)
    assert sorted(report.new) == sorted(fusion)
    assert report.shape_mismatch == []
    assert set(report.unused) == ACT_ONLY
    assert report.source == str(act_checkpoint)
    assert f"loaded {len(carried)} tensors" in report.summary()

    # A fresh fusion: built from the seed, so equal to a policy without init_from_act (same seed).
    torch.manual_seed(123)
    plain = HeteroACTPolicy(make_config()).state_dict()
    for key in fusion:
        assert torch.equal(own[key], plain[key]), key


def test_accepts_the_training_checkpoint_folder(act_checkpoint: Path) -> None:
    """`checkpoints/000002` (the parent of pretrained_model) works too, with the same tensors."""
    policy = HeteroACTPolicy(make_config(init_from_act=str(act_checkpoint.parent)))
    act_state = load_file(act_checkpoint / "model.safetensors")
    assert len(policy.init_report.loaded) == len(
        [k for k in policy.state_dict() if not k.startswith(FUSION_PREFIX)]
    )
    key = "model.backbone.layer1.0.conv1.weight"
    assert torch.equal(policy.state_dict()[key], act_state[key])


def test_lerobot_train_logs_the_init_report(hetero_run: tuple[Path, Path, str], act_checkpoint: Path) -> None:
    hetero_dir, act_copy, log = hetero_run
    match = INIT_LINE.search(log)
    assert match, "no 'init_from_act <src>: loaded N tensors' line in the lerobot-train log"
    assert match[1] == str(act_copy)
    expected = HeteroACTPolicy(make_config(init_from_act=str(act_checkpoint))).init_report
    assert int(match[2]) == len(expected.loaded)
    assert "unused from ACT 2 (model.encoder_img_feat_input_proj)" in log
    assert re.search(r"step:2 .*loss:", log), "training did not reach step 2"
    assert (hetero_dir / "model.safetensors").is_file()


def test_from_pretrained_does_not_reread_the_act_checkpoint(hetero_run: tuple[Path, Path, str]) -> None:
    hetero_dir, act_copy, _ = hetero_run
    moved = act_copy.with_name("act_copy_moved")
    act_copy.rename(moved)
    try:
        policy = HeteroACTPolicy.from_pretrained(hetero_dir)
    finally:
        moved.rename(act_copy)
    assert policy.config.init_from_act == str(act_copy)  # recorded, but not applied on load
    assert not hasattr(policy, "init_report")
    saved = load_file(hetero_dir / "model.safetensors")
    own = policy.state_dict()
    for key, tensor in saved.items():
        assert torch.equal(own[key], tensor), key
    assert policy.config.chunk_size == CHUNK


def test_bad_paths_fail_with_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_checkpoint"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        HeteroACTPolicy(make_config(init_from_act=str(missing)))
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape(str(empty))):
        HeteroACTPolicy(make_config(init_from_act=str(empty)))
