"""ACT's pre/post-processors under the benchmark type's name (LeRobot looks them up by type)."""

from lerobot.policies.act.processor_act import (
    make_act_pre_post_processors as make_act_backbone_norm_pre_post_processors,
)

__all__ = ["make_act_backbone_norm_pre_post_processors"]
