"""`--env.type=hetero_probe`: a scripted gymnasium env for closed-loop tests of `lerobot-eval`.

Its observations are a fixed function of (seed, step) -- any cameras at any sizes, any state size --
and every action it receives is appended to `action_log` (JSON lines). A test can therefore replay
the same observation sequence through the policy in-process and require that `lerobot-eval` executed
exactly the actions the policy computes for it, which a run that merely finishes does not show.

Importing this module registers the env type and its gym id. LeRobot's CLIs only import installed
`lerobot_*` distributions, so tests run lerobot-eval's entry point after this import:
`python -c "import probe_env; from lerobot.scripts.lerobot_eval import main; main()" <args>`
with this directory on PYTHONPATH (see `run_eval_with_probe_env`).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.registration import register, registry
from lerobot.configs import FeatureType, PolicyFeature
from lerobot.envs.configs import EnvConfig
from lerobot.utils.constants import ACTION, OBS_IMAGES, OBS_STATE

GYM_NAMESPACE = "hetero_probe"
GYM_ID = f"{GYM_NAMESPACE}/Probe-v0"
TESTS_DIR = Path(__file__).resolve().parent


def parse_cameras(spec: str) -> dict[str, tuple[int, int]]:
    """ "top=64x64,left_wrist=48x64" -> {"top": (64, 64), "left_wrist": (48, 64)}."""
    cameras = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, size = item.split("=")
        height, width = (int(v) for v in size.split("x"))
        cameras[name] = (height, width)
    return cameras


def probe_observation(
    seed: int, step: int, cameras: dict[str, tuple[int, int]], state_dim: int
) -> dict[str, np.ndarray | dict[str, np.ndarray]]:
    """The observation at `step` of the episode seeded `seed` (gym-aloha's layout: pixels + agent_pos)."""
    rng = np.random.default_rng([seed, step])
    pixels = {name: rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for name, (h, w) in cameras.items()}
    return {"pixels": pixels, "agent_pos": rng.standard_normal(state_dim).astype(np.float32)}


def probe_policy_input(
    seed: int, step: int, cameras: dict[str, tuple[int, int]], state_dim: int
) -> dict[str, torch.Tensor]:
    """The same observation as a batch-of-one policy input (channel-first images in [0, 1])."""
    obs = probe_observation(seed, step, cameras, state_dim)
    batch = {
        f"{OBS_IMAGES}.{name}": torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
        for name, img in obs["pixels"].items()
    }
    batch[OBS_STATE] = torch.from_numpy(obs["agent_pos"])[None]
    return batch


class ProbeEnv(gym.Env):
    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, cameras: str, state_dim: int, action_dim: int, action_log: str = "", **_: object):
        self.cameras = parse_cameras(cameras)
        self.state_dim, self.action_dim = state_dim, action_dim
        self.action_log = action_log
        self.task = "probe"
        self.task_description = "probe"
        self.render_mode = "rgb_array"
        self.observation_space = gym.spaces.Dict(
            {
                "pixels": gym.spaces.Dict(
                    {
                        name: gym.spaces.Box(0, 255, shape=(h, w, 3), dtype=np.uint8)
                        for name, (h, w) in self.cameras.items()
                    }
                ),
                "agent_pos": gym.spaces.Box(-np.inf, np.inf, shape=(state_dim,), dtype=np.float32),
            }
        )
        self.action_space = gym.spaces.Box(-np.inf, np.inf, shape=(action_dim,), dtype=np.float32)
        self._seed, self._step = 0, 0

    def reset(self, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._seed = 0 if seed is None else int(seed)
        self._step = 0
        return probe_observation(self._seed, 0, self.cameras, self.state_dim), {}

    def step(self, action):
        if self.action_log:
            entry = {"seed": self._seed, "step": self._step, "action": np.asarray(action).tolist()}
            with open(self.action_log, "a") as f:
                f.write(json.dumps(entry) + "\n")
        self._step += 1
        obs = probe_observation(self._seed, self._step, self.cameras, self.state_dim)
        return obs, 0.0, False, False, {"is_success": False}

    def render(self):
        first = next(iter(self.cameras))
        return probe_observation(self._seed, self._step, self.cameras, self.state_dim)["pixels"][first]


if GYM_ID not in registry:
    register(id=GYM_ID, entry_point=ProbeEnv)


@EnvConfig.register_subclass("hetero_probe")
@dataclass
class ProbeEnvConfig(EnvConfig):
    task: str | None = "Probe-v0"
    fps: int = 10
    episode_length: int = 8
    cameras: str = "top=64x64"
    state_dim: int = 6
    action_dim: int = 6
    action_log: str = ""
    features: dict[str, PolicyFeature] = field(default_factory=dict)
    features_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.features = {
            ACTION: PolicyFeature(type=FeatureType.ACTION, shape=(self.action_dim,)),
            "agent_pos": PolicyFeature(type=FeatureType.STATE, shape=(self.state_dim,)),
        }
        self.features_map = {ACTION: ACTION, "agent_pos": OBS_STATE}
        for name, (height, width) in parse_cameras(self.cameras).items():
            self.features[f"pixels/{name}"] = PolicyFeature(type=FeatureType.VISUAL, shape=(height, width, 3))
            self.features_map[f"pixels/{name}"] = f"{OBS_IMAGES}.{name}"

    @property
    def package_name(self) -> str:
        return "probe_env"

    @property
    def gym_id(self) -> str:
        return GYM_ID

    @property
    def gym_kwargs(self) -> dict:
        return {
            "cameras": self.cameras,
            "state_dim": self.state_dim,
            "action_dim": self.action_dim,
            "action_log": self.action_log,
            "max_episode_steps": self.episode_length,
        }


EVAL_MAIN = "import probe_env; from lerobot.scripts.lerobot_eval import main; main()"


def eval_command(args: list[str]) -> list[str]:
    """lerobot-eval's entry point (`lerobot.scripts.lerobot_eval:main`) with this env registered."""
    return [sys.executable, "-c", EVAL_MAIN, *args]


def eval_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the eval subprocess: this directory importable."""
    path = os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]))
    return {"PYTHONPATH": path, **(extra or {})}


def read_action_log(path: Path) -> dict[tuple[int, int], list[float]]:
    """(seed, step) -> the action the env received."""
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(e["seed"], e["step"]): e["action"] for e in entries}


def replay_in_process(
    policy,
    preprocessor,
    postprocessor,
    seed: int,
    n_steps: int,
    cameras: dict[str, tuple[int, int]],
    state_dim: int,
) -> list[torch.Tensor]:
    """The actions the policy selects for the probe env's observation sequence (one episode)."""
    policy.reset()
    actions = []
    with torch.inference_mode():
        for step in range(n_steps):
            batch = preprocessor(probe_policy_input(seed, step, cameras, state_dim))
            actions.append(postprocessor(policy.select_action(batch))[0])
    return actions
