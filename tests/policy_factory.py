"""Small hetero_act configs, policies and batches for unit tests (CPU, tiny dims, no downloads)."""

from __future__ import annotations

import json
from typing import Any

import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.act.configuration_act import ACTConfig

from lerobot_hetero_act.configuration_hetero_act import HeteroACTConfig
from lerobot_hetero_act.export import sample_inputs
from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

# Three cameras at two resolutions, named like ALOHA's.
ALOHA_CAMERAS: dict[str, tuple[int, int]] = {
    "top": (96, 128),
    "left_wrist": (64, 80),
    "right_wrist": (64, 80),
}
ALOHA_ROLES = {"left_wrist": "wrist_detail", "right_wrist": "wrist_context", "top": "global_overview"}
# Grids that the tiny images fill (48x64 gives ResNet-18 a 2x2 map; the design's 6x6 needs 161x161).
TINY_ROLE_GRIDS = {"wrist_detail": [2, 2], "wrist_context": [2, 1], "global_overview": [1, 2]}
# Grids for cameras of about 32x32 (a 1x1 or 1x2 ResNet-18 map).
ONE_CELL_ROLE_GRIDS = {"wrist_detail": [1, 1], "wrist_context": [1, 1], "global_overview": [1, 1]}


def role_grids_arg(grids: dict[str, list[int]] = TINY_ROLE_GRIDS) -> str:
    """The lerobot-train flag that sets these grids."""
    return f"--policy.role_grids={json.dumps(grids)}"


# The design's rig at the smallest sizes that fill its default grids (6x6, 4x4, 2x2).
DESIGN_RIG_CAMERAS: dict[str, tuple[int, int]] = {
    "top": (64, 64),
    "left_wrist": (192, 192),
    "right_wrist": (128, 128),
}
STATE_DIM = ACTION_DIM = 14
CHUNK = 8

TINY: dict[str, Any] = {
    "dim_model": 32,
    "n_heads": 4,
    "dim_feedforward": 64,
    "n_encoder_layers": 1,
    "n_vae_encoder_layers": 1,
    "latent_dim": 8,
    "chunk_size": CHUNK,
    "n_action_steps": CHUNK,
    "pretrained_backbone_weights": None,
    "device": "cpu",
}


def input_features(cameras: dict[str, tuple[int, int]], state: bool = True) -> dict[str, PolicyFeature]:
    feats = {"observation.state": PolicyFeature(FeatureType.STATE, (STATE_DIM,))} if state else {}
    for name, (h, w) in cameras.items():
        feats[f"observation.images.{name}"] = PolicyFeature(FeatureType.VISUAL, (3, h, w))
    return feats


def make_config(
    cameras: dict[str, tuple[int, int]] = ALOHA_CAMERAS,
    config_cls: type[ACTConfig] = HeteroACTConfig,
    **overrides: Any,
) -> HeteroACTConfig:
    """A tiny config; `config_cls=ACTConfig` gives LeRobot's ACT with the same settings for comparisons.

    hetero_act configs get TINY_ROLE_GRIDS unless `role_grids` is given (`role_grids=None`: the defaults)
    and native image sizes unless `role_image_sizes` is given (`role_image_sizes=None`: the defaults).
    """
    kwargs = {**TINY, **overrides}
    if issubclass(config_cls, HeteroACTConfig):
        kwargs.setdefault("role_grids", {role: list(grid) for role, grid in TINY_ROLE_GRIDS.items()})
        if kwargs["role_grids"] is None:
            del kwargs["role_grids"]
        kwargs.setdefault("role_image_sizes", {})  # native, so tests compare with ACT pixel for pixel
    return config_cls(
        input_features=input_features(cameras),
        output_features={"action": PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))},
        **kwargs,
    )


def make_policy(
    cameras: dict[str, tuple[int, int]] = ALOHA_CAMERAS, seed: int = 0, **overrides: Any
) -> HeteroACTPolicy:
    torch.manual_seed(seed)
    return HeteroACTPolicy(make_config(cameras, **overrides))


def make_batch(
    cameras: dict[str, tuple[int, int]] = ALOHA_CAMERAS,
    batch_size: int = 2,
    seed: int = 0,
    with_action: bool = True,
) -> dict[str, torch.Tensor]:
    """Random normalised state, camera images (and action chunk) for these cameras: the package's
    sample-input builder (export.sample_inputs) on the tiny config."""
    return sample_inputs(
        make_config(cameras, config_cls=ACTConfig), batch_size, seed, with_action=with_action
    )


def observation(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in batch.items() if k.startswith("observation.")}
