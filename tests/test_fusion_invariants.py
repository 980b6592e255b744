"""Invariants of the camera-fusion path (docs/design.md explains each): channels and roles come from
the backbone and the camera names, every role and edge has its own weights, every camera token has
its own position, every edge's attention chooses among several keys, the backbone exists once and
runs once per image size, and every parameter learns."""

from __future__ import annotations

import pytest
import torch
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy
from policy_factory import (
    ALOHA_CAMERAS,
    ALOHA_ROLES,
    CHUNK,
    DESIGN_RIG_CAMERAS,
    make_batch,
    make_config,
    make_policy,
    observation,
)
from safetensors.torch import load_file

from lerobot_hetero_act.hetero_camera_fusion import HeterogeneousCameraFusion
from lerobot_hetero_act.modeling_hetero_act import HeteroACT, HeteroACTPolicy


def backward_once(policy: HeteroACTPolicy, batch: dict[str, torch.Tensor]) -> None:
    policy.train()
    policy.zero_grad()
    loss, _ = policy.forward(batch)
    loss.backward()


def fusion(policy: HeteroACTPolicy) -> HeterogeneousCameraFusion:
    return policy.model.camera_fusion


DESIGN_EDGES = [
    "wrist_detail__from__global_overview",
    "wrist_detail__from__wrist_context",
    "wrist_context__from__global_overview",
    "wrist_context__from__wrist_detail",
    "global_overview__from__wrist_detail",
    "global_overview__from__wrist_context",
]


def design_rig_policy(**overrides) -> HeteroACTPolicy:
    """The design's rig (one camera per role) with its default grids and the default token mode."""
    return make_policy(DESIGN_RIG_CAMERAS, camera_roles=ALOHA_ROLES, role_grids=None, **overrides)


def test_channels_come_from_the_backbone():
    resnet18 = design_rig_policy()
    assert fusion(resnet18).extractors["wrist_detail"].proj.in_features == 512 * 6 * 6
    assert fusion(resnet18).extractors["global_overview"].proj.in_features == 512 * 2 * 2
    assert fusion(resnet18).extractors["wrist_detail"].cell_proj.in_features == 512

    cams = {"top": (64, 64), "wrist": (64, 64)}
    resnet50 = make_policy(
        cams,
        vision_backbone="resnet50",
        role_grids={"wrist_detail": [2, 2], "wrist_context": [2, 2], "global_overview": [2, 2]},
    )
    assert fusion(resnet50).extractors["wrist_detail"].proj.in_features == 2048 * 2 * 2
    chunk = resnet50.predict_action_chunk(observation(make_batch(cams)))
    assert chunk.shape == (2, CHUNK, 14)


def test_each_role_has_its_own_layernorm_and_all_learn():
    policy = make_policy(camera_roles=ALOHA_ROLES)
    norms = {role: f.norm for role, f in fusion(policy).fusion.items()}
    assert set(norms) == {"wrist_detail", "wrist_context", "global_overview"}
    assert len({id(n) for n in norms.values()}) == 3
    backward_once(policy, make_batch())
    for role, norm in norms.items():
        assert norm.weight.grad is not None and norm.weight.grad.abs().sum() > 0, role


def test_one_attention_module_per_directed_edge():
    policy = make_policy(camera_roles=ALOHA_ROLES)
    attn = fusion(policy).cross_attention
    assert set(attn) == set(DESIGN_EDGES)
    assert len({id(m) for m in attn.values()}) == 6
    params = [m.in_proj_weight.data_ptr() for m in attn.values()]
    assert len(set(params)) == 6


