#!/usr/bin/env python
"""LeRobot's own `lerobot-train` / `lerobot-eval`, with the benchmark-only policy types registered.

    python scripts/lerobot_bench.py train <lerobot-train flags>
    python scripts/lerobot_bench.py eval  <lerobot-eval flags>

The learning benchmark runs its ACT baseline with hetero_act's recipe levers as
`--policy.type=act_backbone_norm` (scripts/bench/policies); LeRobot only knows that type once
the package is imported, so this imports it and then hands the flags to LeRobot's unmodified main().
"""

from __future__ import annotations

import sys

import bench.policies  # noqa: F401  (registers policy.type=act_backbone_norm)

ENTRY_POINTS = {"train": "lerobot.scripts.lerobot_train", "eval": "lerobot.scripts.lerobot_eval"}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ENTRY_POINTS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(ENTRY_POINTS)}}} <LeRobot flags>")
    import importlib

    module = importlib.import_module(ENTRY_POINTS[sys.argv[1]])
    sys.argv = [f"lerobot-{sys.argv[1]}", *sys.argv[2:]]
    module.main()


if __name__ == "__main__":
    main()
