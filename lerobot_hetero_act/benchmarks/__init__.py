"""Benchmarks of hetero_act against LeRobot ACT: learning (closed loop) and its statistics."""
