"""The ResNet backbone of ACT, with a choice of normalisation layer.

LeRobot's ACT builds its ResNet with `FrozenBatchNorm2d`, which fixes ImageNet's batch-norm
statistics. Trained from scratch (no pretrained weights, as offline) those layers hold their initial
values -- mean 0, variance 1, scale 1, shift 0 -- so they are the identity and the backbone trains with
no normalisation at all. `backbone_norm="group_norm"` builds it with GroupNorm instead (16 channels per
group), as Diffusion Policy does to train its ResNet-18 from scratch.
"""

from __future__ import annotations

from typing import Protocol

import torchvision
from torch import nn
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.ops.misc import FrozenBatchNorm2d

GROUP_NORM_CHANNELS_PER_GROUP = 16
"""Channels per GroupNorm group, as in LeRobot's diffusion policy (`num_features // 16` groups)."""


class BackboneSettings(Protocol):
    """The config fields the backbone reads (ACTConfig's, plus `backbone_norm`)."""

    vision_backbone: str
    replace_final_stride_with_dilation: bool
    pretrained_backbone_weights: str | None
    backbone_norm: str


def group_norm(num_channels: int) -> nn.GroupNorm:
    """GroupNorm with GROUP_NORM_CHANNELS_PER_GROUP channels per group (ResNet-18: 4 to 32 groups)."""
    return nn.GroupNorm(num_channels // GROUP_NORM_CHANNELS_PER_GROUP, num_channels)


def build_backbone(config: BackboneSettings) -> tuple[nn.Module, int]:
    """ACT's ResNet backbone (same construction, same `layer4` output) and its output channel count."""
    norm_layer = group_norm if config.backbone_norm == "group_norm" else FrozenBatchNorm2d
    resnet = getattr(torchvision.models, config.vision_backbone)(
        replace_stride_with_dilation=[False, False, config.replace_final_stride_with_dilation],
        weights=config.pretrained_backbone_weights,
        norm_layer=norm_layer,
    )
    # Channels come from the backbone itself: 512 for ResNet-18/34, 2048 for ResNet-50.
    return IntermediateLayerGetter(resnet, return_layers={"layer4": "feature_map"}), resnet.fc.in_features
