"""Token modes, view gating, camera dropout / missing cameras, attention capture, and the checks that
keep a bad observation from becoming a silent wrong action."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from bench.learning import parse_view_gate_log_line
from policy_factory import (
    ALOHA_CAMERAS,
    ALOHA_ROLES,
    CHUNK,
    DESIGN_RIG_CAMERAS,
    TINY_ROLE_GRIDS,
    make_batch,
    make_policy,
    observation,
)

from lerobot_hetero_act.camera_roles import camera_short_name
from lerobot_hetero_act.input_checks import ObservationError
from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy


def backward_once(policy, batch):
    policy.train()
    policy.zero_grad()
    loss, loss_dict = policy.forward(batch)
    loss.backward()
    return loss_dict


@pytest.mark.parametrize("mode", ["cell_keys", "pooled_keys", "spatial"])
@pytest.mark.parametrize(
    "options",
    [{}, {"view_gating": True}, {"camera_dropout": 0.5}, {"view_gating": True, "camera_dropout": 0.5}],
)
def test_every_fusion_parameter_learns_in_each_mode_and_option(mode, options):
    policy = make_policy(camera_roles=ALOHA_ROLES, token_mode=mode, **options)
    torch.manual_seed(3)  # camera dropout draws; batch of 8 makes both kept and dropped cameras likely
    backward_once(policy, make_batch(batch_size=8))
    for name, param in policy.model.camera_fusion.named_parameters():
        assert param.grad is not None and torch.count_nonzero(param.grad) > 0, name


def test_token_count_per_mode_in_the_design_rig():
    """spatial: every grid cell is an encoder token; the two key modes give one token per camera."""
    spatial = make_policy(DESIGN_RIG_CAMERAS, camera_roles=ALOHA_ROLES, role_grids=None, token_mode="spatial")
    assert spatial.model.camera_fusion.num_tokens() == 6 * 6 + 4 * 4 + 2 * 2
    for mode in ("cell_keys", "pooled_keys"):
        policy = make_policy(DESIGN_RIG_CAMERAS, camera_roles=ALOHA_ROLES, role_grids=None, token_mode=mode)
        assert policy.model.camera_fusion.num_tokens() == 3
    chunk = spatial.eval().predict_action_chunk(
        observation(make_batch(DESIGN_RIG_CAMERAS, with_action=False))
    )
    assert chunk.shape == (2, CHUNK, 14)


def test_view_gate_weights_are_per_sample_and_logged():
    policy = make_policy(camera_roles=ALOHA_ROLES, view_gating=True)
    loss_dict = backward_once(policy, make_batch(batch_size=4))
    gate = policy.model.camera_fusion.last_gate
    assert gate.shape == (4, 3)
    torch.testing.assert_close(gate.sum(dim=1), torch.full((4,), 3.0))
    assert {"gate_top", "gate_left_wrist", "gate_right_wrist"} <= set(loss_dict)
    assert abs(sum(loss_dict[f"gate_{c}"] for c in ALOHA_CAMERAS) - 3.0) < 1e-4


@pytest.mark.parametrize("min_share", [0.0, 0.1, 0.3])
def test_view_gate_keeps_every_camera_above_its_minimum_share(min_share):
    """A gate whose scores favour one camera overwhelmingly still leaves each camera min_share of the
    weight (min_share 0 is the unconstrained softmax, which collapses: the control)."""
    policy = make_policy(camera_roles=ALOHA_ROLES, view_gating=True, view_gate_min_share=min_share).eval()
    gate = policy.model.camera_fusion.view_gate
    with torch.no_grad():
        gate.score.weight.zero_()
        summaries = torch.zeros(2, 3, gate.score.in_features)
        summaries[:, 0, 0] = 1.0
        gate.score.weight[0, 0] = 1e4  # camera 0's score dwarfs the others'
        weights = gate(summaries, torch.ones(2, 3, dtype=torch.bool))
    shares = weights / weights.sum(dim=1, keepdim=True)
    torch.testing.assert_close(shares[:, 1:], torch.full((2, 2), min_share))
    torch.testing.assert_close(weights.sum(dim=1), torch.full((2,), 3.0))


def test_view_gate_min_share_must_leave_room_to_prefer_a_camera():
    with pytest.raises(ValueError, match=r"view_gate_min_share = 0.4 is not below 1 / 3 cameras"):
        make_policy(camera_roles=ALOHA_ROLES, view_gating=True, view_gate_min_share=0.4)


def test_view_gate_is_summarised_per_episode_in_eval(caplog):
    policy = make_policy(camera_roles=ALOHA_ROLES, view_gating=True, n_action_steps=1).eval()
    obs = observation(make_batch(batch_size=1, with_action=False))
    for _ in range(3):
        policy.select_action(obs)
    assert policy._gate_count == 3
    expected = (policy._gate_sum / policy._gate_count).tolist()
    with caplog.at_level(logging.INFO):
        policy.reset()
    # The learning benchmark reads these lines back from lerobot-eval's output: the line must parse to
    # the episode's mean weight per camera, named by its short camera name.
    parsed = [g for g in map(parse_view_gate_log_line, caplog.messages) if g is not None]
    assert len(parsed) == 1
    assert list(parsed[0]) == [camera_short_name(k) for k in policy.config.image_features]
    assert list(parsed[0].values()) == pytest.approx(expected, abs=5e-4)
    assert sum(parsed[0].values()) == pytest.approx(3.0, abs=2e-3)  # weights average 1 per camera


def test_camera_dropout_keeps_at_least_one_camera():
    policy = make_policy(camera_roles=ALOHA_ROLES, camera_dropout=0.95).train()
    torch.manual_seed(0)
    dropped = policy.model.sample_camera_dropout(torch.zeros(256, 1))
    assert dropped.shape == (256, 3)
    assert not dropped.all(dim=1).any()
    assert dropped.float().mean() > 0.5


def test_missing_camera_under_dropout_runs_and_logs_which(caplog):
    policy = make_policy(camera_roles=ALOHA_ROLES, camera_dropout=0.2).eval()
    obs = observation(make_batch(with_action=False))
    full = policy.predict_action_chunk(obs)
    without = {k: v for k, v in obs.items() if k != "observation.images.left_wrist"}
    with caplog.at_level(logging.WARNING):
        partial = policy.predict_action_chunk(without)
    assert "observation.images.left_wrist is absent" in caplog.text
    assert torch.isfinite(partial).all() and partial.shape == full.shape
    assert not torch.allclose(partial, full)
    # The missing camera is represented by its own absent token, and only by it.
    absent = policy.model.camera_fusion.absent_token
    with torch.no_grad():
        absent["top"].add_(1.0)  # a present camera's absent token plays no part
        assert torch.equal(policy.predict_action_chunk(without), partial)
        absent["left_wrist"].add_(1.0)
        assert not torch.equal(policy.predict_action_chunk(without), partial)


def test_missing_camera_without_dropout_is_a_clear_error():
    policy = make_policy(camera_roles=ALOHA_ROLES).eval()
    obs = observation(make_batch(with_action=False))
    del obs["observation.images.right_wrist"]
    with pytest.raises(
        ObservationError, match=r"'observation\.images\.right_wrist'.*missing.*camera_dropout"
    ):
        policy.predict_action_chunk(obs)


def _bad(obs, key, value):
    bad = dict(obs)
    bad[key] = value
    return bad


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("extra_camera", r"'observation\.images\.angle'.*not trained with"),
        (
            "wrong_size",
            r"'observation\.images\.top'.*expected image size .*\(3, 96, 128\).*got \(3, 48, 64\)",
        ),
        ("wrong_channels", r"'observation\.images\.left_wrist'.*expected 3 channels.*got 1"),
        ("nan_image", r"'observation\.images\.top' contains 1 NaN/inf"),
        ("inf_state", r"'observation\.state' contains 1 NaN/inf"),
        ("state_dim", r"'observation\.state': expected shape \(batch, 14\), got \(2, 7\)"),
        ("no_state", r"'observation\.state' missing"),
        ("not_a_tensor", r"'observation\.images\.top'.*got ndarray"),
    ],
)
def test_bad_observations_are_refused_with_the_key_named(case, message):
    policy = make_policy(camera_roles=ALOHA_ROLES).eval()
    obs = observation(make_batch(with_action=False))
    if case == "extra_camera":
        obs = _bad(obs, "observation.images.angle", torch.zeros(2, 3, 96, 128))
    elif case == "wrong_size":
        obs = _bad(obs, "observation.images.top", torch.zeros(2, 3, 48, 64))
    elif case == "wrong_channels":
        obs = _bad(obs, "observation.images.left_wrist", torch.zeros(2, 1, 64, 80))
    elif case == "nan_image":
        obs["observation.images.top"] = obs["observation.images.top"].clone()
        obs["observation.images.top"][1, 0, 5, 5] = float("nan")
    elif case == "inf_state":
        obs["observation.state"] = obs["observation.state"].clone()
        obs["observation.state"][0, 3] = float("inf")
    elif case == "state_dim":
        obs = _bad(obs, "observation.state", torch.zeros(2, 7))
    elif case == "no_state":
        del obs["observation.state"]
    elif case == "not_a_tensor":
        obs = _bad(obs, "observation.images.top", obs["observation.images.top"].numpy())
    with pytest.raises(ObservationError, match=message):
        policy.predict_action_chunk(obs)
    with pytest.raises(ObservationError, match=message):
        policy.select_action(obs)


def test_select_action_checks_observations_that_only_pop_the_queue():
    policy = make_policy(camera_roles=ALOHA_ROLES, n_action_steps=4).eval()
    obs = observation(make_batch(batch_size=1, with_action=False))
    policy.select_action(obs)  # fills the queue
    bad = dict(obs, **{"observation.state": torch.full((1, 14), float("nan"))})
    with pytest.raises(ObservationError, match="NaN"):
        policy.select_action(bad)


def test_training_ignores_dataset_cameras_the_policy_does_not_use():
    policy = make_policy(camera_roles=ALOHA_ROLES)
    batch = make_batch()
    batch["observation.images.angle"] = torch.zeros(2, 3, 32, 32)
    loss, _ = policy.forward(batch)
    assert torch.isfinite(loss)


def test_attention_weights_are_captured_per_edge_on_request():
    policy = make_policy(camera_roles=ALOHA_ROLES, token_mode="spatial").eval()
    policy.model.camera_fusion.capture_attention = True
    policy.predict_action_chunk(observation(make_batch(with_action=False)))
    attn = policy.model.camera_fusion.last_attention
    assert set(attn) == set(policy.model.camera_fusion.cross_attention)
    w = attn["wrist_detail__from__global_overview"]
    detail_cells = TINY_ROLE_GRIDS["wrist_detail"][0] * TINY_ROLE_GRIDS["wrist_detail"][1]
    overview_cells = TINY_ROLE_GRIDS["global_overview"][0] * TINY_ROLE_GRIDS["global_overview"][1]
    assert w.shape == (2, detail_cells, overview_cells)
    torch.testing.assert_close(w.sum(dim=-1), torch.ones(2, detail_cells))


def test_role_image_sizes_resize_each_camera_before_the_backbone():
    """The backbone sees the role's size; acting on native images equals acting on images resized
    beforehand (antialiased bilinear) by a policy whose native size is the role's size."""
    sizes = {"global_overview": [64, 96], "wrist_detail": [48, 64]}
    policy = make_policy(camera_roles=ALOHA_ROLES, role_image_sizes=sizes).eval()
    seen: list[tuple[int, ...]] = []
    handle = policy.model.backbone.register_forward_hook(lambda m, inp, out: seen.append(tuple(inp[0].shape)))
    obs = observation(make_batch(batch_size=2, with_action=False))
    chunk = policy.predict_action_chunk(obs)
    handle.remove()
    # top -> 64x96; left_wrist (wrist_detail) -> 48x64; right_wrist (wrist_context) keeps 64x80.
    assert sorted(seen) == sorted([(2, 3, 64, 96), (2, 3, 48, 64), (2, 3, 64, 80)])

    cameras = {"top": (64, 96), "left_wrist": (48, 64), "right_wrist": ALOHA_CAMERAS["right_wrist"]}
    native = make_policy(cameras, camera_roles=ALOHA_ROLES).eval()
    native.load_state_dict(policy.state_dict())
    resized_obs = dict(obs)
    for cam in ("top", "left_wrist"):
        key = f"observation.images.{cam}"
        resized_obs[key] = torch.nn.functional.interpolate(
            obs[key], size=cameras[cam], mode="bilinear", antialias=True, align_corners=False
        )
    torch.testing.assert_close(native.predict_action_chunk(resized_obs), chunk)


