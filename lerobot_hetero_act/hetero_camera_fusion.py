"""Heterogeneous camera cross-attention: backbone feature maps -> one set of encoder tokens per camera.

Data flow (one forward pass):

    feature map per camera (B, C, H, W), from the policy's single shared backbone
      -> role extractor      pool to the role's grid, project to dim_model       (B, n_tok, D) per camera
      -> cross-attention     one attention module per directed edge query_role<-key_role; the queries
                             are the query role's tokens, keys/values all tokens of the key role's cameras
      -> fusion              per role: MLP([own, attended per in-edge]) + own, then the role's LayerNorm
      -> encoder tokens      (T, B, D) in camera order, with a position embedding for every token

`token_mode="pooled"` is the design: one token per camera (the grid is flattened into one Linear).
With one camera per role, each query then attends over a single key, the softmax is 1 and no selection
happens (seed-review defect 5); it is kept as the default because it is the design. `token_mode="spatial"`
keeps every grid cell as a token (Linear(C -> D) per cell, 2-D sine position plus camera embedding),
so attention has several keys to choose from.

Two options go past the design, both off by default:
- camera dropout: a learned "absent" token per camera stands in for a camera that is dropped in
  training or missing at inference (B, n_tok, D), so a policy trained with it survives a lost camera;
- view gating: a per-sample softmax weight per camera (in the spirit of BFA's best-view weighting)
  scales each camera's fused tokens; the weights are kept in `last_gate` for logging.

The backbone is not held here: the policy owns it once (defect 6) and hands over feature maps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from lerobot.policies.act.modeling_act import ACTSinusoidalPositionEmbedding2d
from torch import Tensor, nn

from .camera_roles import camera_short_name


def module_key(name: str) -> str:
    """A camera or edge name usable as a ModuleDict/ParameterDict key (no dots allowed there)."""
    return camera_short_name(name).replace(".", "_")


def edge_module_key(query_role: str, key_role: str) -> str:
    return f"{query_role}__from__{key_role}"


class RoleFeatureExtractor(nn.Module):
    """Pools a backbone feature map to the role's grid and projects it to dim_model tokens.

    pooled:  flatten(C*h*w) -> Linear -> ReLU -> Dropout   -> (B, 1, D)      (the design)
    spatial: per cell Linear(C) -> ReLU -> Dropout          -> (B, h*w, D)
    """

    def __init__(
        self, in_channels: int, grid: Sequence[int], dim_model: int, dropout: float, token_mode: str
    ):
        super().__init__()
        rows, cols = grid
        self.token_mode = token_mode
        self.pool = nn.AdaptiveAvgPool2d((rows, cols))
        in_features = in_channels * rows * cols if token_mode == "pooled" else in_channels
        self.proj = nn.Linear(in_features, dim_model)
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.num_tokens = 1 if token_mode == "pooled" else rows * cols

    def forward(self, feature_map: Tensor) -> Tensor:
        pooled = self.pool(feature_map)  # (B, C, rows, cols)
        if self.token_mode == "pooled":
            cells = pooled.flatten(1).unsqueeze(1)  # (B, 1, C*rows*cols)
        else:
            cells = pooled.flatten(2).transpose(1, 2)  # (B, rows*cols, C)
        return self.dropout(self.act(self.proj(cells)))


class RoleFusion(nn.Module):
    """Fuses a role's own tokens with what they attended from each in-edge: MLP, residual, LayerNorm."""

    def __init__(self, n_in_edges: int, dim_model: int, dropout: float):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear((1 + n_in_edges) * dim_model, dim_model),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dim_model, dim_model),
        )
        self.norm = nn.LayerNorm(dim_model)  # one LayerNorm per role (defect 2)

    def forward(self, own: Tensor, attended: Sequence[Tensor]) -> Tensor:
        fused = self.mlp(torch.cat([own, *attended], dim=-1))
        return self.norm(own + fused)


class ViewGate(nn.Module):
    """Per-sample importance of each camera: softmax over cameras of a score of its mean fused token.

    Weights are rescaled to average 1 over the present cameras, so gating at init leaves the tokens'
    scale unchanged; absent cameras get weight 0.
    """

    def __init__(self, dim_model: int):
        super().__init__()
        self.score = nn.Linear(dim_model, 1)

    def forward(self, camera_summaries: Tensor, present: Tensor) -> Tensor:
        """camera_summaries (B, n_cams, D), present (B, n_cams) bool -> weights (B, n_cams)."""
        scores = self.score(camera_summaries).squeeze(-1).masked_fill(~present, float("-inf"))
        return torch.softmax(scores, dim=-1) * present.sum(dim=-1, keepdim=True)


