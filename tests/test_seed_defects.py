"""One test (or more) per defect of the design's sketch (shared/design/seed-review.md), plus the
module-level guarantees issue 2 asks for: gradients everywhere, no stray parameters, save/load."""

from __future__ import annotations

import torch
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy
from policy_factory import (
    ALOHA_CAMERAS,
    ALOHA_ROLES,
    CHUNK,
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


# Defect 1: channels hard-coded to 2048.
def test_channels_come_from_the_backbone():
    resnet18 = make_policy(camera_roles=ALOHA_ROLES)
    assert fusion(resnet18).extractors["wrist_detail"].proj.in_features == 512 * 6 * 6
    assert fusion(resnet18).extractors["global_overview"].proj.in_features == 512 * 2 * 2

    cams = {"top": (64, 64), "wrist": (64, 64)}
    resnet50 = make_policy(cams, vision_backbone="resnet50")
    assert fusion(resnet50).extractors["wrist_detail"].proj.in_features == 2048 * 6 * 6
    chunk = resnet50.predict_action_chunk(observation(make_batch(cams)))
    assert chunk.shape == (2, CHUNK, 14)


# Defect 2: one LayerNorm shared by all roles.
def test_each_role_has_its_own_layernorm_and_all_learn():
    policy = make_policy(camera_roles=ALOHA_ROLES)
    norms = {role: f.norm for role, f in fusion(policy).fusion.items()}
    assert set(norms) == {"wrist_detail", "wrist_context", "global_overview"}
    assert len({id(n) for n in norms.values()}) == 3
    backward_once(policy, make_batch())
    for role, norm in norms.items():
        assert norm.weight.grad is not None and norm.weight.grad.abs().sum() > 0, role


# Defect 3: attention modules mis-wired (one module serving several directions).
def test_one_attention_module_per_directed_edge():
    policy = make_policy(camera_roles=ALOHA_ROLES)
    attn = fusion(policy).cross_attention
    assert set(attn) == {
        "wrist_detail__from__global_overview",
        "wrist_detail__from__wrist_context",
        "wrist_context__from__global_overview",
        "wrist_context__from__wrist_detail",
        "global_overview__from__wrist_detail",
        "global_overview__from__wrist_context",
    }
    assert len({id(m) for m in attn.values()}) == 6
    params = [m.in_proj_weight.data_ptr() for m in attn.values()]
    assert len(set(params)) == 6


def test_an_edge_module_changes_only_its_query_roles_tokens():
    """Perturbing the global<-detail module must change the global camera's token and no other."""
    policy = make_policy(camera_roles=ALOHA_ROLES, dropout=0.0).eval()
    model: HeteroACT = policy.model
    batch = make_batch(with_action=False)
    images = [batch[k] for k in policy.config.image_features]
    with torch.no_grad():
        before, _ = model.camera_tokens(images)
        fusion(policy).cross_attention["global_overview__from__wrist_detail"].out_proj.bias.add_(1.0)
        after, _ = model.camera_tokens(images)
    changed = [(before[i] - after[i]).abs().max().item() > 1e-6 for i in range(3)]
    keys = list(policy.config.image_features)
    assert dict(zip(keys, changed, strict=True)) == {
        "observation.images.top": True,
        "observation.images.left_wrist": False,
        "observation.images.right_wrist": False,
    }


# Defect 4: position embeddings read past the end of ACT's 1-D table.
def test_every_camera_token_has_its_own_position_embedding():
    policy = make_policy(camera_roles=ALOHA_ROLES)
    model = policy.model
    assert model.encoder_1d_feature_pos_embed.num_embeddings == 2  # latent + state, untouched
    batch = make_batch(with_action=False)
    tokens, pos = model.camera_tokens([batch[k] for k in policy.config.image_features])
    assert tokens.shape == (3, 2, 32) and pos.shape == (3, 1, 32)
    assert torch.unique(pos.squeeze(1), dim=0).shape[0] == 3  # one distinct embedding per camera

    spatial = make_policy(camera_roles=ALOHA_ROLES, token_mode="spatial")
    tokens, pos = spatial.model.camera_tokens([batch[k] for k in spatial.config.image_features])
    assert tokens.shape[0] == pos.shape[0] == 36 + 16 + 4
    assert torch.unique(pos.squeeze(1), dim=0).shape[0] == 56


# Defect 5: softmax over one key selects nothing.
def _query_projection_grad(policy: HeteroACTPolicy, edge: str) -> torch.Tensor:
    mha = fusion(policy).cross_attention[edge]
    d = mha.embed_dim
    return mha.in_proj_weight.grad[:d]  # rows of W_q


def test_pooled_mode_with_one_camera_per_role_is_degenerate_as_documented():
    """The design's default mode: one key per query, so W_q gets exactly zero gradient."""
    policy = make_policy(camera_roles=ALOHA_ROLES)
    backward_once(policy, make_batch())
    assert torch.count_nonzero(_query_projection_grad(policy, "global_overview__from__wrist_detail")) == 0


def test_attention_selects_when_there_are_several_keys():
    """Two wrist cameras in one role, or spatial tokens: the query matters (W_q learns)."""
    two_wrists = make_policy(
        camera_roles={"top": "global_overview", "left_wrist": "wrist_detail", "right_wrist": "wrist_detail"}
    )
    backward_once(two_wrists, make_batch())
    assert torch.count_nonzero(_query_projection_grad(two_wrists, "global_overview__from__wrist_detail")) > 0

    spatial = make_policy(camera_roles=ALOHA_ROLES, token_mode="spatial")
    backward_once(spatial, make_batch())
    assert torch.count_nonzero(_query_projection_grad(spatial, "global_overview__from__wrist_detail")) > 0


# Defect 6: backbone registered twice.
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


# Defect 7: roles by position.
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
        "cam_left_wrist": (48, 64),
        "cam_right_wrist": (48, 64),
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


# Defects 8 and 9: a list of per-camera tensors of different sizes, equal sizes batched.
def test_cameras_of_different_sizes_and_one_backbone_pass_per_size():
    policy = make_policy(camera_roles=ALOHA_ROLES).eval()
    calls: list[tuple[int, ...]] = []
    handle = policy.model.backbone.register_forward_hook(
        lambda m, inp, out: calls.append(tuple(inp[0].shape))
    )
    policy.predict_action_chunk(observation(make_batch(batch_size=3, with_action=False)))
    handle.remove()
    assert sorted(calls) == sorted([(3, 3, 96, 128), (6, 3, 64, 80)])


def test_batched_backbone_pass_equals_per_camera_passes():
    policy = make_policy(camera_roles=ALOHA_ROLES).eval()
    batch = make_batch(with_action=False)
    images = [batch[k] for k in policy.config.image_features]
    with torch.no_grad():
        maps = policy.model.camera_feature_maps(images)
        for key, img in zip(policy.config.image_features, images, strict=True):
            torch.testing.assert_close(maps[key], policy.model.backbone(img)["feature_map"])


# Issue 2: gradients, stray parameters, save/load identity.
def test_every_fusion_parameter_gets_a_nonzero_gradient():
    for mode in ("pooled", "spatial"):
        policy = make_policy(camera_roles=ALOHA_ROLES, token_mode=mode)
        backward_once(policy, make_batch())
        for name, param in fusion(policy).named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, f"{mode}: {name}"


def test_parent_image_path_is_never_built():
    policy = make_policy(camera_roles=ALOHA_ROLES)
    for attr in ("encoder_img_feat_input_proj", "encoder_cam_feat_pos_embed"):
        assert not hasattr(policy.model, attr)
    assert not any("encoder_img_feat_input_proj" in k for k in policy.state_dict())
    backbones = [m for m in policy.modules() if m.__class__.__name__ == "IntermediateLayerGetter"]
    assert len(backbones) == 1


def test_save_load_gives_identical_action_chunks(tmp_path):
    for mode in ("pooled", "spatial"):
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
