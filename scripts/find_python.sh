# Sourced by setup_env.sh and check_lerobot_version.sh: `find_python` prints an interpreter of
# Python >= 3.12 (LeRobot 0.6's floor), preferring pyenv's installs over the PATH, or returns 1.
PYTHON_MISSING="LeRobot 0.6 needs Python >= 3.12; install it (e.g. 'pyenv install 3.12') and rerun."

find_python() {
  local candidates=()
  if command -v pyenv >/dev/null 2>&1; then
    candidates+=("$(pyenv root)"/versions/3.12*/bin/python3.12 "$(pyenv root)"/versions/3.13*/bin/python3.13)
  fi
  candidates+=(python3.12 python3.13 python3)
  for py in "${candidates[@]}"; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}
