"""End to end: the real `lerobot-train` / `lerobot-eval` CLIs with `--policy.type=hetero_act`.

These run LeRobot exactly as a user would (subprocesses, plugin discovered through the installed
distribution, offline), so they catch what unit tests cannot: draccus encoding/decoding of the config
fields, checkpoint layout, resume, processor save/load and the gym-aloha eval loop.

Everything is tiny (a 64-wide transformer, ResNet-18 without pretrained weights, a handful of
steps) so the module fits in a few minutes on 2 CPU cores; the datasets and the training run are
module-scoped and shared by the tests.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
from cli import log_tail, run_cli, tiny_policy_args
from dataset_factory import ALOHA_TOP_REPO_ID, write_tiny_dataset
from eval_actions import assert_same_actions, replay_in_process, run_eval_logging_actions
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.policies.factory import make_pre_post_processors
from safetensors.torch import load_file

from lerobot_hetero_act.camera_roles import camera_key
from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy
from lerobot_hetero_act.video_backend import video_backend_args

pytestmark = pytest.mark.e2e

MULTICAM = {"top": (96, 128), "left_wrist": (64, 80), "right_wrist": (64, 80)}
EXPECTED_ROLES = {
    "observation.images.top": "global_overview",
    "observation.images.left_wrist": "wrist_detail",
    "observation.images.right_wrist": "wrist_detail",
}
CHUNK = 10
ACTION_DIM = 14
TINY_POLICY_ARGS = tiny_policy_args(dim_model=64, dim_feedforward=128, chunk_size=CHUNK)
# The video backend explicitly (pyav where torchcodec cannot load): no torchcodec traceback in the logs.
TRAIN_RUN_ARGS = [
    "--wandb.enable=false",
    "--num_workers=0",
    "--batch_size=2",
    "--log_freq=1",
    *video_backend_args(),
]
CHECKPOINT_FILES = (
    "config.json",
    "model.safetensors",
    "train_config.json",
    "policy_preprocessor.json",
    "policy_postprocessor.json",
)


def train_losses(log: str) -> dict[int, float]:
    """step -> loss from lerobot-train's `step:N ... loss:X` log lines."""
    return {int(m[1]): float(m[2]) for m in re.finditer(r"step:(\d+) .*?\bloss:([-+\d.eE]+|nan|inf)", log)}


@pytest.fixture(scope="module")
def multicam_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three cameras at two resolutions, the case hetero_act exists for."""
    root = tmp_path_factory.mktemp("datasets") / "tiny_multicam"
    return write_tiny_dataset(root, MULTICAM, n_episodes=2, frames_per_episode=20, fps=10, seed=0)


@pytest.fixture(scope="module")
def trained_run(multicam_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`lerobot-train` for 4 steps, checkpointing every 2; returns (output_dir, log)."""
    work = tmp_path_factory.mktemp("train")
    output_dir = work / "run"
    log = run_cli(
        "lerobot-train",
        [
            *TINY_POLICY_ARGS,
            "--dataset.repo_id=local/tiny_multicam",
            f"--dataset.root={multicam_dataset}",
            f"--output_dir={output_dir}",
            *TRAIN_RUN_ARGS,
            "--steps=4",
            "--save_freq=2",
        ],
        cwd=work,
        log_path=work / "train.log",
    )
    return output_dir, log


