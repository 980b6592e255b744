"""Configuration of hetero_act: LeRobot's ACTConfig plus the camera-role settings of the fusion module."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from lerobot.configs import PreTrainedConfig
from lerobot.policies.act.configuration_act import ACTConfig

from .camera_roles import (
    CELL_KEYS,
    DEFAULT_ATTENTION_EDGES,
    DEFAULT_ROLE_GRIDS,
    CameraRoleError,
    backbone_input_size,
    backbone_stride,
    camera_short_name,
    default_role_image_sizes,
    normalize_camera_roles,
    resolve_camera_roles,
    resolve_token_mode,
    validate_edges,
    validate_grids_fit_images,
    validate_role_grids,
    validate_role_image_sizes,
)

BACKBONE_NORMS = ("frozen_batch_norm", "group_norm")


def check_backbone_norm(backbone_norm: str, pretrained_backbone_weights: str | None) -> None:
    """Refuse an unknown `backbone_norm`, and GroupNorm over pretrained weights.

    Pretrained ResNet weights were learned with batch norm; swapping its layers for GroupNorm would
    discard those statistics and ruin the weights (LeRobot's diffusion policy refuses the same).
    """
    if backbone_norm not in BACKBONE_NORMS:
        raise ValueError(f"backbone_norm must be one of {BACKBONE_NORMS}, got {backbone_norm!r}.")
    if backbone_norm == "group_norm" and pretrained_backbone_weights:
        raise ValueError(
            f"backbone_norm='group_norm' cannot be used with pretrained_backbone_weights="
            f"{pretrained_backbone_weights!r}: the pretrained weights were learned with batch norm. "
            "Pass --policy.pretrained_backbone_weights=null to train the backbone from scratch with "
            "GroupNorm, or keep backbone_norm='frozen_batch_norm' with the pretrained weights."
        )


@PreTrainedConfig.register_subclass("hetero_act")
@dataclass
class HeteroACTConfig(ACTConfig):
    """ACT whose image tokens come from heterogeneous camera cross-attention.

    Everything of ACTConfig applies unchanged (VAE, transformer, chunking, temporal ensembling, backbone
    and its learning rate). The fields below replace ACT's "one token per feature-map cell" image path.

    Args:
        camera_roles: camera -> role, keyed by `observation.images.<name>` (or just `<name>`). Empty means
            the name-based default: names containing wrist/hand/gripper/eef are `wrist_detail`
            (`wrist_context` if the name also contains "context"), all others `global_overview`.
            The resolved mapping is written back here when the policy is built, so a checkpoint's
            config.json records which role every camera had.
        role_grids: role -> [rows, cols] of the adaptive pooling grid on the backbone's last feature map.
            Defaults to the design's wrist_detail 6x6, wrist_context 4x4, global_overview 2x2.
        role_image_sizes: role -> [height, width] that the role's cameras are resized to (antialiased,
            after normalisation, before the backbone) when they have more pixels, so a camera recorded at
            high resolution costs only what its role's grid can use; smaller cameras keep their size. A
            role that is absent or null keeps its cameras' native size; {} keeps every camera native.
            Default (None): DEFAULT_ROLE_IMAGE_SIZES for the design's roles, written into config.json.
            A checkpoint saved before this field existed loads with native sizes.
        attention_edges: directed cross-attention edges "query_role<-key_role"; each gets its own
            attention weights. Edges whose roles have no camera are not built.
        token_mode: "cell_keys" (default: one fused token per camera; each edge's query attends over
            the key role's grid cells), "pooled_keys" (the original design: queries and keys are the
            pooled camera tokens, a single key per edge when each role has one camera; "pooled" is
            its former name) or "spatial" (every grid cell is an encoder token).
        view_gating: learn a per-sample weight per camera (softmax over cameras) that scales its tokens;
            the weights are logged as `gate_<camera>` in training and summarised per episode in eval.
        view_gate_min_share: the least share of the total gate weight each present camera keeps
            (must be below 1 / number of cameras); keeps the gate from collapsing onto one camera.
        camera_dropout: probability of dropping each camera per training sample (at least one camera
            is always kept); a learned per-camera "absent" token replaces it. A policy trained with
            camera_dropout > 0 also runs when a camera is missing at inference (and logs which).
        backbone_norm: the ResNet's normalisation layers. "frozen_batch_norm" (default) is ACT's
            FrozenBatchNorm2d, right for pretrained weights but the identity when training from
            scratch; "group_norm" is GroupNorm with 16 channels per group, for training from scratch
            (refused with pretrained_backbone_weights). Checkpoints without the field load as
            "frozen_batch_norm", as they were trained.
        init_from_act: a LeRobot ACT checkpoint (directory or Hub id) whose matching tensors (backbone,
            VAE, transformer, heads) initialise a new policy; ignored when loading a hetero_act checkpoint.
    """

    camera_roles: dict[str, str] = field(default_factory=dict)
    role_grids: dict[str, list[int]] = field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ROLE_GRIDS.items()}
    )
    attention_edges: list[str] = field(default_factory=lambda: list(DEFAULT_ATTENTION_EDGES))
    role_image_sizes: dict[str, list[int] | None] | None = None
    token_mode: str = CELL_KEYS
    view_gating: bool = False
    view_gate_min_share: float = 0.1
    camera_dropout: float = 0.0
    backbone_norm: str = "frozen_batch_norm"
    init_from_act: str | None = None

    def __post_init__(self):
        super().__post_init__()
        validate_role_grids(self.role_grids)
        validate_edges(self.attention_edges, self.role_grids)
        if self.role_image_sizes is None:
            self.role_image_sizes = default_role_image_sizes(self.role_grids)
        validate_role_image_sizes(self.role_image_sizes, self.role_grids)
        self.camera_roles = normalize_camera_roles(self.camera_roles, self.role_grids)
        self.token_mode = resolve_token_mode(self.token_mode)
        if not 0.0 <= self.view_gate_min_share < 1.0:
            raise ValueError(f"view_gate_min_share must be in [0, 1), got {self.view_gate_min_share}.")
        if not 0.0 <= self.camera_dropout < 1.0:
            raise ValueError(f"camera_dropout must be in [0, 1), got {self.camera_dropout}.")
        check_backbone_norm(self.backbone_norm, self.pretrained_backbone_weights)

    def validate_features(self) -> None:
        """Check the cameras against the roles and record the resolved camera -> role mapping."""
        super().validate_features()
        image_keys = list(self.image_features)
        for key, feature in self.image_features.items():
            if len(feature.shape) != 3:
                raise CameraRoleError(
                    f"camera {key!r} has shape {feature.shape}; expected (channels, height, width)."
                )
        resolved = resolve_camera_roles(self.camera_roles, image_keys, self.role_grids)
        if self.view_gating and image_keys and self.view_gate_min_share * len(image_keys) >= 1:
            raise CameraRoleError(
                f"view_gate_min_share = {self.view_gate_min_share} is not below 1 / {len(image_keys)} cameras; "
                f"lower it (e.g. {0.3 / len(image_keys):.2f}) so the gate can still prefer a camera."
            )
        was_default = not self.camera_roles
        self.camera_roles = resolved
        native = {key: tuple(self.image_features[key].shape[1:]) for key in image_keys}
        sizes = {key: self.backbone_input_size(key) for key in image_keys}
        resized = [key for key in image_keys if sizes[key] != native[key]]
        validate_grids_fit_images(
            resolved,
            sizes,
            self.role_grids,
            backbone_stride(self.replace_final_stride_with_dilation),
            resized,
        )
        summary = ", ".join(f"{camera_short_name(k)}->{r}" for k, r in resolved.items())
        logging.info(
            "hetero_act camera roles (%s): %s",
            "name-based default" if was_default else "from config",
            summary,
        )
        for key in resized:
            logging.info(
                "hetero_act: camera %s is resized from %dx%d to %dx%d (role %s) before the backbone",
                camera_short_name(key),
                *native[key],
                *sizes[key],
                resolved[key],
            )

    def backbone_input_size(self, camera: str) -> tuple[int, int]:
        """(height, width) the backbone sees for a camera: its role's size if that is smaller, else native."""
        native = self.image_features[camera].shape[1:]
        return backbone_input_size(native, self.role_image_sizes.get(self.camera_roles[camera]))

    @property
    def parsed_attention_edges(self) -> list[tuple[str, str]]:
        """(query_role, key_role) pairs in config order."""
        return validate_edges(self.attention_edges, self.role_grids)
