"""Scripted sim demonstrations: real MuJoCo, real rendering, real LeRobotDataset on disk.

Episodes here are short (the scripted motion is squeezed into a few dozen steps), so they are
saved with keep_failed=True; success of the full-length script is checked without rendering.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import dataclasses
import importlib.util
import json
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from lerobot.datasets.lerobot_dataset import LeRobotDataset

from lerobot_hetero_act.camera_roles import camera_key
from lerobot_hetero_act.sim import progress as prog
from lerobot_hetero_act.sim.record import RecordConfig, record_demos
from lerobot_hetero_act.sim.scene import AlohaScene
from lerobot_hetero_act.sim.scripted_rollout import plan_joint_actions, scripted_episode

pytestmark = pytest.mark.sim

REPO = Path(__file__).resolve().parents[1]
REPO_ID = "test/aloha_sim_scripted"
# Three cameras at two different resolutions: the case hetero_act exists for.
SIZES = {"top": (96, 128), "left_wrist": (48, 64), "right_wrist": (48, 64)}
LENGTH = 40


def _config(root: Path, episodes: int, use_videos: bool = True) -> RecordConfig:
    return RecordConfig(
        task="transfer_cube",
        root=root,
        episodes=episodes,
        camera_sizes=SIZES,
        repo_id=REPO_ID,
        episode_length=LENGTH,
        use_videos=use_videos,
        keep_failed=True,
    )


def test_recorded_dataset_has_expected_features_and_frames(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    summary = record_demos(_config(root, episodes=2), show_progress=False)
    assert summary.saved_episodes == 2 and summary.complete

    ds = LeRobotDataset(REPO_ID, root=root)
    assert ds.fps == 50
    assert ds.num_episodes == 2 and ds.num_frames == 2 * LENGTH
    for cam, (h, w) in SIZES.items():
        feature = ds.features[camera_key(cam)]
        assert feature["dtype"] == "video" and tuple(feature["shape"]) == (h, w, 3)
    assert tuple(ds.features["observation.state"]["shape"]) == (14,)
    assert tuple(ds.features["action"]["shape"]) == (14,)
    assert ds.features["action"]["names"][6] == "left_gripper"

    frame = ds[LENGTH + 20]
    for cam, (h, w) in SIZES.items():
        assert frame[camera_key(cam)].shape == (3, h, w)
    left, right = frame["observation.images.left_wrist"], frame["observation.images.right_wrist"]
    assert (left - right).abs().mean() > 0.01, "the two wrist cameras must show different views"
    top = frame["observation.images.top"]
    assert top.std() > 0.01 and not torch.allclose(top[:, ::2, ::2], left, atol=0.05)
    assert frame["task"].startswith("Pick up the red cube")
    # The robot moves: states and actions change over an episode.
    first, last = ds[0], ds[LENGTH - 1]
    assert not torch.allclose(first["observation.state"], last["observation.state"])
    assert not torch.allclose(first["action"], last["action"])

    summary_file = json.loads((root / prog.SUMMARY_NAME).read_text())
    assert summary_file["saved"] == 2 and summary_file["saved_seeds"] == [0, 1]


class SimulatedCrashError(RuntimeError):
    pass


@pytest.mark.parametrize("how", ["sigterm", "crash"])
def test_interrupt_keeps_finished_episodes_and_rerun_resumes(tmp_path: Path, how: str) -> None:
    root = tmp_path / "ds"
    cfg = _config(root, episodes=2, use_videos=False)

    def stop_mid_second_episode(episode_index: int, step: int) -> None:
        if episode_index == 1 and step == 10:
            if how == "sigterm":
                os.kill(os.getpid(), signal.SIGTERM)
            raise SimulatedCrashError

    with pytest.raises(KeyboardInterrupt if how == "sigterm" else SimulatedCrashError):
        record_demos(cfg, on_frame=stop_mid_second_episode, show_progress=False)

    ds = LeRobotDataset(REPO_ID, root=root)
    assert ds.num_episodes == 1 and ds.num_frames == LENGTH
    assert not (root / "images").exists(), "half-recorded frames must be discarded"
    state = prog.load_progress(root)
    assert state is not None and state.saved_seeds == [0] and state.next_seed == 1 and state.pending is None

    summary = record_demos(cfg, show_progress=False)  # same command again
    assert summary.saved_episodes == 2 and summary.saved_seeds == [0, 1]
    ds = LeRobotDataset(REPO_ID, root=root)
    assert ds.num_episodes == 2 and ds.num_frames == 2 * LENGTH
    assert ds[LENGTH]["episode_index"].item() == 1


def test_interrupted_commit_is_rolled_back(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    cfg = _config(root, episodes=1, use_videos=False)
    record_demos(cfg, show_progress=False)
    info_before = (root / "meta/info.json").read_text()

    # A process killed half-way through writing episode 1: new data file, rewritten info.json.
    state = prog.load_progress(root)
    assert state is not None
    prog.begin_commit(root, state, seed=1)
    (root / "data/chunk-000/file-001.parquet").write_bytes(b"truncated parquet")
    (root / "meta/info.json").write_text(info_before.replace('"total_episodes": 1', '"total_episodes": 2'))

    record_demos(dataclasses.replace(cfg, episodes=2), show_progress=False)
    ds = LeRobotDataset(REPO_ID, root=root)
    assert ds.num_episodes == 2 and ds.num_frames == 2 * LENGTH


def test_changed_settings_on_resume_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    record_demos(_config(root, episodes=1, use_videos=False), show_progress=False)
    other = RecordConfig(
        task="transfer_cube", root=root, episodes=2, camera_sizes={"top": (96, 128)}, repo_id=REPO_ID
    )
    with pytest.raises(ValueError, match="cameras"):
        record_demos(other, show_progress=False)


@pytest.mark.parametrize("task", ["transfer_cube", "insertion"])
def test_full_length_script_succeeds_and_is_deterministic(task: str) -> None:
    mocap, joint = AlohaScene(task, "mocap"), AlohaScene(task, "joint")
    actions, result = scripted_episode(mocap, joint, seed=0, episode_length=400)
    assert result.success, f"{task}: scripted replay reached reward {result.max_reward}"
    np.testing.assert_array_equal(actions, plan_joint_actions(mocap, 0, 400))


def _load_cli():
    spec = importlib.util.spec_from_file_location("record_sim_demos", REPO / "scripts/record_sim_demos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "stacking"], "--task: unknown task 'stacking'; valid choices: transfer_cube"),
        (
            ["--task", "insertion", "--cameras", "top,wrist"],
            "--cameras: unknown camera 'wrist'; valid choices: top",
        ),
        (["--task", "insertion", "--image-size", "240"], "--image-size: expected HEIGHTxWIDTH"),
        (
            ["--task", "insertion", "--camera-size", "angle=12x16"],
            "--camera-size: size given for camera(s) not",
        ),
    ],
)
def test_cli_rejects_bad_input_with_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        _load_cli().main([*args, "--root", str(tmp_path / "ds")])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_cli_records_cameras_at_their_own_sizes(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    args = ["--task", "insertion", "--episodes", "1", "--cameras", "top,left_wrist", "--image-size", "48x64"]
    args += ["--camera-size", "top=72x96", "--episode-length", "20", "--keep-failed", "--no-video"]
    assert _load_cli().main([*args, "--root", str(root), "--report", str(tmp_path / "report.json")]) == 0
    ds = LeRobotDataset("local/aloha_sim_scripted", root=root)
    assert ds[0]["observation.images.top"].shape == (3, 72, 96)
    assert ds[0]["observation.images.left_wrist"].shape == (3, 48, 64)
    assert json.loads((tmp_path / "report.json").read_text())["saved_episodes"] == 1
