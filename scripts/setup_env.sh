#!/usr/bin/env bash
# Creates ./.venv (Python >= 3.12) with this package installed editable plus LeRobot's sim, training
# and test extras. Idempotent: it reinstalls only when pyproject.toml changed since the last run.
# Usage: bash scripts/setup_env.sh        (VENV=path overrides the location)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

# shellcheck source=scripts/find_python.sh
source scripts/find_python.sh

# MuJoCo renders off-screen through EGL (Mesa's software rasteriser on a CPU-only machine).
if ! ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing EGL/Mesa for off-screen MuJoCo rendering"
    apt-get update -qq && apt-get install -y -qq libegl1 libgl1-mesa-dri >/dev/null
  else
    echo "[setup] warning: libEGL not found; simulation needs it (Debian/Ubuntu: apt-get install libegl1 libgl1-mesa-dri)" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  PY=$(find_python) || { echo "[setup] error: $PYTHON_MISSING" >&2; exit 1; }
  echo "[setup] creating $VENV with $("$PY" --version)"
  "$PY" -m venv "$VENV"
fi

stamp="$VENV/.hetero_act_installed"
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing lerobot_policy_hetero_act[dev] (first run: a few minutes, PyTorch is large)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi
echo "[setup] ready: $VENV ($("$VENV/bin/python" -c 'import lerobot, torch; print(f"lerobot {lerobot.__version__}, torch {torch.__version__}")'))"
