"""Run LeRobot's and this project's command lines as subprocesses, offline, with a log file.

One runner for the demo and the benchmarks: every stage is the real `lerobot-train`, `lerobot-eval` or
recorder command a user would type, so what they report is what the user gets. The environment is
offline (`HF_HUB_OFFLINE=1`), renders MuJoCo through EGL, and can pin the number of torch threads
(two torch processes at once on a 2-core machine each run several times slower unless each gets one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout: scripts/bench/ is not installed
BIN = Path(sys.executable).parent

# Lines of a stage's output worth echoing to the terminal (results, errors, LeRobot's log lines);
# progress-bar lines (tqdm) are echoed at most every PROGRESS_BAR_PERIOD_S seconds.
RESULT_WORDS = ("step:", "Error", "success", "Checkpoint", "Saved", "Traceback")
PROGRESS_BAR_MARK = "%|"
PROGRESS_BAR_PERIOD_S = 30.0


DEADLINE_GRACE_S = 10.0
"""Seconds between SIGTERM and SIGKILL for a command stopped at its deadline."""


class StageFailedError(RuntimeError):
    """A subprocess stage exited non-zero; the message holds the command and the log's last lines."""


def offline_env(threads: int | None = None) -> dict[str, str]:
    """os.environ plus the offline/rendering settings every stage runs with."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"),
        "PYTHONUNBUFFERED": "1",
    }
    if threads is not None:
        env.update({"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
    return env


def lerobot_command(name: str) -> str:
    """Path of a LeRobot console script (`lerobot-train`, `lerobot-eval`) of this interpreter's env;
    "python" is this interpreter."""
    return sys.executable if name == "python" else str(BIN / name)


def _default_echo() -> Callable[[str], bool]:
    last_bar = [-PROGRESS_BAR_PERIOD_S]

    def echo(line: str) -> bool:
        if PROGRESS_BAR_MARK in line:
            now = time.monotonic()
            if now - last_bar[0] >= PROGRESS_BAR_PERIOD_S or "100%|" in line:
                last_bar[0] = now
                return True
            return False
        return any(word in line for word in RESULT_WORDS)

    return echo


def run_logged(
    cmd: Sequence[str],
    log_path: Path,
    *,
    threads: int | None = None,
    echo: Callable[[str], bool] | None = None,
    on_line: Callable[[str], None] | None = None,
    append: bool = False,
    cwd: Path = REPO,
    deadline: float | None = None,
) -> float:
    """Run `cmd`, writing its output to `log_path`; return the wall time in seconds.

    `echo(line)` decides which lines are also printed (default: progress lines); `on_line` sees every
    line as it arrives (e.g. to time checkpoints). `deadline` (a `time.monotonic()` value) stops the
    command and every process it started when reached (SIGTERM, SIGKILL DEADLINE_GRACE_S later; a
    training keeps its checkpoints): such a command runs in its own session, so that data loaders and
    environment workers go too. Raises StageFailedError with the log's tail on failure, a deadline's
    stop included.
    """
    echo = echo or _default_echo()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"\n$ {' '.join(cmd)}\n  (log: {log_path})", flush=True)
    start = time.perf_counter()
    with log_path.open("a" if append else "w") as out:
        proc = subprocess.Popen(
            list(cmd),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=offline_env(threads),
            cwd=cwd,
            start_new_session=deadline is not None,
        )
        assert proc.stdout is not None
        timer = None
        if deadline is not None:
            timer = threading.Timer(max(0.0, deadline - time.monotonic()), _stop_session, (proc.pid,))
            timer.daemon = True
            timer.start()
        try:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                if on_line is not None:
                    on_line(line)
                if echo(line):
                    print("  " + line.rstrip()[-160:], flush=True)
            code = proc.wait()
        finally:
            if timer is not None:
                timer.cancel()
    if code != 0:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-30:])
        raise StageFailedError(f"{cmd[0]} exited with {code}; last lines of {log_path}:\n{tail}")
    return time.perf_counter() - start


def _stop_session(pid: int) -> None:
    """SIGTERM to the session led by `pid`, then SIGKILL to what is left of it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        time.sleep(DEADLINE_GRACE_S)
