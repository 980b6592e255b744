"""Benchmarks of hetero_act against LeRobot's ACT: learning in closed loop (learning, learning_report),
cost (timing, timing_report), and the statistics they share (stats)."""
