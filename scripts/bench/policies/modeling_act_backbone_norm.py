"""LeRobot's ACTPolicy with its backbone rebuilt by hetero_act's `build_backbone` (benchmark only)."""

from lerobot.policies.act.modeling_act import ACTPolicy

from lerobot_hetero_act.backbone import build_backbone

from .configuration_act_backbone_norm import ACTBackboneNormConfig


class ACTBackboneNormPolicy(ACTPolicy):
    """ACTPolicy; with backbone_norm="group_norm" its ResNet has GroupNorm layers (same parameter names,
    so ACT's backbone learning-rate group applies unchanged)."""

    config_class = ACTBackboneNormConfig
    name = "act_backbone_norm"

    def __init__(self, config: ACTBackboneNormConfig, **kwargs):
        super().__init__(config, **kwargs)
        if config.image_features and config.backbone_norm != "frozen_batch_norm":
            self.model.backbone, _ = build_backbone(config)
