#!/usr/bin/env bash
# The learning benchmark on a lent CUDA machine (bench/device.py; docs/gpu.md), run there from the
# checkout's root with .device carried (built here by `python scripts/learning_benchmark.py device-pack`).
#
#   bash scripts/device_benchmark.sh <device-run flags>              # in the foreground, one call
#   bash scripts/device_benchmark.sh --detach 560 <device-run flags>  # call 1: start it in its own session;
#                                                                      # return after 560 s, or when it ends
#   bash scripts/device_benchmark.sh --collect 150                    # call 2: wait up to 150 s for it
#
# A full run takes longer than one device call may, so it is detached and collected by the next call
# (the machine keeps a detached process while it is held). Results and logs land in $OUT; the exit
# status is the run's (0 only when every run finished and was evaluated).
set -uo pipefail
script=$(realpath "$0")
started=$(date +%s)
cd "$(dirname "$script")/.."
: "${OUT:?OUT must name the folder for the results (the device tool sets it)}"
# The two calls' shared folder: a bare machine's own (the rehearsal on CPU names another).
detached=${HETERO_ACT_DETACHED_DIR:-/tmp/hetero_act_device_run}

running() { [ -f "$detached/pid" ] && kill -0 "$(cat "$detached/pid")" 2>/dev/null; }
bring_back() { for f in device_results.tar.gz device_run.log detached.log machine.txt rc; do
  [ -f "$detached/$f" ] && cp "$detached/$f" "$OUT/"; done; }
wait_for_run() { # $1: seconds at most
  for _ in $(seq "$(($1 / 5))"); do running || break; sleep 5; done
  bring_back
  tail -n 40 "$detached/device_run.log" 2>/dev/null
  if running; then echo "still running after $1 s; collect it with --collect"; exit 3; fi
  exit "$(cat "$detached/rc" 2>/dev/null || echo 1)"
}

case "${1:-}" in
--collect)
  wait_for_run "${2:-150}"
  ;;
--detach)
  wait_s=$2
  shift 2
  if running; then echo "error: a run is already going (pid $(cat "$detached/pid")); --collect it" >&2; exit 2; fi
  if [ -e "$detached/rc" ]; then echo "error: $detached holds a finished run; collect it or set HETERO_ACT_DETACHED_DIR" >&2; exit 2; fi
  [ -f .device/site.tar.xz ] || { echo "error: .device/site.tar.xz missing: carry .device (device-pack builds it)" >&2; exit 2; }
  mkdir -p "$detached"
  OUT=$detached setsid nohup bash -c 'echo $$ >"$OUT/pid"; bash "$0" "$@"; echo $? >"$OUT/rc"' "$script" "$@" \
    >"$detached/detached.log" 2>&1 </dev/null &
  echo $! >"$detached/pid" # the same process, unless setsid had to fork (then the child's line wins)
  sleep 1
  wait_for_run "$wait_s"
  ;;
esac

if ! ldconfig -p | grep 'libEGL.so.1 ' >/dev/null; then # the device image has no GL dispatch libraries
  for deb in .device/gl/*.deb; do dpkg -x "$deb" /; done
  ldconfig
fi
site=$(mktemp -d /tmp/hetero_act_site.XXXXXX)
tar -xJf .device/site.tar.xz -C "$site" || exit 2
export PYTHONPATH="$site:$PWD" HF_HUB_OFFLINE=1 MUJOCO_GL=egl PYOPENGL_PLATFORM=egl PYTHONUNBUFFERED=1
vendor=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ -f "$vendor" ]; then export __EGL_VENDOR_LIBRARY_FILENAMES=$vendor; fi
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/machine.txt"
fi
python3 scripts/learning_benchmark.py device-run --started-at "$started" --out "$OUT" "$@" 2>&1 |
  tee "$OUT/device_run.log"
