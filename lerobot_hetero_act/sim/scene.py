"""gym-aloha's MuJoCo scenes with explicit, seeded object poses and no built-in rendering.

gym-aloha's tasks place objects through a module-level global (`BOX_POSE`) or the global NumPy
RNG, and render three 480x640 images in every `get_observation`. These subclasses keep gym-aloha's
physics, action mapping and reward, but take the object poses from a seed (the same poses
`gym_aloha.env.AlohaEnv.reset(seed=...)` uses) and leave rendering to `rendering.CameraRenderer`.
"""

from __future__ import annotations

import collections
from typing import Literal

import numpy as np
from dm_control import mujoco
from dm_control.rl import control
from dm_control.suite import base
from gym_aloha.constants import ASSETS_DIR, DT, START_ARM_POSE
from gym_aloha.tasks.sim import InsertionTask, TransferCubeTask
from gym_aloha.tasks.sim_end_effector import InsertionEndEffectorTask, TransferCubeEndEffectorTask
from gym_aloha.utils import sample_box_pose, sample_insertion_pose

from lerobot_hetero_act.sim.task_spec import get_task

ControlMode = Literal["joint", "mocap"]

_OBJECT_JOINTS: dict[str, tuple[str, ...]] = {
    "transfer_cube": ("red_box_joint",),
    "insertion": ("red_peg_joint", "blue_socket_joint"),
}


def object_poses(task: str, seed: int) -> list[np.ndarray]:
    """Object poses (xyz + wxyz quaternion each; insertion: peg, socket) as gym-aloha's reset(seed) draws."""
    return [sample_box_pose(seed)] if task == "transfer_cube" else list(sample_insertion_pose(seed))


class _PlacedObjectsMixin:
    """Places objects at `self.poses` and returns a render-free observation."""

    object_joints: tuple[str, ...] = ()
    poses: list[np.ndarray]

    def place_objects(self, physics: mujoco.Physics) -> None:
        for joint, pose in zip(self.object_joints, self.poses, strict=True):
            physics.named.data.qpos[joint] = pose

    def get_observation(self, physics: mujoco.Physics) -> collections.OrderedDict:
        # Deliberately empty: callers read physics state directly and render only what they record.
        return collections.OrderedDict()


class _JointControlMixin(_PlacedObjectsMixin):
    def initialize_episode(self, physics: mujoco.Physics) -> None:
        physics.named.data.qpos[:16] = START_ARM_POSE
        np.copyto(physics.data.ctrl, START_ARM_POSE)
        self.place_objects(physics)
        base.Task.initialize_episode(self, physics)


class _MocapControlMixin(_PlacedObjectsMixin):
    def initialize_episode(self, physics: mujoco.Physics) -> None:
        self.initialize_robots(physics)  # gym-aloha: start pose, mocap aligned with the grippers
        self.place_objects(physics)
        base.Task.initialize_episode(self, physics)


class JointTransferCube(_JointControlMixin, TransferCubeTask):
    object_joints = _OBJECT_JOINTS["transfer_cube"]


class JointInsertion(_JointControlMixin, InsertionTask):
    object_joints = _OBJECT_JOINTS["insertion"]


class MocapTransferCube(_MocapControlMixin, TransferCubeEndEffectorTask):
    object_joints = _OBJECT_JOINTS["transfer_cube"]


class MocapInsertion(_MocapControlMixin, InsertionEndEffectorTask):
    object_joints = _OBJECT_JOINTS["insertion"]


_TASK_CLASSES = {
    ("transfer_cube", "joint"): (JointTransferCube, "bimanual_viperx_transfer_cube.xml"),
    ("insertion", "joint"): (JointInsertion, "bimanual_viperx_insertion.xml"),
    ("transfer_cube", "mocap"): (MocapTransferCube, "bimanual_viperx_end_effector_transfer_cube.xml"),
    ("insertion", "mocap"): (MocapInsertion, "bimanual_viperx_end_effector_insertion.xml"),
}


MOCAP_WELD_SOLIMP = (0.9, 0.95, 0.001)
"""Constraint impedance of the mocap-gripper welds used for scripted planning.

The scene's own `solimp=".25 .25 0.001"` makes the welds so soft under current MuJoCo that the
grippers lag their targets by several centimetres and the redundant wrist joints drift; the
scripted grasps then miss (0-40% success). A stiff weld makes the gripper follow the script.
Only the planning (mocap) scene is changed; recorded episodes come from the unmodified joint scene.
"""


class AlohaScene:
    """One bimanual ViperX scene, stepped at 50 Hz.

    `control="joint"` takes gym-aloha's 14-d joint action (what the eval env and the recorded
    dataset use); `control="mocap"` takes a 16-d end-effector action (xyz, wxyz quat, gripper per
    arm) and is only used to run the scripted policies.
    """

    def __init__(self, task: str, control_mode: ControlMode = "joint") -> None:
        self.task_name = get_task(task).name
        self.control_mode = control_mode
        task_cls, xml = _TASK_CLASSES[(self.task_name, control_mode)]
        self.physics = mujoco.Physics.from_xml_path(str(ASSETS_DIR / xml))
        if control_mode == "mocap":
            self.physics.model.eq_solimp[:, :3] = MOCAP_WELD_SOLIMP
        self.task = task_cls()
        self.task.poses = object_poses(self.task_name, 0)
        self._env = control.Environment(
            self.physics,
            self.task,
            time_limit=float("inf"),
            control_timestep=DT,
            n_sub_steps=None,
            flat_observation=False,
        )

    @property
    def max_reward(self) -> int:
        return int(self.task.max_reward)

    def reset(self, seed: int) -> np.ndarray:
        """Reset with the object poses of `seed`; returns the 14-d joint state."""
        self.task.poses = object_poses(self.task_name, seed)
        self._env.reset()
        return self.qpos()

    def step(self, action: np.ndarray) -> float:
        """Apply one 50 Hz action; returns gym-aloha's staged reward (0..4)."""
        return float(self._env.step(np.asarray(action, dtype=np.float64)).reward)

    def qpos(self) -> np.ndarray:
        """Joint state as gym-aloha's `agent_pos`: 6 arm joints + normalized gripper, per arm."""
        return self.task.get_qpos(self.physics)

    def mocap_poses(self) -> tuple[np.ndarray, np.ndarray]:
        """Current (left, right) mocap poses, xyz + wxyz quaternion (mocap scenes only)."""
        data = self.physics.data
        left, right = (np.concatenate([data.mocap_pos[i], data.mocap_quat[i]]) for i in (0, 1))
        return left, right