class HeterogeneousCameraFusion(nn.Module):
    """Turns per-camera backbone feature maps into role-aware, cross-attended encoder tokens.

    Args:
        camera_roles: camera key -> role, in the order the tokens are returned. Several cameras may
            share a role; roles with no camera get no modules.
        role_grids: role -> (rows, cols).
        edges: (query_role, key_role) pairs; only edges whose two roles both have cameras are built.
        in_channels: channels of the backbone's last feature map (512 for ResNet-18/34, 2048 for ResNet-50).
    """

    def __init__(
        self,
        camera_roles: Mapping[str, str],
        role_grids: Mapping[str, Sequence[int]],
        edges: Sequence[tuple[str, str]],
        in_channels: int,
        dim_model: int,
        n_heads: int,
        dropout: float,
        token_mode: str = "pooled",
        absent_tokens: bool = False,
        view_gating: bool = False,
    ):
        super().__init__()
        if not camera_roles:
            raise ValueError("HeterogeneousCameraFusion needs at least one camera.")
        self.token_mode = token_mode
        self.capture_attention = False  # set True to keep per-edge attention weights in last_attention
        self.last_attention: dict[str, Tensor] = {}
        self.last_gate: Tensor | None = None
        self.camera_keys: list[str] = list(camera_roles)
        self.camera_roles: dict[str, str] = dict(camera_roles)
        keys = [module_key(k) for k in self.camera_keys]
        if len(set(keys)) != len(keys):
            raise ValueError(f"camera names collide once dots are replaced: {self.camera_keys}")
        # Roles in first-appearance order; cameras of a role in camera order.
        self.role_cameras: dict[str, list[str]] = {}
        for cam, role in self.camera_roles.items():
            self.role_cameras.setdefault(role, []).append(cam)
        self.edges: list[tuple[str, str]] = [
            (q, k) for q, k in edges if q in self.role_cameras and k in self.role_cameras
        ]

        self.extractors = nn.ModuleDict(
            {
                role: RoleFeatureExtractor(in_channels, role_grids[role], dim_model, dropout, token_mode)
                for role in self.role_cameras
            }
        )
        self.cross_attention = nn.ModuleDict(
            {
                edge_module_key(q, k): nn.MultiheadAttention(
                    dim_model, n_heads, dropout=dropout, batch_first=True
                )
                for q, k in self.edges
            }
        )
        self.fusion = nn.ModuleDict(
            {
                role: RoleFusion(sum(1 for q, _ in self.edges if q == role), dim_model, dropout)
                for role in self.role_cameras
            }
        )
        # A learned embedding per camera (by name, so dataset key order does not matter). In spatial
        # mode a fixed 2-D sine embedding of the grid cell is added to it.
        self.camera_embed = nn.ParameterDict(
            {module_key(cam): nn.Parameter(torch.randn(1, dim_model)) for cam in self.camera_keys}
        )
        # Stand-ins for dropped or missing cameras; built only when used, so every parameter trains.
        self.absent_token = (
            nn.ParameterDict(
                {
                    module_key(cam): nn.Parameter(0.02 * torch.randn(self._tokens_of(cam), dim_model))
                    for cam in self.camera_keys
                }
            )
            if absent_tokens
            else None
        )
        self.view_gate = ViewGate(dim_model) if view_gating else None
        if token_mode == "spatial":
            sine = ACTSinusoidalPositionEmbedding2d(dim_model // 2)
            for role in self.role_cameras:
                rows, cols = role_grids[role]
                cell_pos = sine(torch.zeros(1, 1, rows, cols))  # (1, D, rows, cols)
                self.register_buffer(
                    f"cell_pos_{role}", cell_pos.flatten(2)[0].T.contiguous(), persistent=False
                )

    def _tokens_of(self, cam: str) -> int:
        return self.extractors[self.camera_roles[cam]].num_tokens

    def num_tokens(self) -> int:
        """Encoder tokens this module produces per sample."""
        return sum(self._tokens_of(c) for c in self.camera_keys)

    def _camera_tokens(
        self, cam: str, feature_map: Tensor | None, dropped: Tensor | None, batch_size: int
    ) -> Tensor:
        """(B, n_tok, D) tokens of one camera: extracted, or the absent token where it is missing/dropped."""
        if feature_map is None:
            if self.absent_token is None:
                raise ValueError(f"camera {cam!r} is missing and this policy has no absent-camera token.")
            return self.absent_token[module_key(cam)].unsqueeze(0).expand(batch_size, -1, -1)
        tokens = self.extractors[self.camera_roles[cam]](feature_map)
        if dropped is not None and self.absent_token is not None:
            absent = self.absent_token[module_key(cam)].unsqueeze(0)
            tokens = torch.where(dropped[:, None, None], absent, tokens)
        return tokens

    def _token_pos(self, cam: str) -> Tensor:
        """(n_tok, D) position embedding of one camera's tokens."""
        pos = self.camera_embed[module_key(cam)]
        if self.token_mode == "spatial":
            pos = pos + getattr(self, f"cell_pos_{self.camera_roles[cam]}")
        return pos

    def forward(
        self, feature_maps: Mapping[str, Tensor], dropped: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Cross-attended camera tokens.

        Args:
            feature_maps: camera key -> (B, C, H, W) for the cameras that are present. A camera left out
                is replaced by its absent token (only if the module has absent tokens).
            dropped: optional (B, n_cams) bool, True where a camera is dropped for that sample (training).
        Returns:
            tokens (T, B, D) in camera order and their position embeddings (T, 1, D).
        """
        batch_size = next(iter(feature_maps.values())).shape[0]
        device = next(iter(feature_maps.values())).device
        present = torch.ones(batch_size, len(self.camera_keys), dtype=torch.bool, device=device)
        for i, cam in enumerate(self.camera_keys):
            if cam not in feature_maps:
                present[:, i] = False
        if dropped is not None:
            present &= ~dropped

        # 1. Role extractors: each camera's tokens, grouped by role -> (B, n_cams * n_tok, D).
        cam_tokens = {
            cam: self._camera_tokens(
                cam, feature_maps.get(cam), None if dropped is None else dropped[:, i], batch_size
            )
            for i, cam in enumerate(self.camera_keys)
        }
        role_tokens = {
            role: torch.cat([cam_tokens[c] for c in cams], dim=1) for role, cams in self.role_cameras.items()
        }
        role_pos = {
            role: torch.cat([self._token_pos(c) for c in cams], dim=0).unsqueeze(0)
            for role, cams in self.role_cameras.items()
        }

        # 2. Directed cross-attention, one module per edge. Pooled mode feeds the bare tokens, as the
        #    design does; spatial mode adds positions to queries and keys (DETR style) so that attention
        #    can tell the cells apart.
        attended: dict[str, list[Tensor]] = {role: [] for role in self.role_cameras}
        self.last_attention = {}
        for q_role, k_role in self.edges:
            query, key, value = role_tokens[q_role], role_tokens[k_role], role_tokens[k_role]
            if self.token_mode == "spatial":
                query, key = query + role_pos[q_role], key + role_pos[k_role]
            name = edge_module_key(q_role, k_role)
            out, weights = self.cross_attention[name](query, key, value, need_weights=self.capture_attention)
            if self.capture_attention:
                self.last_attention[name] = weights.detach()  # (B, n_query_tokens, n_key_tokens)
            attended[q_role].append(out)

        # 3. Per-role fusion, then back to camera order.
        fused = {role: self.fusion[role](role_tokens[role], attended[role]) for role in self.role_cameras}
        per_camera: dict[str, Tensor] = {}
        for role, cams in self.role_cameras.items():
            for cam, chunk in zip(
                cams, fused[role].split([self._tokens_of(c) for c in cams], dim=1), strict=True
            ):
                per_camera[cam] = chunk

        # 4. Optional view gating: scale each camera's tokens by its per-sample weight.
        if self.view_gate is not None:
            summaries = torch.stack([per_camera[c].mean(dim=1) for c in self.camera_keys], dim=1)
            gate = self.view_gate(summaries, present)
            self.last_gate = gate.detach()
            per_camera = {c: per_camera[c] * gate[:, i, None, None] for i, c in enumerate(self.camera_keys)}

        tokens = torch.cat([per_camera[c] for c in self.camera_keys], dim=1).transpose(0, 1)  # (T, B, D)
        pos = torch.cat([self._token_pos(c) for c in self.camera_keys], dim=0).unsqueeze(1)  # (T, 1, D)
        return tokens, pos