@pytest.mark.parametrize("edge", DESIGN_EDGES)
def test_an_edge_module_changes_only_its_query_roles_tokens(edge):
    """Perturbing one edge's module changes the query role's camera token and no other camera's."""
    policy = make_policy(camera_roles=ALOHA_ROLES, dropout=0.0).eval()
    model: HeteroACT = policy.model
    batch = make_batch(with_action=False)
    images = {k: batch[k] for k in policy.config.image_features}
    with torch.no_grad():
        before, _ = model.camera_tokens(images)
        fusion(policy).cross_attention[edge].out_proj.bias.add_(1.0)
        after, _ = model.camera_tokens(images)
    changed = {
        key.removeprefix("observation.images."): (before[i] - after[i]).abs().max().item() > 1e-6
        for i, key in enumerate(policy.config.image_features)
    }
    query_role = edge.split("__from__")[0]
    assert changed == {cam: role == query_role for cam, role in ALOHA_ROLES.items()}


def test_every_camera_token_has_its_own_position_embedding():
    policy = make_policy(camera_roles=ALOHA_ROLES)
    model = policy.model
    assert model.encoder_1d_feature_pos_embed.num_embeddings == 2  # latent + state, untouched
    batch = make_batch(with_action=False)
    tokens, pos = model.camera_tokens({k: batch[k] for k in policy.config.image_features})
    assert tokens.shape == (3, 2, 32) and pos.shape == (3, 1, 32)
    assert torch.unique(pos.squeeze(1), dim=0).shape[0] == 3  # one distinct embedding per camera

    spatial = design_rig_policy(token_mode="spatial")
    batch = make_batch(DESIGN_RIG_CAMERAS, with_action=False)
    tokens, pos = spatial.model.camera_tokens({k: batch[k] for k in spatial.config.image_features})
    assert tokens.shape[0] == pos.shape[0] == 36 + 16 + 4
    assert torch.unique(pos.squeeze(1), dim=0).shape[0] == 56


def in_proj_grads(policy: HeteroACTPolicy, edge: str) -> dict[str, torch.Tensor]:
    """Gradient of one edge's W_q, W_k, W_v (the three row blocks of MultiheadAttention's in_proj)."""
    mha = fusion(policy).cross_attention[edge]
    grad = mha.in_proj_weight.grad
    d = mha.embed_dim
    return {"W_q": grad[:d], "W_k": grad[d : 2 * d], "W_v": grad[2 * d :]}


@pytest.mark.parametrize("token_mode", ["cell_keys", "spatial"])
def test_every_edge_learns_where_to_look_in_the_design_rig(token_mode):
    """One camera per role, default grids: each edge's query, key and value projections all get a
    gradient, because the query attends over several keys (the key role's grid cells)."""
    policy = design_rig_policy(token_mode=token_mode)
    assert policy.config.token_mode == token_mode
    backward_once(policy, make_batch(DESIGN_RIG_CAMERAS))
    for edge in DESIGN_EDGES:
        for block, grad in in_proj_grads(policy, edge).items():
            assert torch.count_nonzero(grad) > 0, f"{edge} {block}"


def test_the_default_token_mode_attends_over_cells():
    assert HeteroACTPolicy.config_class().token_mode == "cell_keys"
    policy = design_rig_policy()
    policy.model.camera_fusion.capture_attention = True
    batch = make_batch(DESIGN_RIG_CAMERAS, with_action=False)
    policy.predict_action_chunk(observation(batch))
    weights = policy.model.camera_fusion.last_attention
    # Keys per edge = the key role's grid cells; one query (the camera's token) per query role.
    grid_cells = {"wrist_detail": 36, "wrist_context": 16, "global_overview": 4}
    for edge in DESIGN_EDGES:
        key_role = edge.split("__from__")[1]
        assert weights[edge].shape == (2, 1, grid_cells[key_role])
        assert not torch.allclose(weights[edge], torch.full_like(weights[edge], 1 / grid_cells[key_role]))


