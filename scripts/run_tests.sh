#!/usr/bin/env bash
# The test command of the README: sets up ./.venv if needed, lints, then runs the whole suite offline.
# Extra arguments go to pytest (e.g. `bash scripts/run_tests.sh -m "not e2e"`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export HF_HUB_OFFLINE=1 MUJOCO_GL=${MUJOCO_GL:-egl} PYTHONUNBUFFERED=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@"