def _backbone_inputs(policy, obs) -> list[tuple[int, ...]]:
    """(height, width) of every camera image the backbone sees for a batch of one (cameras of one size
    share a pass)."""
    seen: list[tuple[int, ...]] = []
    handle = policy.model.backbone.register_forward_hook(
        lambda m, inp, out: seen.extend([tuple(inp[0].shape[2:])] * inp[0].shape[0])
    )
    policy.predict_action_chunk(obs)
    handle.remove()
    return sorted(seen)


def test_default_role_sizes_shrink_only_cameras_with_more_pixels():
    """By default each design role caps its cameras' pixels (written into config.json); a camera already
    smaller keeps its size, since up-sampling would add cost and no detail."""
    from lerobot_hetero_act.camera_roles import DEFAULT_ROLE_IMAGE_SIZES

    cameras = {"top": (240, 320), "left_wrist": (96, 128), "right_wrist": (480, 640)}
    policy = make_policy(cameras, camera_roles=ALOHA_ROLES, role_image_sizes=None).eval()
    assert policy.config.role_image_sizes == DEFAULT_ROLE_IMAGE_SIZES
    obs = observation(make_batch(cameras, batch_size=1, with_action=False))
    # top (global_overview) 240x320 -> 120x160; right_wrist (wrist_context) 480x640 -> 120x160;
    # left_wrist (wrist_detail) 96x128 has fewer pixels than 192x256 and is not up-sampled.
    assert _backbone_inputs(policy, obs) == sorted([(120, 160), (120, 160), (96, 128)])