@pytest.fixture(scope="module")
def aloha_checkpoint(aloha_top_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint whose features match gym-aloha: `top` at 480x640, 14-dim state and action."""
    work = tmp_path_factory.mktemp("aloha_train")
    output_dir = work / "run"
    run_cli(
        "lerobot-train",
        [
            *TINY_POLICY_ARGS,
            f"--dataset.repo_id={ALOHA_TOP_REPO_ID}",
            f"--dataset.root={aloha_top_dataset}",
            f"--output_dir={output_dir}",
            *TRAIN_RUN_ARGS,
            "--steps=2",
            "--save_freq=2",
        ],
        cwd=work,
        log_path=work / "train.log",
    )
    return output_dir / "checkpoints" / "000002" / "pretrained_model"


def test_train_writes_hetero_act_checkpoints(trained_run: tuple[Path, str]) -> None:
    """Checkpoints every 2 steps, recording the policy type and the resolved camera roles."""
    output_dir, log = trained_run
    for step in ("000002", "000004"):
        pretrained = output_dir / "checkpoints" / step / "pretrained_model"
        missing = [name for name in CHECKPOINT_FILES if not (pretrained / name).is_file()]
        assert not missing, f"{pretrained} lacks {missing}; log tail:\n{log_tail(log)}"
        assert (output_dir / "checkpoints" / step / "training_state" / "training_step.json").is_file()

        config = json.loads((pretrained / "config.json").read_text())
        assert config["type"] == "hetero_act"
        assert config["camera_roles"] == EXPECTED_ROLES
        assert config["pretrained_backbone_weights"] is None
        assert {k: v["shape"] for k, v in config["input_features"].items() if "images" in k} == {
            camera_key(name): [3, h, w] for name, (h, w) in MULTICAM.items()
        }
        train_config = json.loads((pretrained / "train_config.json").read_text())
        assert train_config["policy"]["type"] == "hetero_act"
        assert train_config["policy"]["camera_roles"] == EXPECTED_ROLES

    # The weights are hetero_act's: shared backbone plus fusion, none of ACT's per-cell image path.
    weights = load_file(output_dir / "checkpoints" / "000004" / "pretrained_model" / "model.safetensors")
    assert any(k.startswith("model.camera_fusion.") for k in weights)
    assert any(k.startswith("model.backbone.") for k in weights)
    assert not any(k.startswith("model.encoder_img_feat_input_proj") for k in weights)

    losses = train_losses(log)
    assert sorted(losses) == [1, 2, 3, 4], f"expected a loss per step; log tail:\n{log_tail(log)}"
    assert all(math.isfinite(loss) for loss in losses.values()), losses
    assert "top->global_overview, left_wrist->wrist_detail, right_wrist->wrist_detail" in log


def test_resume_continues_from_last_checkpoint(trained_run: tuple[Path, str], tmp_path: Path) -> None:
    """`--config_path=.../last/pretrained_model/train_config.json --resume=true` picks up at step 4."""
    output_dir, _ = trained_run
    checkpoints = output_dir / "checkpoints"
    assert (checkpoints / "last").resolve().name == "000004"
    log = run_cli(
        "lerobot-train",
        [
            f"--config_path={checkpoints / 'last' / 'pretrained_model' / 'train_config.json'}",
            "--resume=true",
            "--steps=6",
        ],
        cwd=tmp_path,
        log_path=tmp_path / "resume.log",
    )
    tail = log_tail(log)
    assert (checkpoints / "000006" / "pretrained_model" / "model.safetensors").is_file(), tail
    assert (checkpoints / "last").resolve().name == "000006"
    step = json.loads((checkpoints / "000006" / "training_state" / "training_step.json").read_text())
    assert step["step"] == 6
    # Only steps 5 and 6 were run, the data order resumed after 4 steps x batch 2 = 8 samples ...
    assert sorted(train_losses(log)) == [5, 6], tail
    assert "Resuming data order at epoch 0, sample 8" in log, tail
    # ... and the optimizer state was restored, not restarted (Adam counts 6 steps, not 2).
    optimizer = load_file(checkpoints / "000006" / "training_state" / "optimizer_state.safetensors")
    adam_steps = {float(v) for k, v in optimizer.items() if k.endswith("/step")}
    assert adam_steps == {6.0}, adam_steps
    config = json.loads((checkpoints / "000006" / "pretrained_model" / "config.json").read_text())
    assert config["type"] == "hetero_act"
    assert config["camera_roles"] == EXPECTED_ROLES


def predict_chunk(checkpoint: Path, frame: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Load policy and saved processors from `checkpoint`; return (normalised, un-normalised) chunk."""
    policy = HeteroACTPolicy.from_pretrained(checkpoint)
    policy.eval()
    preprocessor, postprocessor = make_pre_post_processors(policy.config, pretrained_path=str(checkpoint))
    torch.manual_seed(0)
    with torch.no_grad():
        chunk = policy.predict_action_chunk(preprocessor(dict(frame)))
    return chunk, postprocessor(chunk.clone())


def test_checkpoint_reload_predicts_identical_chunks(
    trained_run: tuple[Path, str], multicam_dataset: Path, tmp_path: Path
) -> None:
    """from_pretrained -> save_pretrained -> from_pretrained gives bit-identical action chunks."""
    output_dir, _ = trained_run
    checkpoint = output_dir / "checkpoints" / "000004" / "pretrained_model"
    frame = LeRobotDataset("local/tiny_multicam", root=multicam_dataset)[5]

    policy = HeteroACTPolicy.from_pretrained(checkpoint)
    assert policy.config.camera_roles == EXPECTED_ROLES
    assert policy.config.pretrained_backbone_weights is None
    preprocessor, postprocessor = make_pre_post_processors(policy.config, pretrained_path=str(checkpoint))
    resaved = tmp_path / "resaved"
    policy.save_pretrained(resaved)
    preprocessor.save_pretrained(resaved)
    postprocessor.save_pretrained(resaved)

    chunk, action = predict_chunk(checkpoint, frame)
    chunk_again, action_again = predict_chunk(resaved, frame)

    assert chunk.shape == (1, CHUNK, ACTION_DIM)
    assert action.shape == (1, CHUNK, ACTION_DIM)
    assert torch.isfinite(chunk).all() and torch.isfinite(action).all()
    assert not torch.equal(chunk, action), "the postprocessor should un-normalise the chunk"
    assert torch.equal(chunk, chunk_again)
    assert torch.equal(action, action_again)
    reloaded = json.loads((resaved / "config.json").read_text())
    assert reloaded["type"] == "hetero_act"
    assert reloaded["camera_roles"] == EXPECTED_ROLES


def test_eval_on_gym_aloha(aloha_checkpoint: Path, tmp_path: Path) -> None:
    """`lerobot-eval` rolls a hetero_act checkpoint out in AlohaTransferCube-v0, writes its metrics and
    video, and steps gym-aloha with exactly the actions the checkpoint's policy selects in the same env
    from the same seed (12 steps: a second chunk predicted from where the first one led)."""
    output_dir = tmp_path / "eval"
    env_args = ["--env.type=aloha", "--env.task=AlohaTransferCube-v0", "--env.episode_length=12"]
    log, executed = run_eval_logging_actions(
        [
            f"--policy.path={aloha_checkpoint}",
            *env_args,
            f"--output_dir={output_dir}",
        ],
        cwd=tmp_path,
        log_path=tmp_path / "eval.log",
    )
    tail = log_tail(log)
    info_path = output_dir / "eval_info.json"
    assert info_path.is_file(), tail
    overall = json.loads(info_path.read_text())["overall"]
    assert overall["n_episodes"] == 1, overall
    videos = [Path(p) for p in overall["video_paths"]]
    assert len(videos) == 1 and videos[0].is_file() and videos[0].stat().st_size > 0, overall
    assert "End of eval" in log, tail
    assert len(executed) == 12
    assert_same_actions(executed, replay_in_process(aloha_checkpoint, env_args, n_steps=12))


def test_train_config_file_from_configs_dir(multicam_dataset: Path, tmp_path: Path) -> None:
    """`--config_path=configs/train_hetero_act_aloha_sim.yaml` drives lerobot-train; CLI flags override it.

    The file maps right_wrist to wrist_context, unlike the name-based default (wrist_detail), so the
    saved roles show the file was read.
    """
    config = Path(__file__).resolve().parents[1] / "configs/train_hetero_act_aloha_sim.yaml"
    out = tmp_path / "from_config_file"
    overrides = [a for a in TINY_POLICY_ARGS if a != "--policy.type=hetero_act"]
    run_cli(
        "lerobot-train",
        [
            f"--config_path={config}",
            "--dataset.repo_id=local/tiny_multicam",
            f"--dataset.root={multicam_dataset}",
            f"--output_dir={out}",
            "--steps=1",
            "--save_freq=1",
            *overrides,
            *TRAIN_RUN_ARGS,
        ],
        cwd=tmp_path,
        log_path=tmp_path / "train_from_config.log",
    )
    saved = json.loads((out / "checkpoints/000001/pretrained_model/config.json").read_text())
    assert saved["type"] == "hetero_act"
    assert saved["camera_roles"] == {
        "observation.images.top": "global_overview",
        "observation.images.left_wrist": "wrist_detail",
        "observation.images.right_wrist": "wrist_context",
    }
    assert saved["chunk_size"] == CHUNK  # the CLI override won over the file's 100
