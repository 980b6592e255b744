"""The research harness around the plugin: not installed with it, run from a checkout.

The learning benchmark (learning, learning_report, heldout, stats) and the timing benchmark
(timing, timing_report) against LeRobot's ACT, the README's demo (demo), attention maps
(attention_maps), the closed-loop ONNX comparison (onnx_closed_loop), the policy rollout loop they
share (policy_rollout), the offline subprocess runner (offline_run) and the benchmark-only ACT
baseline with the recipe levers (policies). Each command-line module has a `main()`; the files in
scripts/ (learning_benchmark.py, timing_benchmark.py, demo.py, attention_maps.py,
onnx_closed_loop.py, lerobot_bench.py) call it.
"""
