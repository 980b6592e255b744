"""The offline closed loop on real tools: record scripted multi-camera demos with our recorder CLI ->
`lerobot-train --policy.type=hetero_act` -> `lerobot-eval --env.type=aloha_multicam` for one short
episode. The eval env must hand the policy exactly the dataset's observation keys and shapes, and
lerobot-eval must execute exactly the actions the trained policy selects (tests/eval_actions.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cli import run_logged
from eval_actions import assert_same_actions, replay_in_process, run_eval_logging_actions
from test_e2e_train_eval import TINY_POLICY_ARGS, TRAIN_RUN_ARGS, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.sim]

REPO = Path(__file__).resolve().parents[1]
CAMERAS = {"top": "96x128", "left_wrist": "48x64", "right_wrist": "48x64"}


@pytest.fixture(scope="module")
def sim_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two short scripted episodes (kept even if the short horizon means no success)."""
    root = tmp_path_factory.mktemp("sim") / "dataset"
    sizes = ",".join(f"{c}={s}" for c, s in CAMERAS.items())
    args = [
        "--task",
        "transfer_cube",
        "--episodes",
        "2",
        "--cameras",
        ",".join(CAMERAS),
        "--image-size",
        "96x128",
    ]
    args += [
        "--camera-size",
        sizes,
        "--root",
        str(root),
        "--episode-length",
        "30",
        "--keep-failed",
        "--no-video",
    ]
    args += ["--repo-id", "local/sim_loop"]
    log = root.parent / "record.log"
    run_logged([sys.executable, str(REPO / "scripts/record_sim_demos.py"), *args], root.parent, log)
    return root


def test_record_train_eval_in_aloha_multicam(sim_dataset: Path, tmp_path: Path) -> None:
    info = json.loads((sim_dataset / "meta/info.json").read_text())
    dataset_images = {
        k: tuple(v["shape"]) for k, v in info["features"].items() if k.startswith("observation.images.")
    }
    assert dataset_images == {
        "observation.images.top": (96, 128, 3),
        "observation.images.left_wrist": (48, 64, 3),
        "observation.images.right_wrist": (48, 64, 3),
    }

    train_dir = tmp_path / "train"
    train_args = [*TINY_POLICY_ARGS, "--dataset.repo_id=local/sim_loop", f"--dataset.root={sim_dataset}"]
    train_args += [f"--output_dir={train_dir}", "--steps=2", "--save_freq=2", *TRAIN_RUN_ARGS]
    run_cli("lerobot-train", train_args, cwd=tmp_path, log_path=tmp_path / "train.log")
    ckpt = train_dir / "checkpoints/last/pretrained_model"
    policy_cfg = json.loads((ckpt / "config.json").read_text())
    policy_images = {
        k: tuple(v["shape"]) for k, v in policy_cfg["input_features"].items() if v["type"] == "VISUAL"
    }
    assert policy_images == {k: (3, h, w) for k, (h, w, _) in dataset_images.items()}

    eval_dir = tmp_path / "eval"
    sizes = ",".join(f"{c}={s}" for c, s in CAMERAS.items())
    env_args = ["--env.type=aloha_multicam", "--env.task=AlohaTransferCube-v0"]
    env_args += [f"--env.cameras=[{','.join(CAMERAS)}]", f"--env.camera_sizes={sizes}"]
    # 12 steps with chunks of 10: the second chunk is predicted from a state the first one produced.
    env_args += ["--env.observation_height=96", "--env.observation_width=128", "--env.episode_length=12"]
    eval_args = [f"--policy.path={ckpt}", *env_args, f"--output_dir={eval_dir}"]
    log, executed = run_eval_logging_actions(eval_args, cwd=tmp_path, log_path=tmp_path / "eval.log")
    result = json.loads((eval_dir / "eval_info.json").read_text())
    assert result["overall"]["n_episodes"] == 1
    assert list(eval_dir.rglob("*.mp4")), f"no eval video written; log tail:\n{log[-2000:]}"
    # HeteroACTPolicy refuses missing, extra or resized cameras (input_checks.py), so an eval that ran
    # proves the env's observation keys and shapes are the dataset's ...
    assert "ObservationError" not in log
    # ... and lerobot-eval stepped the env with exactly the actions this checkpoint's policy selects
    # in the same env from the same seed, in this process.
    assert_same_actions(executed, replay_in_process(ckpt, env_args, n_steps=len(executed)))
    assert len(executed) == 12
