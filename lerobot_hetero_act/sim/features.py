"""Feature keys and dataset schema shared by the recorder and the eval env.

The recorder writes `observation.images.<cam>`, `observation.state` and `action`; the eval env
returns `{"pixels": {cam: ...}, "agent_pos": ...}`, which LeRobot's `preprocess_observation`
renames to the same keys. Both sides take their names from here so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping

from lerobot.utils.constants import ACTION, OBS_STATE

from lerobot_hetero_act.camera_roles import camera_key
from lerobot_hetero_act.sim.cameras import ImageSize

_ARM_JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")
MOTOR_NAMES: list[str] = [f"{side}_{joint}" for side in ("left", "right") for joint in _ARM_JOINTS]
"""The 14 joint names of LeRobot's aloha datasets: 6 arm joints + normalized gripper, left then right."""

STATE_DIM = len(MOTOR_NAMES)


def dataset_features(camera_sizes: Mapping[str, ImageSize], use_videos: bool) -> dict[str, dict]:
    """Features for `LeRobotDataset.create`: state, action and one image stream per camera."""
    features: dict[str, dict] = {
        OBS_STATE: {"dtype": "float32", "shape": (STATE_DIM,), "names": list(MOTOR_NAMES)},
        ACTION: {"dtype": "float32", "shape": (STATE_DIM,), "names": list(MOTOR_NAMES)},
    }
    for camera, (height, width) in camera_sizes.items():
        features[camera_key(camera)] = {
            "dtype": "video" if use_videos else "image",
            "shape": (height, width, 3),
            "names": ["height", "width", "channels"],
        }
    return features
