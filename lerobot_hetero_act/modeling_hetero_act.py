"""hetero_act policy: LeRobot's ACT with the image-token path replaced by heterogeneous camera fusion.

    cameras (list of per-camera tensors, any sizes)
      -> backbone            one shared ResNet, one batched pass per group of equal-size cameras
      -> HeterogeneousCameraFusion   role extractors -> directed cross-attention -> per-role fusion
      -> ACT encoder tokens  [latent, (state), (env state), camera tokens...]
      -> ACT transformer encoder/decoder, action head (unchanged)

Everything else (VAE encoder, transformer, action head, action queue, temporal ensembling, the
backbone learning-rate group, saving) is LeRobot's ACT, inherited; the VAE latent and the encoder
assembly are mirrored from ACT.forward (tests/test_policy_contract.py pins them against it), and
loading is LeRobot's made strict (see HeteroACTPolicy.from_pretrained).

No `from __future__ import annotations` here: LeRobot's tooling reads
`inspect.signature(HeteroACTPolicy.__init__).parameters["config"].annotation` and uses it as a class.
"""

import copy
import logging
from collections.abc import Mapping
from contextvars import ContextVar

import einops
import torch
from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.act.modeling_act import ACT, ACTPolicy, ACTTemporalEnsembler
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.utils.constants import ACTION, OBS_ENV_STATE, OBS_STATE
from torch import Tensor
from torch.nn import functional as F  # noqa: N812

from .act_init import load_matching_act_weights
from .backbone import build_backbone
from .camera_roles import (
    backbone_input_size,
    backbone_stride,
    camera_short_name,
    default_role_image_sizes,
    validate_grids_fit_images,
)
from .checkpoint_checks import check_state_dict_fits, checked_from_pretrained, saved_config
from .configuration_hetero_act import HeteroACTConfig
from .hetero_camera_fusion import HeterogeneousCameraFusion
from .input_checks import check_camera_stats, check_observation
from .model_card import hetero_act_model_card, use_hetero_act_card_when_publishing

# from_pretrained's keyword arguments that say where and how to fetch a Hub checkpoint's files.
HUB_KWARGS = (
    "force_download",
    "resume_download",
    "proxies",
    "token",
    "cache_dir",
    "local_files_only",
    "revision",
)
# True while from_pretrained builds the policy: the checkpoint's weights replace any init_from_act.
_LOADING_CHECKPOINT: ContextVar[bool] = ContextVar("hetero_act_loading_checkpoint", default=False)
# Start of the log line `reset()` writes with an episode's mean view-gate weight per camera; the
# learning benchmark (scripts/bench/learning.py) reads these lines back from lerobot-eval's output.
VIEW_GATE_LOG_PREFIX = "hetero_act view gate, episode mean:"


def _config_without_cameras(config: HeteroACTConfig) -> HeteroACTConfig:
    """A shallow copy that hides the cameras, so ACT.__init__ builds no image path of its own."""
    stripped = copy.copy(config)
    stripped.input_features = {
        k: v for k, v in config.input_features.items() if k not in config.image_features
    }
    return stripped


