"""The aloha_multicam eval env, built the way lerobot-eval builds it (EnvConfig -> make_env).

Config tests run without MuJoCo; tests marked `sim` step the real simulation.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import draccus
import numpy as np
import pytest
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.envs.configs import EnvConfig
from lerobot.envs.factory import make_env, make_env_config
from lerobot.envs.utils import env_to_policy_features, preprocess_observation

from lerobot_hetero_act.sim.env_config import AlohaMultiCamEnvConfig

SIZES = {"top": (96, 128), "left_wrist": (48, 64), "right_wrist": (48, 64)}
ENV_KWARGS = {
    "cameras": list(SIZES),
    "observation_height": 96,
    "observation_width": 128,
    "camera_sizes": "left_wrist=48x64,right_wrist=48x64",
}


def test_env_config_module_is_light_to_import() -> None:
    code = "import sys, lerobot_hetero_act.sim.env_config; print('mujoco' in sys.modules, 'dm_control' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_config_features_follow_cameras_and_sizes() -> None:
    cfg = make_env_config("aloha_multicam", **ENV_KWARGS)
    assert isinstance(cfg, AlohaMultiCamEnvConfig)
    features = env_to_policy_features(cfg)
    assert features["observation.images.top"].shape == (3, 96, 128)
    assert features["observation.images.left_wrist"].shape == (3, 48, 64)
    assert features["observation.state"].shape == (14,) and features["action"].shape == (14,)


def test_cli_style_parsing_through_draccus() -> None:
    @dataclass
    class Wrapper:
        env: EnvConfig

    args = ["--env.type=aloha_multicam", "--env.task=AlohaInsertion-v0", "--env.cameras=[top,right_wrist]"]
    args += ["--env.camera_sizes=right_wrist=48x64"]
    cfg = draccus.parse(Wrapper, args=args).env
    assert cfg.cameras == ["top", "right_wrist"]
    assert cfg.features["pixels/right_wrist"].shape == (48, 64, 3)
    assert cfg.gym_id == "hetero_act_aloha/AlohaInsertion-v0"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"cameras": ["top", "wrist"]},
            "env.cameras: unknown camera 'wrist'; valid choices: top, left_wrist",
        ),
        ({"camera_sizes": "left_wrist=48"}, "env.camera_sizes[left_wrist]: expected HEIGHTxWIDTH"),
        ({"cameras": ["top"], "camera_sizes": "angle=48x64"}, "size given for camera(s) not selected: angle"),
        ({"task": "AlohaStacking-v0"}, "env.task: unknown task 'AlohaStacking-v0'; valid choices"),
    ],
)
def test_bad_config_values_fail_with_clear_message(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as exc:
        AlohaMultiCamEnvConfig(**kwargs)
    assert message in str(exc.value)


@pytest.mark.sim
def test_env_observations_match_recorded_dataset_keys(tmp_path: Path) -> None:
    from gym_aloha.utils import sample_box_pose

    from lerobot_hetero_act.sim.record import RecordConfig, record_demos

    root = tmp_path / "ds"
    record_demos(
        RecordConfig(
            task="transfer_cube",
            root=root,
            episodes=1,
            camera_sizes=SIZES,
            repo_id="test/keys",
            episode_length=5,
            use_videos=False,
            keep_failed=True,
        ),
        show_progress=False,
    )
    dataset_features = LeRobotDataset("test/keys", root=root).meta.features

    cfg = make_env_config("aloha_multicam", episode_length=3, **ENV_KWARGS)
    env = make_env(cfg, n_envs=1)["aloha_multicam"][0]
    try:
        obs, _ = env.reset(seed=[3])
        batch = preprocess_observation(obs)
        expected = {k for k in dataset_features if k.startswith("observation.")}
        assert set(batch) == expected
        for key, value in batch.items():
            h, w, c = dataset_features[key]["shape"] if key.startswith("observation.images") else (0, 0, 0)
            assert value.shape == ((1, c, h, w) if c else (1, 14))
        assert env.call("task_description")[0] == LeRobotDataset("test/keys", root=root)[0]["task"]
        assert env.call("_max_episode_steps")[0] == 3

        # Same seed -> same cube pose as gym-aloha's own env.
        scene = env.envs[0].unwrapped._scene
        np.testing.assert_allclose(scene.physics.named.data.qpos["red_box_joint"][:2], sample_box_pose(3)[:2])

        for _ in range(3):
            obs, _, terminated, truncated, info = env.step(np.asarray([obs["agent_pos"][0]]))
        assert truncated[0] and not terminated[0]  # TimeLimit from episode_length
        assert not info["final_info"]["is_success"][0]
        assert env.call("render")[0].shape == (480, 640, 3)
    finally:
        env.close()


@pytest.mark.sim
def test_scripted_episode_through_gym_env_reports_success() -> None:
    from lerobot_hetero_act.sim.scene import AlohaScene
    from lerobot_hetero_act.sim.scripted_rollout import plan_joint_actions

    actions = plan_joint_actions(AlohaScene("transfer_cube", "mocap"), seed=0, episode_length=400)
    cfg = make_env_config(
        "aloha_multicam",
        cameras=["top"],
        observation_height=24,
        observation_width=32,
        visualization_camera="top",
    )
    env = make_env(cfg, n_envs=1)["aloha_multicam"][0]
    try:
        env.reset(seed=[0])
        for action in actions:
            _, _, terminated, _, info = env.step(action[None])
            if terminated[0]:
                break
        # As in lerobot-eval's rollout: on termination the vector env auto-resets the sub-env and
        # reports the finished episode's info under "final_info".
        assert terminated[0] and info["final_info"]["is_success"][0]
        assert env.call("render")[0].shape == (480, 640, 3)
    finally:
        env.close()
