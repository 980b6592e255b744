"""Scripted demonstration = end-effector rollout, then the same motion replayed in joint space.

The scripted policy drives gym-aloha's mocap scene; the arm joint positions it produces (plus the
scripted gripper commands) become a joint-space action sequence. Replaying that sequence in the
joint-controlled scene (the physics the eval env uses) yields the observations and actions that
are recorded, and its reward decides success. MuJoCo is deterministic, so replaying the same
actions from the same seed reproduces the same episode; the recorder relies on that to simulate
cheaply first and render only the successful episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lerobot_hetero_act.sim.scene import AlohaScene, object_poses
from lerobot_hetero_act.sim.scripted_policies import make_scripted_policy

_GRIPPER_INDICES = [6, 13]

FrameCallback = Callable[[int, np.ndarray, np.ndarray], None]
"""Called as (step, state, action) before each replay step; the scene holds that step's state."""


@dataclass(frozen=True)
class ReplayResult:
    seed: int
    max_reward: float
    success: bool
    rewards: np.ndarray


def plan_joint_actions(mocap_scene: AlohaScene, seed: int, episode_length: int) -> np.ndarray:
    """Run the scripted policy in the mocap scene; returns (episode_length, 14) joint actions.

    Action t is the joint configuration the mocap scene reached after its step t, i.e. where the
    arm should be one step later, with the gripper entries replaced by the scripted gripper
    command (the measured finger position lags the command and would under-grip on replay).
    """
    mocap_scene.reset(seed)
    left_start, right_start = mocap_scene.mocap_poses()
    poses = object_poses(mocap_scene.task_name, seed)
    policy = make_scripted_policy(mocap_scene.task_name, left_start, right_start, poses, episode_length)
    actions = np.empty((episode_length, 14), dtype=np.float64)
    for step in range(episode_length):
        command = policy(step)
        mocap_scene.step(command)
        actions[step] = mocap_scene.qpos()
        actions[step, _GRIPPER_INDICES] = command[[7, 15]]  # the gripper entries of the 16-d command
    return actions


def replay(
    joint_scene: AlohaScene, seed: int, actions: np.ndarray, on_frame: FrameCallback | None = None
) -> ReplayResult:
    """Replay joint actions from the seed's initial state; success = max reward reached."""
    state = joint_scene.reset(seed)
    rewards = np.empty(len(actions))
    for step, action in enumerate(actions):
        if on_frame is not None:
            on_frame(step, state, action)
        rewards[step] = joint_scene.step(action)
        state = joint_scene.qpos()
    max_reward = float(rewards.max()) if len(rewards) else 0.0
    return ReplayResult(seed, max_reward, max_reward >= joint_scene.max_reward, rewards)


def scripted_episode(
    mocap_scene: AlohaScene, joint_scene: AlohaScene, seed: int, episode_length: int
) -> tuple[np.ndarray, ReplayResult]:
    """Plan and replay one episode without rendering (fast): the success check before recording."""
    actions = plan_joint_actions(mocap_scene, seed, episode_length)
    return actions, replay(joint_scene, seed, actions)
