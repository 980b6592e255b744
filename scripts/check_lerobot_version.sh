#!/usr/bin/env bash
# Runs the plugin's compatibility tests against another LeRobot than the released one CI tests:
# plugin discovery, a 2-step lerobot-train, save, strict load, lerobot-eval of one episode, the
# policy contract, the saved preprocessor's observation check, the async server and Hub publishing.
#
#   bash scripts/check_lerobot_version.sh <LeRobot source folder or pip requirement> [pytest args]
#   e.g. bash scripts/check_lerobot_version.sh ~/src/lerobot          (a checkout of LeRobot's main)
#
# It builds its own virtualenv in a fresh temporary folder (removed at the end), so ./.venv and
# CI's LeRobot 0.6.1 are left as they are; VENV=<folder> reuses (or creates and keeps) that one instead.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  echo "usage: $0 <LeRobot source folder or pip requirement> [pytest args]" >&2
  exit 2
fi
LEROBOT=$1
shift
[ -d "$LEROBOT" ] && LEROBOT="$(cd "$LEROBOT" && pwd)[aloha,training,test,async]"
# shellcheck source=scripts/find_python.sh
source scripts/find_python.sh
PY=$(find_python) || { echo "[check] error: $PYTHON_MISSING" >&2; exit 1; }
if [ -n "${VENV:-}" ]; then
  ENV_DIR=$VENV
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  ENV_DIR=$WORK/venv
fi
[ -x "$ENV_DIR/bin/python" ] || "$PY" -m venv "$ENV_DIR"
"$ENV_DIR/bin/pip" install -q --upgrade pip
"$ENV_DIR/bin/pip" install -q "$LEROBOT"
"$ENV_DIR/bin/pip" install -q -e ".[dev]"   # keeps that LeRobot: it satisfies lerobot>=0.6.1,<0.7
"$ENV_DIR/bin/python" -c 'import lerobot; print(f"[check] lerobot {lerobot.__version__} from {lerobot.__file__}")'
export HF_HUB_OFFLINE=1 MUJOCO_GL=${MUJOCO_GL:-egl} PYTHONUNBUFFERED=1
"$ENV_DIR/bin/python" -m pytest -q -p no:cacheprovider \
  tests/test_plugin_discovery.py tests/test_policy_contract.py tests/test_e2e_train_eval.py \
  tests/test_input_paths.py tests/test_fine_tune_flows.py tests/test_sim_loop_e2e.py tests/test_async_server.py \
  tests/test_hub.py tests/test_strict_loading.py "$@"
