"""Small synthetic multi-camera LeRobotDatasets written with LeRobot's real recording API.

The tests train the real `lerobot-train` CLI on these, so they must be genuine v3 datasets
(`LeRobotDataset.create` / `add_frame` / `save_episode` / `finalize`), not hand-made parquet files.
The data is built to be learnable: the state moves smoothly along a sinusoid, every camera shows a
coloured square whose position is a function of that state (a different colour and mapping per
camera), and the action is a smooth function of the state, so a policy can reduce its loss.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.utils.constants import ACTION, OBS_STATE

from lerobot_hetero_act.camera_roles import camera_key
from lerobot_hetero_act.sim.features import camera_features
from lerobot_hetero_act.video_backend import video_backend

# One distinct RGB colour per camera, cycled if there are more cameras than colours.
CAMERA_COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 40, 40),
    (40, 200, 60),
    (50, 80, 230),
    (230, 200, 40),
    (200, 50, 200),
)
TASK = "move the coloured squares"
ALOHA_CAMERAS_REPO_ID = "local/tiny_aloha_cameras"
ALOHA_TOP_REPO_ID = "local/tiny_aloha_top"


def _features(
    cameras: dict[str, tuple[int, int]], state_dim: int, action_dim: int, use_videos: bool
) -> dict[str, dict]:
    """LeRobot feature spec: one RGB camera per entry plus float32 state and action vectors."""
    features: dict[str, dict] = {
        OBS_STATE: {
            "dtype": "float32",
            "shape": (state_dim,),
            "names": [f"state_{i}" for i in range(state_dim)],
        },
        ACTION: {
            "dtype": "float32",
            "shape": (action_dim,),
            "names": [f"action_{i}" for i in range(action_dim)],
        },
    }
    features.update(camera_features(cameras, use_videos))
    return features


def render_square(
    state: np.ndarray, height: int, width: int, colour: tuple[int, int, int], camera_index: int
) -> np.ndarray:
    """An HxWx3 uint8 image with a coloured square placed by two state dimensions (camera-specific).

    Each camera reads a different pair of state dimensions, so the cameras carry different (but
    state-dependent) information, which is what a multi-camera policy should learn to combine.
    """
    image = np.full((height, width, 3), 20, dtype=np.uint8)
    dim_x = (2 * camera_index) % state.shape[0]
    dim_y = (2 * camera_index + 1) % state.shape[0]
    side = max(4, min(height, width) // 5)
    # The state lives in [-1, 1]; map it to the square's top-left corner.
    x = round(float(np.clip(state[dim_x], -1, 1) + 1) / 2 * (width - side))
    y = round(float(np.clip(state[dim_y], -1, 1) + 1) / 2 * (height - side))
    image[y : y + side, x : x + side] = colour
    return image


def write_tiny_dataset(
    root: str | Path,
    cameras: dict[str, tuple[int, int]],
    n_episodes: int,
    frames_per_episode: int,
    fps: int,
    state_dim: int = 14,
    action_dim: int = 14,
    seed: int = 0,
    use_videos: bool = False,
    repo_id: str = "local/tiny_multicam",
    depth_cameras: dict[str, tuple[int, int]] | None = None,
) -> Path:
    """Write a tiny v3 LeRobotDataset at `root` (which must not exist yet) and return its path.

    Args:
        cameras: camera short name -> (height, width); keys become `observation.images.<name>`.
        use_videos: store cameras as MP4 (PyAV encoding) instead of embedded PNG images.
        depth_cameras: more cameras, each a 1-channel uint16 image (LeRobot's single-channel type,
            stored as PNG): the square's mask in millimetres.
    """
    depth_cameras = depth_cameras or {}
    root = Path(root)
    rng = np.random.default_rng(seed)
    features = _features(cameras, state_dim, action_dim, use_videos)
    for name, (height, width) in depth_cameras.items():
        features[camera_key(name)] = {
            "dtype": "image",
            "shape": (height, width, 1),
            "names": ["height", "width", "channels"],
        }
    dataset = LeRobotDataset.create(
        repo_id=repo_id,
        fps=fps,
        features=features,
        root=root,
        robot_type="synthetic",
        use_videos=use_videos,
        video_backend=video_backend(),
    )
    # A fixed linear map makes the action a smooth, learnable function of the state.
    mixing = rng.normal(scale=0.5, size=(action_dim, state_dim)).astype(np.float32)
    for _ in range(n_episodes):
        phase = rng.uniform(0, 2 * np.pi, size=state_dim)
        speed = rng.uniform(0.5, 1.5, size=state_dim)
        for t in range(frames_per_episode):
            time = t / fps
            state = np.sin(phase + speed * time).astype(np.float32)
            next_state = np.sin(phase + speed * (time + 1 / fps)).astype(np.float32)
            action = np.tanh(mixing @ next_state).astype(np.float32)
            frame: dict = {OBS_STATE: state, ACTION: action, "task": TASK}
            for index, (name, (height, width)) in enumerate(cameras.items()):
                colour = CAMERA_COLOURS[index % len(CAMERA_COLOURS)]
                frame[camera_key(name)] = render_square(state, height, width, colour, index)
            for index, (name, (height, width)) in enumerate(depth_cameras.items(), start=len(cameras)):
                mask = render_square(state, height, width, (255, 255, 255), index)[..., :1] > 0
                frame[camera_key(name)] = (mask * 800).astype(np.uint16)
            dataset.add_frame(frame)
        dataset.save_episode()
    dataset.finalize()
    return root
