#!/usr/bin/env python
"""The README's main job: record scripted multi-camera ALOHA demos -> lerobot-train hetero_act ->
lerobot-eval in aloha_multicam -> outputs/demo/report/ (report.md, curves.png, summary.json, videos).

The command line of scripts/bench/demo.py (`--help` for its usage)."""

from bench.demo import main

if __name__ == "__main__":
    main()
