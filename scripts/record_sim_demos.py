#!/usr/bin/env python
"""Record scripted ALOHA sim demonstrations: `python -m lerobot_hetero_act.sim.record`, by path.

MUJOCO_GL=egl HF_HUB_OFFLINE=1 python scripts/record_sim_demos.py --task transfer_cube --episodes 50 ...
"""

import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")  # before MuJoCo is imported

from lerobot_hetero_act.sim.record import main

if __name__ == "__main__":
    sys.exit(main())