class HeteroACT(ACT):
    """ACT's network with the heterogeneous camera path.

    ACT.__init__ runs on a camera-less view of the config, so it builds the VAE encoder, transformer,
    projections and heads but not its backbone, 1x1 input projection or 2-D camera position embedding;
    this class then builds the backbone once (as `backbone`, so ACT's backbone learning-rate group and
    ACT checkpoints' `model.backbone.*` keys still match) and the fusion module.
    """

    def __init__(self, config: HeteroACTConfig):
        super().__init__(_config_without_cameras(config))
        self.config = config
        if not config.image_features:
            return
        self.backbone, channels = build_backbone(config)
        # (height, width) each camera is resized to before the backbone (its role's size, or native).
        self.backbone_input_sizes = {key: config.backbone_input_size(key) for key in config.image_features}
        self.camera_fusion = HeterogeneousCameraFusion(
            camera_roles={key: config.camera_roles[key] for key in config.image_features},
            role_grids=config.role_grids,
            edges=config.parsed_attention_edges,
            in_channels=channels,
            dim_model=config.dim_model,
            n_heads=config.n_heads,
            dropout=config.dropout,
            token_mode=config.token_mode,
            absent_tokens=config.camera_dropout > 0,
            view_gating=config.view_gating,
            view_gate_min_share=config.view_gate_min_share,
        )

    def camera_feature_maps(self, images: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Backbone feature maps per camera key; cameras of equal size share one batched pass.

        `images`: camera key -> (B, C, H, W) for the cameras present (a missing camera is no entry).
        """
        resized = {key: self.resize_for_backbone(key, img) for key, img in images.items()}
        groups: dict[tuple[int, ...], list[str]] = {}
        for key, img in resized.items():
            groups.setdefault(tuple(img.shape[1:]), []).append(key)
        feature_maps: dict[str, Tensor] = {}
        for keys in groups.values():
            stacked = torch.cat([resized[key] for key in keys], dim=0)
            # unflatten + unbind rather than chunk: same values, and an exported graph keeps a
            # symbolic batch size (chunk's piece count is a guard torch.export cannot prove).
            maps = self.backbone(stacked)["feature_map"].unflatten(0, (len(keys), -1)).unbind(0)
            feature_maps.update(zip(keys, maps, strict=True))
        return feature_maps

    def resize_for_backbone(self, camera: str, image: Tensor) -> Tensor:
        """The camera's (B, C, H, W) image as the backbone takes it: 3 channels (a 1-channel camera's
        first channel, repeated) at its role's input size (antialiased bilinear) if it has more pixels.

        The role's size rule applies to the image's actual size, which in training may differ from the
        config's (a fine-tune at another resolution, a Resize transform); such a size must still fill
        the role's grid, or the camera is refused naming the smallest size that does.
        """
        if self.config.image_features[camera].shape[0] == 1:
            image = image[:, :1].expand(-1, 3, -1, -1)
        actual = tuple(image.shape[-2:])
        size = self.backbone_input_sizes[camera]
        if actual != tuple(self.config.image_features[camera].shape[1:]):
            role = self.config.camera_roles[camera]
            size = backbone_input_size(actual, self.config.role_image_sizes.get(role))
            validate_grids_fit_images(
                {camera: role},
                {camera: size},
                self.config.role_grids,
                backbone_stride(self.config.replace_final_stride_with_dilation),
                [camera] if size != actual else [],
            )
        if actual == size:
            return image
        return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)

    def camera_tokens(self, images: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(T, B, D) camera tokens and their (T, 1, D) position embeddings, from camera key -> image."""
        feature_maps = self.camera_feature_maps(images)
        dropped = self.sample_camera_dropout(next(iter(feature_maps.values()))) if self.training else None
        return self.camera_fusion(feature_maps, dropped=dropped)

    def sample_camera_dropout(self, like: Tensor) -> Tensor | None:
        """(B, n_cams) True where a camera is dropped for a training sample; one camera always stays."""
        p = self.config.camera_dropout
        if p <= 0:
            return None
        batch_size, n_cams = like.shape[0], len(self.config.image_features)
        dropped = torch.rand(batch_size, n_cams, device=like.device) < p
        # Where every camera was drawn, keep one at random; branch-free, so torch.compile sees one graph.
        keep = torch.randint(n_cams, (batch_size, 1), device=like.device)
        keep_one = dropped.all(dim=1, keepdim=True) & (torch.arange(n_cams, device=like.device) == keep)
        return dropped & ~keep_one

    def latent_sample(
        self, batch: dict[str, Tensor], batch_size: int
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """The VAE latent for the encoder, as ACT.forward computes it (mirrored: ACT has no seam for it)."""
        device = self.encoder_latent_input_proj.weight.device
        if not (self.config.use_vae and ACTION in batch and self.training):
            return torch.zeros(batch_size, self.config.latent_dim, device=device), None, None
        cls_embed = einops.repeat(self.vae_encoder_cls_embed.weight, "1 d -> b 1 d", b=batch_size)
        vae_input = [cls_embed]
        if self.config.robot_state_feature:
            vae_input.append(self.vae_encoder_robot_state_input_proj(batch[OBS_STATE]).unsqueeze(1))
        vae_input.append(self.vae_encoder_action_input_proj(batch[ACTION]))
        vae_input = torch.cat(vae_input, dim=1)
        pos_embed = self.vae_encoder_pos_enc.clone().detach()
        n_prefix = 2 if self.config.robot_state_feature else 1
        prefix_is_pad = torch.zeros(batch_size, n_prefix, dtype=torch.bool, device=device)
        key_padding_mask = torch.cat([prefix_is_pad, batch["action_is_pad"]], dim=1)
        cls_out = self.vae_encoder(
            vae_input.permute(1, 0, 2),
            pos_embed=pos_embed.permute(1, 0, 2),
            key_padding_mask=key_padding_mask,
        )[0]
        latent_params = self.vae_encoder_latent_output_proj(cls_out)
        mu = latent_params[:, : self.config.latent_dim]
        log_sigma_x2 = latent_params[:, self.config.latent_dim :]  # 2 log(sigma), as in ACT
        return mu + log_sigma_x2.div(2).exp() * torch.randn_like(mu), mu, log_sigma_x2

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor] | tuple[None, None]]:
        """ACT.forward with the camera tokens from the fusion module; returns (actions, (mu, log_sigma_x2))."""
        if self.config.use_vae and self.training and ACTION not in batch:
            raise ValueError("training with use_vae=True needs 'action' in the batch.")
        cameras = present_cameras(batch, self.config)
        batch_size = next(iter(cameras.values())).shape[0] if cameras else batch[OBS_ENV_STATE].shape[0]
        latent, mu, log_sigma_x2 = self.latent_sample(batch, batch_size)

        tokens = [self.encoder_latent_input_proj(latent).unsqueeze(0)]
        pos_embed = [self.encoder_1d_feature_pos_embed.weight.unsqueeze(1)]
        if self.config.robot_state_feature:
            tokens.append(self.encoder_robot_state_input_proj(batch[OBS_STATE]).unsqueeze(0))
        if self.config.env_state_feature:
            tokens.append(self.encoder_env_state_input_proj(batch[OBS_ENV_STATE]).unsqueeze(0))
        if self.config.image_features:
            cam_tokens, cam_pos = self.camera_tokens(cameras)
            tokens.append(cam_tokens)
            pos_embed.append(cam_pos)
        encoder_in = torch.cat(tokens, dim=0)
        encoder_pos = torch.cat(pos_embed, dim=0).to(encoder_in.dtype)

        encoder_out = self.encoder(encoder_in, pos_embed=encoder_pos)
        decoder_in = torch.zeros(
            (self.config.chunk_size, batch_size, self.config.dim_model),
            dtype=encoder_pos.dtype,
            device=encoder_pos.device,
        )
        decoder_out = self.decoder(
            decoder_in,
            encoder_out,
            encoder_pos_embed=encoder_pos,
            decoder_pos_embed=self.decoder_pos_embed.weight.unsqueeze(1),
        )
        actions = self.action_head(decoder_out.transpose(0, 1))
        return actions, (mu, log_sigma_x2)


