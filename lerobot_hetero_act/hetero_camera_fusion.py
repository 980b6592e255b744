"""Heterogeneous camera cross-attention: backbone feature maps -> one set of encoder tokens per camera.

Data flow (one forward pass):

    feature map per camera (B, C, H, W), from the policy's single shared backbone
      -> role extractor      pool to the role's grid, project to dim_model       (B, n_tok, D) per camera
      -> cross-attention     one attention module per directed edge query_role<-key_role; the queries
                             are the query role's tokens, keys/values all tokens of the key role's cameras
      -> fusion              per role: MLP([own, attended per in-edge]) + own, then the role's LayerNorm
      -> encoder tokens      (T, B, D) in camera order, with a position embedding for every token

Three token modes (`token_mode`), all with the same roles, grids, directed edges and fusion:

- `cell_keys` (default): each camera still contributes ONE fused token to ACT's encoder, but an edge's
  keys and values are the key role's grid cells (Linear(C -> D) per cell, 2-D sine position of the
  cell plus the camera's embedding). Every edge therefore chooses among rows*cols keys per camera, so
  its query and key projections learn where to look.
- `pooled_keys`: the original design taken literally: queries, keys and values are the pooled camera
  tokens. With one camera per role each edge's softmax runs over a single key, its weight is 1 for
  any query, and W_q/W_k get no gradient: the edge is a linear map of the other camera's token.
  Kept so that checkpoints saved as `pooled` (its former name) load and act as before.
- `spatial`: every grid cell is an encoder token (2-D sine position plus camera embedding), so
  attention has several keys and ACT's encoder sees the cells too (more tokens, more compute).

Two options go past the design, both off by default:
- camera dropout: a learned "absent" token per camera stands in for a camera that is dropped in
  training or missing at inference (B, n_tok, D), so a policy trained with it survives a lost camera;
- view gating: a per-sample softmax weight per camera (in the spirit of BFA's best-view weighting)
  scales each camera's fused tokens; the weights are kept in `last_gate` for logging.

The backbone is not held here: the policy owns it once (so its weights, learning-rate group and
checkpoint keys exist once) and hands over feature maps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from lerobot.policies.act.modeling_act import ACTSinusoidalPositionEmbedding2d
from torch import Tensor, nn

from .camera_roles import CELL_KEYS, POOLED_KEYS, SPATIAL, built_edges, camera_short_name, resolve_token_mode


def module_key(name: str) -> str:
    """A camera or edge name usable as a ModuleDict/ParameterDict key (no dots allowed there)."""
    return camera_short_name(name).replace(".", "_")


def edge_module_key(query_role: str, key_role: str) -> str:
    return f"{query_role}__from__{key_role}"


class RoleFeatureExtractor(nn.Module):
    """Pools a backbone feature map to the role's grid and projects it to dim_model.

    Returns (tokens, cells):
      tokens  the camera's encoder tokens: (B, 1, D) from flatten(C*rows*cols) -> Linear for the
              pooled modes; (B, rows*cols, D) from a per-cell Linear(C) in spatial mode.
      cells   (B, rows*cols, D) per-cell tokens that other roles attend over: a second per-cell
              Linear(C) in cell_keys mode, the tokens themselves in spatial mode, None in pooled_keys.
    """

    def __init__(
        self, in_channels: int, grid: Sequence[int], dim_model: int, dropout: float, token_mode: str
    ):
        super().__init__()
        rows, cols = grid
        self.token_mode = token_mode
        self.pool = nn.AdaptiveAvgPool2d((rows, cols))
        in_features = in_channels if token_mode == SPATIAL else in_channels * rows * cols
        self.proj = nn.Linear(in_features, dim_model)
        self.cell_proj = nn.Linear(in_channels, dim_model) if token_mode == CELL_KEYS else None
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.num_tokens = rows * cols if token_mode == SPATIAL else 1
        self.num_cells = rows * cols

    def _project(self, proj: nn.Linear, x: Tensor) -> Tensor:
        return self.dropout(self.act(proj(x)))

    def forward(self, feature_map: Tensor) -> tuple[Tensor, Tensor | None]:
        pooled = self.pool(feature_map)  # (B, C, rows, cols)
        cells_in = pooled.flatten(2).transpose(1, 2)  # (B, rows*cols, C)
        if self.token_mode == SPATIAL:
            tokens = self._project(self.proj, cells_in)
            return tokens, tokens
        tokens = self._project(self.proj, pooled.flatten(1).unsqueeze(1))  # (B, 1, D)
        cells = self._project(self.cell_proj, cells_in) if self.cell_proj is not None else None
        return tokens, cells


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
        self.norm = nn.LayerNorm(
            dim_model
        )  # per role: roles see different cameras, so their statistics differ

    def forward(self, own: Tensor, attended: Sequence[Tensor]) -> Tensor:
        fused = self.mlp(torch.cat([own, *attended], dim=-1))
        return self.norm(own + fused)


class ViewGate(nn.Module):
    """Per-sample importance of each camera: softmax over cameras of a score of its mean fused token.

    Each present camera keeps at least `min_share` of the total weight: an unconstrained softmax gate
    collapses onto one camera within a few hundred steps (measured: ~2.96 of 3 on one camera after
    100 steps), after which the other cameras barely reach the encoder and their extractors stop
    learning. Weights are rescaled to average 1 over the present cameras, so gating at init leaves the
    tokens' scale unchanged; absent cameras get weight 0.
    """

    def __init__(self, dim_model: int, min_share: float = 0.0):
        super().__init__()
        # No bias: one bias shared by every camera's score cancels in the softmax and never learns.
        self.score = nn.Linear(dim_model, 1, bias=False)
        self.min_share = min_share

    def forward(self, camera_summaries: Tensor, present: Tensor) -> Tensor:
        """camera_summaries (B, n_cams, D), present (B, n_cams) bool -> weights (B, n_cams)."""
        scores = self.score(camera_summaries).squeeze(-1).masked_fill(~present, float("-inf"))
        n_present = present.sum(dim=-1, keepdim=True)
        shares = self.min_share + (1 - n_present * self.min_share) * torch.softmax(scores, dim=-1)
        return shares * present * n_present


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
        token_mode: str = CELL_KEYS,
        absent_tokens: bool = False,
        view_gating: bool = False,
        view_gate_min_share: float = 0.0,
    ):
        super().__init__()
        if not camera_roles:
            raise ValueError("HeterogeneousCameraFusion needs at least one camera.")
        self.token_mode = resolve_token_mode(token_mode)
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
        self.edges: list[tuple[str, str]] = built_edges(edges, self.role_cameras)

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
        # A learned embedding per camera (by name, so dataset key order does not matter). Cell tokens
        # (keys in cell_keys mode, encoder tokens in spatial mode) add a fixed 2-D sine embedding of
        # their grid cell, so attention can tell the cells apart.
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
        self.view_gate = ViewGate(dim_model, view_gate_min_share) if view_gating else None
        if token_mode in (CELL_KEYS, SPATIAL):
            sine = ACTSinusoidalPositionEmbedding2d(dim_model // 2)
            for role in self.role_cameras:
                rows, cols = role_grids[role]
                cell_pos = sine(torch.zeros(1, 1, rows, cols))  # (1, D, rows, cols)
                self.register_buffer(
                    f"cell_pos_{role}", cell_pos.flatten(2)[0].T.contiguous(), persistent=False
                )

    def _attention_inputs(
        self, features: Mapping[str, tuple[Tensor, Tensor | None]], role_tokens: Mapping[str, Tensor]
    ) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]]:
        """Per role: queries (B, n_q, D), keys and values (B, n_k, D) of the cross-attention.

        pooled_keys feeds the bare pooled tokens, as the original design does (and as its checkpoints
        were trained); the cell modes add positions to queries and keys (DETR style), not to values.
        """
        if self.token_mode == POOLED_KEYS:
            return dict(role_tokens), dict(role_tokens), dict(role_tokens)
        queries, keys, values = {}, {}, {}
        for role, cams in self.role_cameras.items():
            query_pos = torch.cat([self._token_pos(c) for c in cams], dim=0)
            key_pos = torch.cat([self.camera_embed[module_key(c)] + self._cell_pos(c) for c in cams], dim=0)
            values[role] = torch.cat([features[c][1] for c in cams], dim=1)
            queries[role] = role_tokens[role] + query_pos.unsqueeze(0)
            keys[role] = values[role] + key_pos.unsqueeze(0)
        return queries, keys, values

    def _tokens_of(self, cam: str) -> int:
        return self.extractors[self.camera_roles[cam]].num_tokens

    def num_tokens(self) -> int:
        """Encoder tokens this module produces per sample."""
        return sum(self._tokens_of(c) for c in self.camera_keys)

    def _camera_features(
        self, cam: str, feature_map: Tensor | None, dropped: Tensor | None, batch_size: int
    ) -> tuple[Tensor, Tensor | None]:
        """(tokens, cells) of one camera: extracted, or its absent token where it is missing/dropped.

        An absent camera's cells (cell_keys mode) are its absent token at every cell: with the cell
        positions added they stay distinct keys, and no extra parameters are needed.
        """
        absent = None if self.absent_token is None else self.absent_token[module_key(cam)].unsqueeze(0)
        extractor = self.extractors[self.camera_roles[cam]]
        if feature_map is None:
            if absent is None:
                raise ValueError(f"camera {cam!r} is missing and this policy has no absent-camera token.")
            tokens = absent.expand(batch_size, -1, -1)
            if self.token_mode == SPATIAL:
                return tokens, tokens
            cells = tokens.expand(-1, extractor.num_cells, -1) if self.token_mode == CELL_KEYS else None
            return tokens, cells
        tokens, cells = extractor(feature_map)
        if dropped is not None and absent is not None:
            where = dropped[:, None, None]
            if self.token_mode == SPATIAL:
                tokens = cells = torch.where(where, absent, tokens)
            else:
                tokens = torch.where(where, absent, tokens)
                if cells is not None:
                    cells = torch.where(where, absent, cells)
        return tokens, cells

    def _token_pos(self, cam: str) -> Tensor:
        """(n_tok, D) position embedding of one camera's encoder tokens."""
        pos = self.camera_embed[module_key(cam)]
        if self.token_mode == SPATIAL:
            pos = pos + self._cell_pos(cam)
        return pos

    def _cell_pos(self, cam: str) -> Tensor:
        """(n_cells, D) 2-D sine embedding of the camera's role grid."""
        return getattr(self, f"cell_pos_{self.camera_roles[cam]}")

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

        # 1. Role extractors: each camera's tokens (and cells), grouped by role.
        features = {
            cam: self._camera_features(
                cam, feature_maps.get(cam), None if dropped is None else dropped[:, i], batch_size
            )
            for i, cam in enumerate(self.camera_keys)
        }
        role_tokens = {
            role: torch.cat([features[c][0] for c in cams], dim=1) for role, cams in self.role_cameras.items()
        }
        queries, keys, values = self._attention_inputs(features, role_tokens)

        # 2. Directed cross-attention, one module per edge: the query role's tokens attend over the
        #    key role's keys (its cells, or its pooled tokens in pooled_keys mode).
        attended: dict[str, list[Tensor]] = {role: [] for role in self.role_cameras}
        self.last_attention = {}
        for q_role, k_role in self.edges:
            name = edge_module_key(q_role, k_role)
            out, weights = self.cross_attention[name](
                queries[q_role], keys[k_role], values[k_role], need_weights=self.capture_attention
            )
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