@pytest.mark.parametrize("config_given", [False, True], ids=["config_from_checkpoint", "config_from_lerobot"])
def test_checkpoint_saved_before_role_image_sizes_keeps_native_sizes(tmp_path, config_given):
    """A config.json without the field was trained at native sizes, so it must act at them (draccus would
    fill the missing field with today's default and resize); one that has the field keeps its value."""
    from lerobot.configs.policies import PreTrainedConfig

    cameras = {"top": (96, 128), "left_wrist": (64, 80), "right_wrist": (64, 80)}
    obs = observation(make_batch(cameras, batch_size=1, with_action=False))
    for saved_sizes, expected in [
        (None, [(64, 80), (64, 80), (96, 128)]),
        ({"global_overview": [48, 64]}, None),
    ]:
        policy = make_policy(cameras, camera_roles=ALOHA_ROLES, role_image_sizes=saved_sizes or {}).eval()
        path = tmp_path / f"saved_{saved_sizes is None}"
        policy.save_pretrained(path)
        config_json = json.loads((path / "config.json").read_text())
        if saved_sizes is None:
            del config_json["role_image_sizes"]  # as written before the field existed
        (path / "config.json").write_text(json.dumps(config_json))
        kwargs = {"config": PreTrainedConfig.from_pretrained(path)} if config_given else {}
        loaded = HeteroACTPolicy.from_pretrained(path, **kwargs).eval()
        assert loaded.config.role_image_sizes == (saved_sizes or {})
        assert _backbone_inputs(loaded, obs) == (expected or sorted([(48, 64), (64, 80), (64, 80)]))


def test_role_image_sizes_are_checked_against_roles_and_grids():
    from lerobot_hetero_act.camera_roles import CameraRoleError

    with pytest.raises(CameraRoleError, match=r"role_image_sizes: role 'wrist' is not defined"):
        make_policy(camera_roles=ALOHA_ROLES, role_image_sizes={"wrist": [64, 64]})
    with pytest.raises(CameraRoleError, match=r"role_image_sizes\['wrist_detail'\] = \[64\]"):
        make_policy(camera_roles=ALOHA_ROLES, role_image_sizes={"wrist_detail": [64]})
    # The grid must fit the resized image (2x2 needs 33x33 at stride 32), and the fix named is the size.
    with pytest.raises(
        CameraRoleError,
        match=r"left_wrist.*role_image_sizes resizes its images to 32x32, which gives a 1x1 backbone feature "
        r"map.*raise role_image_sizes\['wrist_detail'\] to at least \[33, 33\]",
    ):
        make_policy(camera_roles=ALOHA_ROLES, role_image_sizes={"wrist_detail": [32, 32]})
