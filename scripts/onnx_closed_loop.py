#!/usr/bin/env python
"""Same actions in closed loop through PyTorch and onnxruntime.

The command line of scripts/bench/onnx_closed_loop.py (`--help` for its usage)."""

from bench.onnx_closed_loop import main

if __name__ == "__main__":
    main()
