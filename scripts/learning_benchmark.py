#!/usr/bin/env python
"""Learning benchmark of hetero_act against LeRobot's ACT, closed loop in the multi-camera ALOHA sim.

The command line of scripts/bench/learning.py (`--help` for its usage)."""

from bench.learning import main

if __name__ == "__main__":
    main()
