"""Simulated ALOHA data for hetero_act: scripted demonstrations and a multi-camera eval env.

Importing this package is cheap on purpose (no MuJoCo import): LeRobot imports
`lerobot_hetero_act.sim.env_config` at start-up to register `--env.type=aloha_multicam`.
The MuJoCo-heavy modules (`scene`, `rendering`, `scripted_rollout`, `record`, `aloha_env`)
are imported only by code that simulates.
"""