def test_pooled_keys_mode_runs_each_edge_over_a_single_key():
    """The original design's pooled tokens as keys: with one camera per role each softmax has one key,
    so W_q and W_k never learn; kept as an option (checkpoints saved as `pooled` load into it)."""
    policy = design_rig_policy(token_mode="pooled")
    assert policy.config.token_mode == "pooled_keys"
    backward_once(policy, make_batch(DESIGN_RIG_CAMERAS))
    for edge in DESIGN_EDGES:
        grads = in_proj_grads(policy, edge)
        assert torch.count_nonzero(grads["W_q"]) == 0 and torch.count_nonzero(grads["W_k"]) == 0, edge
        assert torch.count_nonzero(grads["W_v"]) > 0, edge


def test_pooled_keys_selects_when_a_role_has_several_cameras():
    two_wrists = make_policy(
        camera_roles={"top": "global_overview", "left_wrist": "wrist_detail", "right_wrist": "wrist_detail"},
        token_mode="pooled_keys",
    )
    backward_once(two_wrists, make_batch())
    grads = in_proj_grads(two_wrists, "global_overview__from__wrist_detail")
    assert all(torch.count_nonzero(g) > 0 for g in grads.values())


def test_backbone_is_registered_once_and_safetensors_save_works(tmp_path):
    policy = make_policy(camera_roles=ALOHA_ROLES)
    state = policy.state_dict()
    backbone_keys = [k for k in state if ".conv1.weight" in k and "layer" not in k]
    assert backbone_keys == ["model.backbone.conv1.weight"]
    ptrs = [t.data_ptr() for t in state.values() if t.numel() > 0]
    assert len(ptrs) == len(set(ptrs)), "some tensors are registered under two names"
    assert not any(k.startswith("model.camera_fusion.backbone") for k in state)

    policy.save_pretrained(tmp_path)
    saved = load_file(tmp_path / "model.safetensors")
    assert set(saved) == set(state)

    groups = policy.get_optim_params()
    backbone_ids = {id(p) for p in policy.model.backbone.parameters() if p.requires_grad}
    assert {id(p) for p in groups[1]["params"]} == backbone_ids
    assert not backbone_ids & {id(p) for p in groups[0]["params"]}


def test_camera_order_in_the_dataset_does_not_change_which_weights_a_camera_uses():
    cams_a = ALOHA_CAMERAS
    cams_b = dict(reversed(list(ALOHA_CAMERAS.items())))
    policy_a = make_policy(cams_a, camera_roles=ALOHA_ROLES).eval()
    policy_b = make_policy(cams_b, seed=1, camera_roles=ALOHA_ROLES).eval()
    assert list(policy_a.config.image_features) != list(policy_b.config.image_features)
    policy_b.load_state_dict(policy_a.state_dict())
    obs = observation(make_batch(with_action=False))
    torch.testing.assert_close(policy_a.predict_action_chunk(obs), policy_b.predict_action_chunk(obs))


def test_roles_default_from_names_for_any_number_of_cameras():
    one = make_policy({"front": (64, 64)})
    assert one.config.camera_roles == {"observation.images.front": "global_overview"}
    assert fusion(one).edges == [] and len(fusion(one).cross_attention) == 0
    assert one.predict_action_chunk(observation(make_batch({"front": (64, 64)}))).shape == (2, CHUNK, 14)

    four = {
        "cam_high": (64, 64),
        "cam_low": (64, 64),
        "cam_left_wrist": (64, 80),
        "cam_right_wrist": (64, 80),
    }
    policy = make_policy(four)
    assert policy.config.camera_roles == {
        "observation.images.cam_high": "global_overview",
        "observation.images.cam_low": "global_overview",
        "observation.images.cam_left_wrist": "wrist_detail",
        "observation.images.cam_right_wrist": "wrist_detail",
    }
    # wrist_context has no camera: its four edges are not built, and no extractor/fusion exists for it.
    assert set(fusion(policy).cross_attention) == {
        "wrist_detail__from__global_overview",
        "global_overview__from__wrist_detail",
    }
    assert "wrist_context" not in fusion(policy).extractors


