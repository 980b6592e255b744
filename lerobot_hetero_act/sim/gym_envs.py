"""Registers the multi-camera ALOHA envs with gymnasium as `hetero_act_aloha/<task>`.

LeRobot's `aloha_multicam` env config names this module as its `package_name` and the ids below
as its `gym_id` (gymnasium namespaces cannot contain dots, so the namespace is not the module
path); LeRobot imports this module when the id is not registered yet, then calls `gym.make`.
Importing it is cheap: the MuJoCo-backed env class is only loaded by `gym.make`.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from lerobot_hetero_act.sim.task_spec import TASKS

NAMESPACE = "hetero_act_aloha"
ENTRY_POINT = "lerobot_hetero_act.sim.aloha_env:AlohaMultiCamEnv"


def env_id(gym_task: str) -> str:
    return f"{NAMESPACE}/{gym_task}"


for _spec in TASKS.values():
    if env_id(_spec.gym_task) not in registry:
        register(
            id=env_id(_spec.gym_task),
            entry_point=ENTRY_POINT,
            max_episode_steps=_spec.episode_length,
            # Rendered frames can differ in the last bits between runs (as in gym-aloha).
            nondeterministic=True,
            kwargs={"task": _spec.name},
        )
