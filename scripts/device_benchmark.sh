#!/usr/bin/env bash
# The learning benchmark on a lent CUDA machine (bench/device.py; docs/gpu.md), run there from the
# checkout's root with .device carried (built here by `python scripts/learning_benchmark.py device-pack`).
#
#   bash scripts/device_benchmark.sh <device-run flags>                  # in the foreground, one call
#   bash scripts/device_benchmark.sh --detach 560 <device-run flags>      # call 1: start in its own session,
#                                                                          # return after 560 s or when done
#   bash scripts/device_benchmark.sh --collect                            # call 2: wait, bring the results back
#
# A full run takes longer than one device call may, so it is detached and collected by the next call
# (the machine keeps a detached process until it is given back). Results land in $OUT.
set -uo pipefail
started=$(date +%s)
cd "$(dirname "$0")/.."
: "${OUT:?OUT must name the folder for the results (the device tool sets it)}"
# The two calls' shared folder: a bare machine's own (the rehearsal on CPU names another).
detached=${HETERO_ACT_DETACHED_DIR:-/tmp/hetero_act_device_run}
if [ "${1:-}" = "--collect" ]; then
  while [ ! -f "$detached/device_results.tar.gz" ] && pgrep -f "learning_benchmark.py device-run" >/dev/null; do
    sleep 5
  done
  cp "$detached"/* "$OUT"/ 2>/dev/null
  tail -n 40 "$OUT/device_run.log"
  exit
fi
if [ "${1:-}" = "--detach" ]; then
  wait_s=$2
  shift 2
  if [ -e "$detached/device_results.tar.gz" ]; then
    echo "error: $detached already holds a run's results; collect them (--collect) or set HETERO_ACT_DETACHED_DIR" >&2
    exit 2
  fi
  mkdir -p "$detached"
  OUT=$detached setsid nohup bash "$0" "$@" >"$detached/detached.log" 2>&1 </dev/null &
  for _ in $(seq "$((wait_s / 5))"); do
    [ -f "$detached/device_results.tar.gz" ] && break
    sleep 5
  done
  tail -n 40 "$detached/device_run.log"
  cp "$detached"/* "$OUT"/ 2>/dev/null
  exit 0
fi
if ! ldconfig -p | grep -q 'libEGL.so.1 '; then # the device image has no GL dispatch libraries
  for deb in .device/gl/*.deb; do dpkg -x "$deb" /; done
  ldconfig
fi
site=$(mktemp -d /tmp/hetero_act_site.XXXXXX)
tar -xJf .device/site.tar.xz -C "$site"
export PYTHONPATH="$site:$PWD" HF_HUB_OFFLINE=1 MUJOCO_GL=egl PYOPENGL_PLATFORM=egl PYTHONUNBUFFERED=1
vendor=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ -f "$vendor" ]; then export __EGL_VENDOR_LIBRARY_FILENAMES=$vendor; fi
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/machine.txt"
fi
python3 scripts/learning_benchmark.py device-run --started-at "$started" --out "$OUT" "$@" 2>&1 |
  tee "$OUT/device_run.log"
