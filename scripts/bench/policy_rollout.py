"""Closed-loop episodes of a policy in `aloha_multicam`, with the env built from the policy's cameras.

`lerobot-eval` is the tool for success rates; this loop exists for what it cannot do: run two
backends of one policy (PyTorch and onnxruntime) on the same seeds and compare every action, or
capture the policy's internals at chosen steps. Observations go through LeRobot's own
`preprocess_observation`, as in `lerobot-eval`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lerobot_hetero_act.camera_roles import camera_short_name
from lerobot_hetero_act.sim.cameras import format_camera_sizes
from lerobot_hetero_act.sim.gym_envs import env_id
from lerobot_hetero_act.sim.task_spec import get_task


@dataclass
class Episode:
    seed: int
    actions: list[np.ndarray] = field(default_factory=list)
    call_ms: list[float] = field(default_factory=list)
    """Wall time of every action call (the chunk-predicting ones are the slow ones)."""
    max_reward: float = 0.0
    success: bool = False


def make_policy_env(config: Any, task: str):
    """The aloha_multicam env rendering exactly the policy's cameras at the policy's image sizes."""
    import gymnasium as gym

    sizes = {camera_short_name(k): tuple(f.shape[1:]) for k, f in config.image_features.items()}
    return gym.make(
        env_id(get_task(task).gym_task),
        cameras=list(sizes),
        camera_sizes=format_camera_sizes(sizes),
        obs_type="pixels_agent_pos",
    )


def run_episode(
    env,
    act: Callable[[dict[str, Any]], np.ndarray],
    seed: int,
    reset: Callable[[], None] | None = None,
    max_steps: int | None = None,
) -> Episode:
    """One episode (or its first `max_steps` steps): `act` maps LeRobot's preprocessed observation
    (batch 1) to one action (action_dim,)."""
    from lerobot.envs.utils import preprocess_observation

    episode = Episode(seed)
    raw, _ = env.reset(seed=seed)
    if reset is not None:
        reset()
    while True:
        observation = preprocess_observation(raw)
        start = time.perf_counter()
        action = np.asarray(act(observation), dtype=np.float32).reshape(-1)
        episode.call_ms.append(1000 * (time.perf_counter() - start))
        episode.actions.append(action)
        raw, reward, terminated, truncated, info = env.step(action)
        episode.max_reward = max(episode.max_reward, float(reward))
        episode.success = episode.success or bool(info.get("is_success", False))
        if terminated or truncated or len(episode.actions) == max_steps:
            return episode
