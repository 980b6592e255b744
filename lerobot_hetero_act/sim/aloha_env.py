"""Gymnasium env: gym-aloha's joint-controlled tasks observed through any set of cameras.

Observations follow gym-aloha's `pixels_agent_pos` layout, `{"pixels": {cam: HxWx3 uint8},
"agent_pos": (14,)}`, which LeRobot's `preprocess_observation` turns into
`observation.images.<cam>` and `observation.state` — the keys the recorder writes. Each camera
is rendered at its own size, without shadows, and only the selected cameras are rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lerobot_hetero_act.sim.cameras import (
    DEFAULT_CAMERAS,
    ImageSize,
    parse_camera_sizes,
    parse_cameras,
    parse_image_size,
    resolve_camera_sizes,
)
from lerobot_hetero_act.sim.features import STATE_DIM
from lerobot_hetero_act.sim.rendering import CameraRenderer
from lerobot_hetero_act.sim.scene import AlohaScene
from lerobot_hetero_act.sim.task_spec import FPS, get_task

OBS_TYPES = ("pixels_agent_pos",)


class AlohaMultiCamEnv(gym.Env):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": FPS}

    def __init__(
        self,
        task: str,
        obs_type: str = "pixels_agent_pos",
        render_mode: str = "rgb_array",
        cameras: Sequence[str] | str = DEFAULT_CAMERAS,
        observation_height: int = 480,
        observation_width: int = 640,
        camera_sizes: str | Mapping[str, Any] | None = None,
        visualization_camera: str = "top",
        visualization_height: int = 480,
        visualization_width: int = 640,
        antialias: bool = False,
    ) -> None:
        super().__init__()
        spec = get_task(task)
        if obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type: unsupported {obs_type!r}; valid choices: {', '.join(OBS_TYPES)}")
        if render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode: unsupported {render_mode!r}; valid choices: rgb_array")
        self.task = spec.name
        self.task_description = spec.instruction
        self.obs_type = obs_type
        self.render_mode = render_mode
        selected = parse_cameras(cameras, "cameras")
        default_size = parse_image_size((observation_height, observation_width), "observation_height/width")
        self.camera_sizes: dict[str, ImageSize] = resolve_camera_sizes(
            selected, default_size, parse_camera_sizes(camera_sizes), "camera_sizes"
        )
        self.visualization_camera = parse_cameras([visualization_camera], "visualization_camera")[0]
        self.visualization_size = parse_image_size(
            (visualization_height, visualization_width), "visualization_height/width"
        )

        self._scene = AlohaScene(spec.name, "joint")
        self._renderer = CameraRenderer(self._scene.physics, self.camera_sizes, antialias=antialias)
        self._last_pixels: dict[str, np.ndarray] = {}

        pixels = {cam: spaces.Box(0, 255, (h, w, 3), np.uint8) for cam, (h, w) in self.camera_sizes.items()}
        agent_pos = spaces.Box(-1000.0, 1000.0, (STATE_DIM,), np.float64)
        self.observation_space = spaces.Dict({"pixels": spaces.Dict(pixels), "agent_pos": agent_pos})
        # Absolute joint targets in radians, grippers normalized to [0, 1].
        self.action_space = spaces.Box(-np.pi, np.pi, (STATE_DIM,), np.float32)

    def _observation(self) -> dict[str, Any]:
        self._last_pixels = self._renderer.render()
        return {"pixels": dict(self._last_pixels), "agent_pos": self._scene.qpos()}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        # The seed fixes the object poses exactly as gym-aloha (and the recorder) do; without
        # one, draw a pose seed from the env's generator so seeded vector envs stay reproducible.
        pose_seed = seed if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        self._scene.reset(pose_seed)
        return self._observation(), {"is_success": False}

    def step(self, action: np.ndarray):
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (STATE_DIM,):
            raise ValueError(f"action: expected shape ({STATE_DIM},), got {action.shape}")
        reward = self._scene.step(action)
        is_success = reward >= self._scene.max_reward
        return self._observation(), reward, is_success, False, {"is_success": is_success}

    def render(self) -> np.ndarray:
        """Frame for eval videos; reuses the last observation when camera and size match."""
        camera, size = self.visualization_camera, self.visualization_size
        if self.camera_sizes.get(camera) == size and camera in self._last_pixels:
            return self._last_pixels[camera]
        return self._renderer.render_camera(camera, size)

    def close(self) -> None:
        self._renderer.close()
