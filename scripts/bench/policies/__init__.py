"""Benchmark-only policy types: LeRobot's ACT with the recipe levers hetero_act has as options.

Not part of the installed plugin and not meant for users: the learning benchmark gives its ACT
baseline the same recipe as hetero_act (e.g. a GroupNorm backbone), and LeRobot's ACT hard-codes
its norm layer. Importing this package registers `policy.type=act_backbone_norm`; LeRobot then finds
the policy and processors in the sibling `modeling_`/`processor_` modules by its naming convention.
`scripts/lerobot_bench.py` runs LeRobot's own train/eval entry points after that import.
"""

from .configuration_act_backbone_norm import ACTBackboneNormConfig

__all__ = ["ACTBackboneNormConfig"]
