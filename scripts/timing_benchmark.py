#!/usr/bin/env python
"""Timing benchmark of hetero_act's token modes against LeRobot's ACT (cost, not learning).

The command line of scripts/bench/timing.py (`--help` for its usage)."""

from bench.timing import main

if __name__ == "__main__":
    main()
