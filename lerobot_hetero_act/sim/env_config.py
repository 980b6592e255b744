"""`--env.type=aloha_multicam`: LeRobot env config for the multi-camera ALOHA sim envs.

Mirrors LeRobot's own `aloha` config (task, fps, episode_length, obs_type, features,
features_map, gym_kwargs) and adds the camera selection and per-camera image sizes, with the same
syntax as `scripts/record_sim_demos.py`, e.g.
`--env.cameras='[top,left_wrist,right_wrist]' --env.camera_sizes=left_wrist=120x160,right_wrist=120x160`.
Light to import (no MuJoCo): the package's `__init__` imports it to register the env type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lerobot.configs import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig
from lerobot.utils.constants import ACTION, OBS_STATE

from lerobot_hetero_act.camera_roles import camera_key
from lerobot_hetero_act.sim.cameras import (
    DEFAULT_CAMERAS,
    parse_camera_sizes,
    parse_cameras,
    parse_image_size,
    resolve_camera_sizes,
)
from lerobot_hetero_act.sim.features import STATE_DIM
from lerobot_hetero_act.sim.gym_envs import NAMESPACE as GYM_NAMESPACE
from lerobot_hetero_act.sim.task_spec import FPS, get_task

# Importing gym_envs (cheap: registrations only) registers the gym ids in every process that
# knows this config, including AsyncVectorEnv workers that unpickle it.
GYM_PACKAGE = "lerobot_hetero_act.sim.gym_envs"


@EnvConfig.register_subclass("aloha_multicam")
@dataclass
class AlohaMultiCamEnvConfig(EnvConfig):
    task: str | None = "AlohaTransferCube-v0"
    fps: int = FPS
    episode_length: int = 400
    obs_type: str = "pixels_agent_pos"
    render_mode: str = "rgb_array"
    cameras: list[str] = field(default_factory=lambda: list(DEFAULT_CAMERAS))
    observation_height: int = 480
    observation_width: int = 640
    camera_sizes: str = ""
    """Per-camera overrides of observation_height/width: "left_wrist=120x160,right_wrist=120x160"."""
    visualization_camera: str = "top"
    visualization_height: int = 480
    visualization_width: int = 640
    antialias: bool = False
    """Multisample anti-aliasing; match the setting the training data was recorded with."""
    features: dict[str, PolicyFeature] = field(
        default_factory=lambda: {ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(STATE_DIM,))}
    )
    features_map: dict[str, str] = field(default_factory=lambda: {ACTION: ACTION, "agent_pos": OBS_STATE})

    def __post_init__(self) -> None:
        self.task = get_task(self.task or "", "env.task").gym_task
        if self.obs_type != "pixels_agent_pos":
            raise ValueError(f"env.obs_type: unsupported {self.obs_type!r}; valid choices: pixels_agent_pos")
        self.cameras = parse_cameras(self.cameras, "env.cameras")
        parse_cameras([self.visualization_camera], "env.visualization_camera")
        default_size = parse_image_size(
            (self.observation_height, self.observation_width), "env.observation_height/width"
        )
        overrides = parse_camera_sizes(self.camera_sizes, "env.camera_sizes")
        sizes = resolve_camera_sizes(self.cameras, default_size, overrides, "env.camera_sizes")
        # Rebuild the camera entries so a config loaded from JSON with other cameras cannot keep stale ones.
        for key in [k for k in self.features if k.startswith("pixels/")]:
            del self.features[key]
            self.features_map.pop(key, None)
        self.features["agent_pos"] = PolicyFeature(type=FeatureType.STATE, shape=(STATE_DIM,))
        self.features_map["agent_pos"] = OBS_STATE
        for camera, (height, width) in sizes.items():
            self.features[f"pixels/{camera}"] = PolicyFeature(FeatureType.VISUAL, (height, width, 3))
            self.features_map[f"pixels/{camera}"] = camera_key(camera)

    @property
    def package_name(self) -> str:
        """Module LeRobot imports to register `gym_id` (see gym_envs.py)."""
        return GYM_PACKAGE

    @property
    def gym_id(self) -> str:
        return f"{GYM_NAMESPACE}/{self.task}"

    @property
    def gym_kwargs(self) -> dict:
        names = (
            "obs_type",
            "render_mode",
            "cameras",
            "observation_height",
            "observation_width",
            "camera_sizes",
        )
        names += ("visualization_camera", "visualization_height", "visualization_width", "antialias")
        return {"max_episode_steps": self.episode_length} | {name: getattr(self, name) for name in names}
