"""One way for the tests to run a command line: offline, logged to a file, and on failure an assertion
that shows the log's tail without torchcodec's long (harmless) loading traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "MUJOCO_GL": "egl", "WANDB_MODE": "disabled"}


def log_tail(log: str, n_lines: int = 60) -> str:
    """Last lines of a CLI log, minus torchcodec's loading noise."""
    lines = [line for line in log.splitlines() if "torchcodec" not in line and "libav" not in line]
    return "\n".join(lines[-n_lines:])


def run_logged(
    cmd: list[str], cwd: Path, log_path: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> str:
    """Run `cmd` offline (extra `env` on top); write its output to `log_path`; assert it succeeded."""
    full_env = {**os.environ, **OFFLINE_ENV, **(env or {})}
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=full_env,
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
