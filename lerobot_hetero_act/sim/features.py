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


def camera_features(camera_sizes: Mapping[str, ImageSize], use_videos: bool) -> dict[str, dict]:
    """One `LeRobotDataset` image (or video) feature per camera, keyed `observation.images.<cam>`."""
    kind = "video" if use_videos else "image"
    return {
        camera_key(cam): {"dtype": kind, "shape": (h, w, 3), "names": ["height", "width", "channels"]}
        for cam, (h, w) in camera_sizes.items()
    }


def dataset_features(camera_sizes: Mapping[str, ImageSize], use_videos: bool) -> dict[str, dict]:
    """Features for `LeRobotDataset.create`: state, action and one image stream per camera."""
    return {
        OBS_STATE: {"dtype": "float32", "shape": (STATE_DIM,), "names": list(MOTOR_NAMES)},
        ACTION: {"dtype": "float32", "shape": (STATE_DIM,), "names": list(MOTOR_NAMES)},
        **camera_features(camera_sizes, use_videos),
    }