def test_cameras_of_different_sizes_and_one_backbone_pass_per_size():
    policy = make_policy(camera_roles=ALOHA_ROLES).eval()
    calls: list[tuple[int, ...]] = []
    handle = policy.model.backbone.register_forward_hook(
        lambda m, inp, out: calls.append(tuple(inp[0].shape))
    )
    policy.predict_action_chunk(observation(make_batch(batch_size=3, with_action=False)))
    handle.remove()
    assert sorted(calls) == sorted([(3, 3, *ALOHA_CAMERAS["top"]), (6, 3, *ALOHA_CAMERAS["left_wrist"])])


def test_batched_backbone_pass_equals_per_camera_passes():
    policy = make_policy(camera_roles=ALOHA_ROLES).eval()
    batch = make_batch(with_action=False)
    images = {k: batch[k] for k in policy.config.image_features}
    with torch.no_grad():
        maps = policy.model.camera_feature_maps(images)
        for key, img in images.items():
            torch.testing.assert_close(maps[key], policy.model.backbone(img)["feature_map"])


@pytest.mark.parametrize("mode", ["cell_keys", "spatial"])
def test_every_fusion_parameter_gets_a_gradient_in_every_slice(mode):
    """Per tensor, and per q/k/v block of every attention projection (a dead query block must fail)."""
    policy = design_rig_policy(token_mode=mode)
    backward_once(policy, make_batch(DESIGN_RIG_CAMERAS))
    for name, param in fusion(policy).named_parameters():
        assert param.grad is not None and torch.count_nonzero(param.grad) > 0, f"{mode}: {name}"
        if name.endswith("in_proj_weight") or name.endswith("in_proj_bias"):
            for i, block in enumerate(param.grad.chunk(3, dim=0)):
                if name.endswith("in_proj_bias") and i == 1:
                    continue  # a key bias shifts every logit of a query equally: softmax ignores it
                assert torch.count_nonzero(block) > 0, f"{mode}: {name} block {'qkv'[i]}"


def test_parent_image_path_is_never_built():
    policy = make_policy(camera_roles=ALOHA_ROLES)
    for attr in ("encoder_img_feat_input_proj", "encoder_cam_feat_pos_embed"):
        assert not hasattr(policy.model, attr)
    assert not any("encoder_img_feat_input_proj" in k for k in policy.state_dict())
    backbones = [m for m in policy.modules() if m.__class__.__name__ == "IntermediateLayerGetter"]
    assert len(backbones) == 1


def test_save_load_gives_identical_action_chunks(tmp_path):
    for mode in ("cell_keys", "pooled_keys", "spatial"):
        policy = make_policy(camera_roles=ALOHA_ROLES, token_mode=mode).eval()
        obs = observation(make_batch(with_action=False))
        before = policy.predict_action_chunk(obs)
        policy.save_pretrained(tmp_path / mode)
        loaded = HeteroACTPolicy.from_pretrained(tmp_path / mode).eval()
        assert loaded.config.camera_roles == policy.config.camera_roles
        assert loaded.config.token_mode == mode
        assert torch.equal(before, loaded.predict_action_chunk(obs))


def test_vae_latent_path_matches_lerobot_act():
    """HeteroACT mirrors ACT.forward's VAE branch; with shared weights and seed, mu/log-sigma agree."""
    cams = {"top": (64, 64)}
    hetero = make_policy(cams)
    act = ACTPolicy(make_config(cams, config_cls=ACTConfig))
    missing, unexpected = hetero.load_state_dict(act.state_dict(), strict=False)
    assert all(k.startswith("model.camera_fusion") for k in missing)
    assert all(k.startswith("model.encoder_img_feat_input_proj") for k in unexpected)
    batch = make_batch(cams)
    batch["observation.images"] = [batch["observation.images.top"]]
    hetero.train()
    act.train()
    torch.manual_seed(0)
    _, (mu_h, ls_h) = hetero.model(batch)
    torch.manual_seed(0)
    _, (mu_a, ls_a) = act.model(batch)
    torch.testing.assert_close(mu_h, mu_a)
    torch.testing.assert_close(ls_h, ls_a)