def present_cameras(batch: Mapping[str, Tensor], config: HeteroACTConfig) -> dict[str, Tensor]:
    """Camera key -> image for the policy's cameras in the batch, in config order; the one place the
    network learns which cameras are present (a missing one, tolerated under camera dropout, is absent).
    ACT's list of images (OBS_IMAGES), which ACTPolicy.forward still builds, is not used."""
    return {key: batch[key] for key in config.image_features if key in batch}


class HeteroACTPolicy(ACTPolicy):
    """LeRobot's ACTPolicy driving a HeteroACT network (type `hetero_act`)."""

    config_class = HeteroACTConfig
    name = "hetero_act"

    def __init__(self, config: HeteroACTConfig, **kwargs):
        # ACTPolicy.__init__ would build a full ACT (its whole image path) only to have it replaced, so
        # this runs the same steps with HeteroACT instead.
        PreTrainedPolicy.__init__(self, config)
        config.validate_features()
        if (dataset_stats := kwargs.get("dataset_stats")) is not None:  # lerobot-train's make_policy
            check_camera_stats(config, dataset_stats)
        self.config = config
        self.model = HeteroACT(config)
        if config.temporal_ensemble_coeff is not None:
            self.temporal_ensembler = ACTTemporalEnsembler(config.temporal_ensemble_coeff, config.chunk_size)
        self._gate_sum: Tensor | None = None
        self._gate_count = 0
        self._reported_absent: set[str] = set()
        self.reset()
        if config.init_from_act and not _LOADING_CHECKPOINT.get():
            self.init_report = load_matching_act_weights(self, config.init_from_act)

    @classmethod
    def from_pretrained(cls, pretrained_name_or_path, *, strict: bool = True, **kwargs):
        """PreTrainedPolicy.from_pretrained after checking the files, so a damaged or incompatible
        checkpoint fails naming the file; its weights win, so `init_from_act` is not re-applied.

        Strict by default (LeRobot's default is not): a tensor the network needs but the checkpoint
        lacks, or the reverse, raises IncompatibleCheckpointError naming the checkpoint and the option
        behind the tensor -- e.g. `--policy.camera_dropout=0.2` on a checkpoint trained without it
        would otherwise run with random absent-camera tokens. `strict=False` loads anyway and warns.
        """
        token = _LOADING_CHECKPOINT.set(True)
        try:
            return checked_from_pretrained(
                cls._load_with_saved_image_sizes, pretrained_name_or_path, strict=strict, **kwargs
            )
        finally:
            _LOADING_CHECKPOINT.reset(token)

    @classmethod
    def _load_with_saved_image_sizes(cls, pretrained_name_or_path, *, config=None, **kwargs):
        """LeRobot's from_pretrained; a checkpoint saved before `role_image_sizes` existed acts at
        native sizes, as it was trained, instead of taking today's default sizes from draccus."""
        hub_kwargs = {k: kwargs[k] for k in HUB_KWARGS if k in kwargs}
        if config is None:
            config = PreTrainedConfig.from_pretrained(pretrained_name_or_path, **hub_kwargs)
        untouched = config.role_image_sizes == default_role_image_sizes(config.role_grids)
        if untouched and "role_image_sizes" not in saved_config(pretrained_name_or_path, **hub_kwargs):
            logging.info(
                "hetero_act: %s predates role_image_sizes; its cameras keep their native sizes.",
                pretrained_name_or_path,
            )
            config.role_image_sizes = {}
        return super().from_pretrained(pretrained_name_or_path, config=config, **kwargs)

    @classmethod
    def _load_as_safetensor(cls, model, model_file, map_location, strict):
        """LeRobot's loader, after check_state_dict_fits explained any tensor that does not fit."""
        check_state_dict_fits(model, model_file, strict=strict)
        return super()._load_as_safetensor(model, model_file, map_location, strict)

    def generate_model_card(self, dataset_repo_id, model_type, license, tags, cfg=None, dataset_meta=None):
        """LeRobot's card plus camera roles, edges, token mode, install and eval command; no Hub call offline."""
        return hetero_act_model_card(
            self.config, dataset_repo_id, license=license, tags=tags, cfg=cfg, dataset_meta=dataset_meta
        )

    def reset(self):
        """ACT's reset, plus a log line with the mean view-gate weights of the episode that ended."""
        if getattr(self, "_gate_count", 0):
            means = (self._gate_sum / self._gate_count).tolist()
            names = [camera_short_name(k) for k in self.config.image_features]
            logging.info(
                "%s %s",
                VIEW_GATE_LOG_PREFIX,
                ", ".join(f"{n}={m:.3f}" for n, m in zip(names, means, strict=True)),
            )
        self._gate_sum, self._gate_count = None, 0
        self._reported_absent = set()
        super().reset()

    def _checked(self, batch: dict[str, Tensor], inference: bool) -> dict[str, Tensor]:
        """The batch, validated (a tolerated missing camera is logged once per episode)."""
        missing = check_observation(batch, self.config, inference=inference)
        for key in missing:
            if key not in self._reported_absent:
                logging.warning("hetero_act: camera %s is absent; using its learned absent token.", key)
                self._reported_absent.add(key)
        return batch

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor]) -> Tensor:
        """ACT's action queue; every observation is checked, even those that only pop the queue.

        Keys, shapes and state values are checked here on every call (microseconds); the images' NaN/inf
        scan runs once, in `predict_action_chunk`, only on the calls where the network runs.
        """
        check_observation(batch, self.config, inference=True, check_image_values=False)
        return super().select_action(batch)

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, Tensor]) -> Tensor:
        """Predict a chunk of actions; refuses observations the policy was not trained for."""
        self.eval()
        actions = self.model(self._checked(batch, inference=True))[0]
        self._accumulate_gate()
        return actions

    def forward(self, batch: dict[str, Tensor]) -> tuple[Tensor, dict]:
        """ACT's loss (L1 + KL); with view gating, the mean gate per camera joins the logged metrics."""
        loss, loss_dict = super().forward(self._checked(batch, inference=False))
        gate = self.model.camera_fusion.last_gate if self.config.image_features else None
        if gate is not None:
            for key, value in zip(self.config.image_features, gate.mean(dim=0).tolist(), strict=True):
                loss_dict[f"gate_{camera_short_name(key)}"] = value
        return loss, loss_dict

    def _accumulate_gate(self) -> None:
        gate = self.model.camera_fusion.last_gate if self.config.image_features else None
        if gate is None:
            return
        total = gate.sum(dim=0).cpu()
        self._gate_sum = total if self._gate_sum is None else self._gate_sum + total
        self._gate_count += gate.shape[0]


use_hetero_act_card_when_publishing()  # LeRobot main's publish_trained_model (no-op on 0.6.1)
