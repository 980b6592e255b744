"""Pre/post-processors for hetero_act: exactly ACT's normalisation contract.

hetero_act changes only how image tokens are formed inside the network, so inputs are normalised
(MEAN_STD for images, state and action by default) and actions un-normalised exactly as for ACT.
"""

from __future__ import annotations

from typing import Any

import torch
from lerobot.policies.act.processor_act import make_act_pre_post_processors
from lerobot.processor import PolicyAction, PolicyProcessorPipeline

from .configuration_hetero_act import HeteroACTConfig


def make_hetero_act_pre_post_processors(
    config: HeteroACTConfig,
    dataset_stats: dict[str, dict[str, torch.Tensor]] | None = None,
) -> tuple[
    PolicyProcessorPipeline[dict[str, Any], dict[str, Any]],
    PolicyProcessorPipeline[PolicyAction, PolicyAction],
]:
    """LeRobot's ACT pipelines (normalise, batch, device; un-normalise, to CPU) for a hetero_act config."""
    return make_act_pre_post_processors(config, dataset_stats=dataset_stats)
