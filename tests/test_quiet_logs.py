"""Simulation and training processes end without tracebacks in their output.

Two kinds of noise used to appear in every recording / training / eval log, although nothing failed:
- "Exception ignored in Renderer.__del__ ... EGLError EGL_NOT_INITIALIZED" at the exit of every
  process that rendered: MuJoCo's EGL display was terminated by its own atexit handler before the
  renderers were freed (lerobot_hetero_act/sim/rendering.py now frees them first).
- LeRobot's ~150-line torchcodec loading traceback wherever FFmpeg's libraries are missing: LeRobot
  tries torchcodec for every dataset and every command-line parse; lerobot_hetero_act.video_backend
  decides once and passes the backend explicitly.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli import cli_env, run_cli, run_logged, tiny_policy_args
from policy_factory import ONE_CELL_ROLE_GRIDS

from lerobot_hetero_act.video_backend import PYAV, video_backend, video_backend_args

pytestmark = [pytest.mark.e2e, pytest.mark.sim]

REPO = Path(__file__).resolve().parents[1]
NOISE = ("Traceback", "EGLError", "Exception ignored", "libtorchcodec")
CAMERAS = "top,left_wrist"


def assert_quiet(log: str, what: str) -> None:
    found = [word for word in NOISE if word in log]
    assert not found, f"{what} printed {found}:\n{log[-3000:]}"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One short scripted episode stored as MP4 videos (what training decodes), and the recorder's log."""
    root = tmp_path_factory.mktemp("quiet") / "dataset"
    args = ["--task", "transfer_cube", "--episodes", "1", "--cameras", CAMERAS, "--image-size", "64x64"]
    args += ["--root", str(root), "--episode-length", "12", "--keep-failed", "--repo-id", "local/quiet"]
    log = run_logged(
        [sys.executable, str(REPO / "scripts/record_sim_demos.py"), *args],
        root.parent,
        root.parent / "record.log",
    )
    return root, log


def test_recorder_output_has_no_traceback(recorded: tuple[Path, str]) -> None:
    root, log = recorded
    assert list(root.rglob("*.mp4")), "the episode should be stored as videos"
    assert_quiet(log, "record_sim_demos.py")


def test_train_and_eval_output_has_no_traceback(recorded: tuple[Path, str], tmp_path: Path) -> None:
    """lerobot-train decoding the videos, then lerobot-eval rendering aloha_multicam, both quiet."""
    root, _ = recorded
    train_dir = tmp_path / "train"
    train_args = [
        *tiny_policy_args(role_grids=ONE_CELL_ROLE_GRIDS, chunk_size=4),
        "--dataset.repo_id=local/quiet",
        f"--dataset.root={root}",
        *video_backend_args(),
        f"--output_dir={train_dir}",
        "--steps=2",
        "--save_freq=2",
        "--wandb.enable=false",
        "--num_workers=0",
        "--batch_size=2",
        "--log_freq=1",
    ]
    assert_quiet(
        run_cli("lerobot-train", train_args, cwd=tmp_path, log_path=tmp_path / "train.log"), "lerobot-train"
    )

    eval_args = [
        f"--policy.path={train_dir / 'checkpoints/last/pretrained_model'}",
        "--env.type=aloha_multicam",
        f"--env.cameras=[{CAMERAS}]",
        "--env.observation_height=64",
        "--env.observation_width=64",
        "--env.episode_length=3",
        "--eval.n_episodes=1",
        "--eval.batch_size=1",
        "--policy.device=cpu",
        f"--output_dir={tmp_path / 'eval'}",
    ]
    assert_quiet(
        run_cli("lerobot-eval", eval_args, cwd=tmp_path, log_path=tmp_path / "eval.log"), "lerobot-eval"
    )


def test_renderer_left_open_is_freed_before_egl_terminates(tmp_path: Path) -> None:
    """A process that never closes its env (a crash, a forgotten close) still exits quietly."""
    code = (
        "from lerobot_hetero_act.sim.aloha_env import AlohaMultiCamEnv\n"
        "env = AlohaMultiCamEnv('transfer_cube', cameras=['top', 'left_wrist'], observation_height=48,"
        " observation_width=64, camera_sizes='left_wrist=32x48')\n"
        "env.reset(seed=0)\n"
        "env.render()\n"
        "print('rendered')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=cli_env(),
    )
    assert out.returncode == 0 and "rendered" in out.stdout, out.stderr
    assert_quiet(out.stdout + out.stderr, "a process with an open renderer")


def test_video_backend_is_decided_without_loading_errors() -> None:
    backend = video_backend()
    assert backend in ("torchcodec", PYAV)
    assert video_backend_args() == [f"--dataset.video_backend={backend}"]
    from lerobot.configs.default import DatasetConfig

    field = DatasetConfig.__dataclass_fields__["video_backend"]
    assert field.default_factory is video_backend  # set when LeRobot imports the plugin
