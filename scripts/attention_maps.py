#!/usr/bin/env python
"""Draw where hetero_act's cameras look at each other: per-edge attention and view-gate weights.

The command line of scripts/bench/attention_maps.py (`--help` for its usage)."""

from bench.attention_maps import main

if __name__ == "__main__":
    raise SystemExit(main())
