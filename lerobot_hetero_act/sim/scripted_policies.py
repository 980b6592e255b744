"""Scripted end-effector policies for the two ALOHA tasks (open loop, from the initial object poses).

Each arm follows a piecewise-linear path through timed waypoints (position, orientation, gripper).
The plans are written for gym-aloha's 400-step horizon and stretched or squeezed linearly for
other episode lengths, so short test episodes still run through every phase.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import mujoco
import numpy as np

REFERENCE_LENGTH = 400
"""Horizon (steps at 50 Hz) the waypoint times below are written for."""

GRIPPER_CLOSED = 0.0
GRIPPER_OPEN = 1.0

# Tuned on gym-aloha 0.1.5 / MuJoCo 3.8 (see scripts/measure_render_fps.py success). The mocap
# point sits about 13 cm ahead of the gripper link, near the fingertips.
TRANSFER_GRASP_PITCH_DEG = -60.0
"""Right gripper pitch for the top-down cube grasp."""
TRANSFER_GRASP_DZ = -0.035
"""Grasp height relative to the sampled cube pose (z=0.05; the cube rests with its centre at 0.02)."""
INSERTION_GRASP_PITCH_DEG = 60.0
INSERTION_GRASP_DZ = -0.03
INSERTION_PEG_LIFT = 0.00715
"""Peg raised relative to the socket so the peg's axis meets the socket hole."""


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of wxyz quaternions (b applied in a's frame), MuJoCo's mju_mulQuat."""
    out = np.empty(4)
    mujoco.mju_mulQuat(out, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return out


def quat_from_axis_angle(axis: tuple[float, float, float], degrees: float) -> np.ndarray:
    """wxyz quaternion of a rotation by `degrees` about `axis`, MuJoCo's mju_axisAngle2Quat."""
    axis_arr = np.asarray(axis, dtype=np.float64)
    out = np.empty(4)
    mujoco.mju_axisAngle2Quat(out, axis_arr / np.linalg.norm(axis_arr), np.deg2rad(degrees))
    return out


@dataclass(frozen=True)
class Waypoint:
    t: float
    """Time in steps of the 400-step reference horizon."""
    xyz: np.ndarray
    quat: np.ndarray
    gripper: float
    """Normalized gripper command: 0 closed, 1 open."""


class ArmPath:
    """Linear interpolation through waypoints (quaternions lerped then normalized: the turns are small)."""

    def __init__(self, waypoints: list[Waypoint], time_scale: float) -> None:
        if any(b.t <= a.t for a, b in itertools.pairwise(waypoints)):
            raise ValueError("waypoint times must increase")
        self._times = np.array([w.t for w in waypoints]) * time_scale
        self._poses = np.stack([np.concatenate([w.xyz, w.quat, [w.gripper]]) for w in waypoints])

    def __call__(self, step: int) -> np.ndarray:
        """8-d mocap command at `step`: xyz, wxyz quaternion, gripper."""
        command = np.array([np.interp(step, self._times, column) for column in self._poses.T])
        command[3:7] /= np.linalg.norm(command[3:7])
        return command


class ScriptedPolicy:
    """Both arms' paths; call with a step index to get gym-aloha's 16-d end-effector action."""

    def __init__(self, left: ArmPath, right: ArmPath) -> None:
        self.left = left
        self.right = right

    def __call__(self, step: int) -> np.ndarray:
        return np.concatenate([self.left(step), self.right(step)])


def _transfer_cube(
    left_start: np.ndarray, right_start: np.ndarray, box: np.ndarray
) -> tuple[list[Waypoint], list[Waypoint]]:
    """Right arm picks the cube and brings it to a hand-over point; left arm takes it there."""
    box_xyz = box[:3]
    handover = np.array([0.0, 0.5, 0.25])
    # Right gripper pitched down 60 degrees to grasp from above; left gripper rolled 90 degrees
    # so its fingers close across the cube held by the right gripper.
    pick = quat_multiply(right_start[3:], quat_from_axis_angle((0, 1, 0), TRANSFER_GRASP_PITCH_DEG))
    receive = quat_from_axis_angle((1, 0, 0), 90)
    left_wait = handover + np.array([-0.1, 0.0, -0.02])
    left_grasp = handover + np.array([0.02, 0.0, -0.02])
    grasp = box_xyz + np.array([0.0, 0.0, TRANSFER_GRASP_DZ])
    above = box_xyz + np.array([0.0, 0.0, 0.08])
    right = [
        Waypoint(0, right_start[:3], right_start[3:], GRIPPER_CLOSED),
        Waypoint(90, above, pick, GRIPPER_OPEN),  # above the cube
        Waypoint(110, above, pick, GRIPPER_OPEN),  # let the arm settle before descending
        Waypoint(150, grasp, pick, GRIPPER_OPEN),  # fingers around the cube
        Waypoint(165, grasp, pick, GRIPPER_OPEN),
        Waypoint(195, grasp, pick, GRIPPER_CLOSED),  # grasp
        Waypoint(210, grasp, pick, GRIPPER_CLOSED),
        Waypoint(240, box_xyz + np.array([0.0, 0.0, 0.12]), pick, GRIPPER_CLOSED),  # lift straight up
        Waypoint(270, handover + np.array([0.05, 0.0, 0.0]), pick, GRIPPER_CLOSED),
        Waypoint(285, handover, pick, GRIPPER_CLOSED),  # present the cube
        Waypoint(330, handover, pick, GRIPPER_CLOSED),
        Waypoint(345, handover, pick, GRIPPER_OPEN),  # release once the left hand holds it
        Waypoint(375, handover + np.array([0.1, 0.0, 0.0]), pick, GRIPPER_OPEN),  # back off
        Waypoint(400, handover + np.array([0.1, 0.0, 0.0]), pick, GRIPPER_OPEN),
    ]
    left = [
        Waypoint(0, left_start[:3], left_start[3:], GRIPPER_CLOSED),
        Waypoint(100, left_wait, receive, GRIPPER_OPEN),  # wait beside the hand-over point
        Waypoint(285, left_wait, receive, GRIPPER_OPEN),
        Waypoint(305, left_grasp, receive, GRIPPER_OPEN),  # slide fingers around the cube
        Waypoint(330, left_grasp, receive, GRIPPER_CLOSED),  # grasp
        Waypoint(350, left_grasp, receive, GRIPPER_CLOSED),
        Waypoint(380, left_wait, left_start[3:], GRIPPER_CLOSED),  # pull the cube away
        Waypoint(400, left_wait, left_start[3:], GRIPPER_CLOSED),
    ]
    return left, right


def _insertion(
    left_start: np.ndarray, right_start: np.ndarray, peg: np.ndarray, socket: np.ndarray
) -> tuple[list[Waypoint], list[Waypoint]]:
    """Left arm lifts the socket, right arm the peg; both meet mid-air and push the peg in."""
    meet = np.array([0.0, 0.5, 0.15])
    right_pick = quat_multiply(right_start[3:], quat_from_axis_angle((0, 1, 0), -INSERTION_GRASP_PITCH_DEG))
    left_pick = quat_multiply(left_start[3:], quat_from_axis_angle((0, 1, 0), INSERTION_GRASP_PITCH_DEG))

    def arm(start: np.ndarray, obj: np.ndarray, quat: np.ndarray, side: float, lift: float) -> list[Waypoint]:
        xyz = obj[:3]
        above = xyz + np.array([0.0, 0.0, 0.08])
        grasp = xyz + np.array([0.0, 0.0, INSERTION_GRASP_DZ])
        return [
            Waypoint(0, start[:3], start[3:], GRIPPER_CLOSED),
            Waypoint(100, above, quat, GRIPPER_OPEN),  # above the object
            Waypoint(120, above, quat, GRIPPER_OPEN),  # let the arm settle before descending
            Waypoint(160, grasp, quat, GRIPPER_OPEN),  # fingers around it
            Waypoint(170, grasp, quat, GRIPPER_OPEN),
            Waypoint(200, grasp, quat, GRIPPER_CLOSED),  # grasp
            Waypoint(215, grasp, quat, GRIPPER_CLOSED),
            Waypoint(245, xyz + np.array([0.0, 0.0, 0.1]), quat, GRIPPER_CLOSED),  # lift straight up
            Waypoint(285, meet + np.array([side * 0.1, 0.0, lift]), quat, GRIPPER_CLOSED),  # face each other
            Waypoint(300, meet + np.array([side * 0.1, 0.0, lift]), quat, GRIPPER_CLOSED),  # settle, aligned
            Waypoint(350, meet + np.array([side * 0.05, 0.0, lift]), quat, GRIPPER_CLOSED),  # insert
            Waypoint(400, meet + np.array([side * 0.05, 0.0, lift]), quat, GRIPPER_CLOSED),  # hold
        ]

    return arm(left_start, socket, left_pick, -1.0, 0.0), arm(
        right_start, peg, right_pick, 1.0, INSERTION_PEG_LIFT
    )


def make_scripted_policy(
    task: str,
    left_start: np.ndarray,
    right_start: np.ndarray,
    poses: list[np.ndarray],
    episode_length: int = REFERENCE_LENGTH,
) -> ScriptedPolicy:
    """Policy for `task` from the initial mocap poses (xyz + wxyz) and object poses of one episode."""
    if task == "transfer_cube":
        left, right = _transfer_cube(left_start, right_start, poses[0])
    elif task == "insertion":
        left, right = _insertion(left_start, right_start, poses[0], poses[1])
    else:
        raise ValueError(f"task: no scripted policy for {task!r}; valid choices: transfer_cube, insertion")
    scale = episode_length / REFERENCE_LENGTH
    return ScriptedPolicy(ArmPath(left, scale), ArmPath(right, scale))
