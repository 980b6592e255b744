"""Closed-loop checks that a `lerobot-eval` run executed the policy's actions, not only that it finished.

`run_eval_logging_actions` runs lerobot-eval's own entry point (`lerobot.scripts.lerobot_eval:main`,
what the `lerobot-eval` command calls) with one addition: every action handed to the vector env's
`step` is appended to a JSON-lines file. `replay_in_process` then loads the same checkpoint in the
test process, rebuilds the env from the same `--env.*` flags, resets it with the same seed and steps
it with the actions the policy selects. In a deterministic simulation both must agree at every step:
a policy loaded with different (e.g. random) weights, other processors, cameras fed under the wrong
names or an eval loop that drops actions all fail this, while an in-range success rate does not.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import draccus
import numpy as np
import torch
from cli import run_logged
from lerobot.envs.configs import EnvConfig
from lerobot.envs.factory import make_env
from lerobot.policies.factory import make_pre_post_processors
from lerobot.utils.constants import OBS_IMAGES, OBS_STATE

from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

LOG_ENV_VAR = "HETERO_ACT_TEST_ACTION_LOG"
EVAL_SEED = 1000  # lerobot-eval's default --seed: the first episode's env seed
# One episode in one env: the action log then holds that episode's actions in order.
ONE_EPISODE_ON_CPU = ["--eval.n_episodes=1", "--eval.batch_size=1", "--policy.device=cpu"]
LAUNCHER = f"""
import json, os
import gymnasium as gym
import numpy as np

_log = os.environ["{LOG_ENV_VAR}"]
_step = gym.vector.SyncVectorEnv.step


def _logged_step(self, actions):
    with open(_log, "a") as f:
        f.write(json.dumps(np.asarray(actions).tolist()) + "\\n")
    return _step(self, actions)


gym.vector.SyncVectorEnv.step = _logged_step
from lerobot.scripts.lerobot_eval import main

main()
"""


@dataclasses.dataclass
class _EnvOnly:
    env: EnvConfig


def env_config_from_args(args: list[str]) -> EnvConfig:
    """The EnvConfig lerobot-eval's parser builds from the `--env.*` flags among `args`."""
    return draccus.parse(_EnvOnly, args=[a for a in args if a.startswith("--env.")]).env


def run_eval_logging_actions(
    args: list[str], cwd: Path, log_path: Path, env: dict[str, str] | None = None
) -> tuple[str, list[np.ndarray]]:
    """Run lerobot-eval on one episode with `args`; return its log and the executed actions, in order."""
    action_log = log_path.with_suffix(".actions.jsonl")
    action_log.unlink(missing_ok=True)
    log = run_logged(
        [sys.executable, "-c", LAUNCHER, *args, *ONE_EPISODE_ON_CPU],
        cwd=cwd,
        log_path=log_path,
        env={LOG_ENV_VAR: str(action_log), **(env or {})},
    )
    actions = [np.asarray(json.loads(line))[0] for line in action_log.read_text().splitlines()]
    return log, actions


def policy_input(observation: dict) -> dict[str, torch.Tensor]:
    """A gym-aloha-layout vector-env observation as policy input (channel-first floats in [0, 1])."""
    batch = {
        f"{OBS_IMAGES}.{name}": torch.from_numpy(img).permute(0, 3, 1, 2).float() / 255
        for name, img in observation["pixels"].items()
    }
    batch[OBS_STATE] = torch.from_numpy(observation["agent_pos"]).float()
    return batch


def replay_in_process(
    checkpoint: str | Path, env_args: list[str], n_steps: int, seed: int = EVAL_SEED
) -> list[np.ndarray]:
    """The actions the checkpoint's policy takes in the env of `env_args`, reset with `seed`."""
    policy = HeteroACTPolicy.from_pretrained(checkpoint)
    preprocessor, postprocessor = make_pre_post_processors(policy.config, pretrained_path=str(checkpoint))
    envs = make_env(env_config_from_args(env_args), n_envs=1)
    vec_env = next(iter(next(iter(envs.values())).values()))
    try:
        observation, _ = vec_env.reset(seed=[seed])
        policy.reset()
        actions = []
        for _ in range(n_steps):
            with torch.inference_mode():
                action = postprocessor(policy.select_action(preprocessor(policy_input(observation))))
            actions.append(action.numpy()[0])
            observation, *_ = vec_env.step(action.numpy())
        return actions
    finally:
        vec_env.close()


def assert_same_actions(executed: list[np.ndarray], expected: list[np.ndarray], atol: float = 1e-4) -> None:
    assert len(executed) == len(expected), (len(executed), len(expected))
    for step, (got, want) in enumerate(zip(executed, expected, strict=True)):
        np.testing.assert_allclose(got, want, atol=atol, rtol=1e-4, err_msg=f"step {step}")
    distinct = {tuple(np.round(a, 5)) for a in executed}
    assert len(distinct) > 1, "every executed action is the same: the check would not tell policies apart"
