"""The two ALOHA tasks: names, gym ids, language instructions, horizons.

MuJoCo-free, so the env config and the recorder CLI can validate `task` without loading physics.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskSpec:
    name: str
    """Short name used by the recorder CLI (`--task transfer_cube`)."""
    gym_task: str
    """Gymnasium task id, as in gym-aloha and LeRobot's `--env.task`."""
    instruction: str
    """Language instruction stored as each frame's `task` and returned as `task_description`."""
    reward_stages: tuple[str, ...]
    """gym-aloha's reward levels 1..len: an episode whose max reward is r reached stages 1..r; the
    last stage is success."""
    episode_length: int = 400
    """Default horizon in control steps at 50 Hz (LeRobot's aloha env uses 400 for both tasks)."""


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            name="transfer_cube",
            gym_task="AlohaTransferCube-v0",
            instruction="Pick up the red cube with the right arm and hand it over to the left arm.",
            reward_stages=("touched", "lifted", "transfer attempted", "transferred"),
        ),
        TaskSpec(
            name="insertion",
            gym_task="AlohaInsertion-v0",
            instruction="Pick up the socket with the left arm and the peg with the right arm, then insert the peg.",
            reward_stages=("touched both", "grasped both", "peg touches socket", "inserted"),
        ),
    )
}

FPS = 50
"""gym-aloha's control rate (DT = 0.02 s)."""


def get_task(name: str, field: str = "task") -> TaskSpec:
    """Look a task up by short name or gym id, with an error that lists the choices."""
    for spec in TASKS.values():
        if name in (spec.name, spec.gym_task):
            return spec
    choices = ", ".join(f"{s.name} ({s.gym_task})" for s in TASKS.values())
    raise ValueError(f"{field}: unknown task {name!r}; valid choices: {choices}")
