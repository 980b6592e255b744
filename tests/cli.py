"""One way for the tests to run a command line: offline (the environment of
bench.offline_run, the one the demo and the benchmarks use), logged to a file, and on
failure an assertion that shows the log's tail without torchcodec's long (harmless) loading traceback.
Also the tiny-policy `lerobot-train` flags every CLI test trains with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.offline_run import offline_env
from policy_factory import TINY, TINY_ROLE_GRIDS, role_grids_arg

BIN_DIR = Path(sys.executable).parent  # the venv's bin dir (not resolved: keep the venv's symlink)


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """offline_env() with W&B off, plus `extra`: the environment of every command a test runs."""
    return {**offline_env(), "WANDB_MODE": "disabled", **(extra or {})}


OFFLINE_ENV = cli_env()  # for callers that merge it into os.environ themselves


def tiny_policy_args(
    policy_type: str = "hetero_act",
    role_grids: dict[str, list[int]] | None = TINY_ROLE_GRIDS,
    **overrides: object,
) -> list[str]:
    """lerobot-train flags for tests/policy_factory.py's TINY policy; `overrides` are more `--policy.*`.

    `pretrained_backbone_weights=null` is how draccus spells None (no torchvision download offline);
    `push_to_hub=false` because lerobot-train 0.6.1 otherwise demands `--policy.repo_id`. hetero_act
    gets role grids that the tests' small images fill (`role_grids=None`: the design's defaults).
    `n_action_steps` follows `chunk_size` unless given.
    """
    flags = {**TINY, "pretrained_backbone_weights": None, "push_to_hub": False, **overrides}
    if "chunk_size" in overrides and "n_action_steps" not in overrides:
        flags["n_action_steps"] = overrides["chunk_size"]
    spelled = {None: "null", True: "true", False: "false"}
    args = [f"--policy.type={policy_type}"]
    args += [
        f"--policy.{k}={spelled.get(v, v) if isinstance(v, bool | None) else v}" for k, v in flags.items()
    ]
    return args + ([role_grids_arg(role_grids)] if policy_type == "hetero_act" and role_grids else [])


def log_tail(log: str, n_lines: int = 60) -> str:
    """Last lines of a CLI log, minus torchcodec's loading noise."""
    lines = [line for line in log.splitlines() if "torchcodec" not in line and "libav" not in line]
    return "\n".join(lines[-n_lines:])


def run_logged(
    cmd: list[str], cwd: Path, log_path: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> str:
    """Run `cmd` offline (extra `env` on top); write its output to `log_path`; assert it succeeded."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=cli_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    log_path.write_text(proc.stdout)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}; log tail:\n{log_tail(proc.stdout)}"
    )
    return proc.stdout


def run_cli(name: str, args: list[str], cwd: Path, log_path: Path, timeout: float = 600) -> str:
    """Run a console script of this venv (`lerobot-train`, `lerobot-eval`) through run_logged."""
    return run_logged([str(BIN_DIR / name), *args], cwd, log_path, timeout=timeout)
