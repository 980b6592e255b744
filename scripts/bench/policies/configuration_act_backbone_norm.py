"""ACTConfig plus hetero_act's `backbone_norm` field (benchmark baseline only)."""

from __future__ import annotations

from dataclasses import dataclass

from lerobot.configs import PreTrainedConfig
from lerobot.policies.act.configuration_act import ACTConfig

from lerobot_hetero_act.configuration_hetero_act import check_backbone_norm


@PreTrainedConfig.register_subclass("act_backbone_norm")
@dataclass
class ACTBackboneNormConfig(ACTConfig):
    """LeRobot's ACT whose ResNet uses `backbone_norm` ("frozen_batch_norm" is plain ACT)."""

    backbone_norm: str = "frozen_batch_norm"

    def __post_init__(self):
        super().__post_init__()
        check_backbone_norm(self.backbone_norm, self.pretrained_backbone_weights)
