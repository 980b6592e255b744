#!/usr/bin/env bash
# The README's first command: sets up ./.venv if needed, then runs the whole loop on the small
# embedded default (record scripted multi-camera ALOHA demos -> lerobot-train hetero_act ->
# lerobot-eval in aloha_multicam -> outputs/demo/report/). Arguments go to scripts/demo.py
# (e.g. --preset configs/demo_gpu.json on a GPU machine, --output-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
setup_start=$SECONDS
bash scripts/setup_env.sh
# The report's time table includes the setup, so its total is the demo's whole wall-clock.
export HETERO_ACT_DEMO_SETUP_S=$((SECONDS - setup_start))
export HF_HUB_OFFLINE=1 MUJOCO_GL=${MUJOCO_GL:-egl} PYTHONUNBUFFERED=1
exec .venv/bin/python scripts/demo.py "$@"
