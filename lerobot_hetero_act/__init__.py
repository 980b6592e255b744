"""hetero_act: ACT with heterogeneous camera cross-attention, as a LeRobot policy plugin.

Importing this package registers `policy.type=hetero_act` with LeRobot's config registry. LeRobot
then finds `HeteroACTPolicy` in `modeling_hetero_act` and `make_hetero_act_pre_post_processors` in
`processor_hetero_act` by its naming convention.
"""

from .configuration_hetero_act import HeteroACTConfig

__all__ = ["HeteroACTConfig"]
__version__ = "0.1.0"
