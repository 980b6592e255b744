"""Loading is strict: a checkpoint whose tensors do not fit the configured network fails, naming the
checkpoint and the option behind the tensors, instead of running with freshly random weights.

LeRobot's `PreTrainedPolicy.from_pretrained` defaults to strict=False and only logs missing keys, so
`lerobot-eval --policy.path=<ckpt> --policy.camera_dropout=0.2` on a checkpoint trained without camera
dropout used to "handle" a missing camera with random absent tokens. make_policy (what lerobot-eval
and lerobot-train --resume call) passes no `strict`, so these tests load through it too.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import torch
from lerobot.configs.policies import PreTrainedConfig
from lerobot.policies.factory import make_policy as lerobot_make_policy
from policy_factory import make_batch, make_policy, observation
from safetensors.torch import load_file, save_file

from lerobot_hetero_act.checkpoint_checks import (
    STATE_DICT_RULES,
    IncompatibleCheckpointError,
    explain_state_dict_mismatch,
)
from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy
from lerobot_hetero_act.sim.env_config import AlohaMultiCamEnvConfig

SMALL_CAMERAS = {"top": (64, 64), "left_wrist": (64, 64)}
SMALL_GRIDS = {"wrist_detail": [2, 2], "wrist_context": [2, 2], "global_overview": [1, 1]}


def saved(tmp_path: Path, name: str = "ckpt", **overrides) -> Path:
    policy = make_policy(SMALL_CAMERAS, role_grids=SMALL_GRIDS, **overrides)
    folder = tmp_path / name
    policy.save_pretrained(folder)
    return folder


def config_with(folder: Path, **overrides) -> PreTrainedConfig:
    """The checkpoint's config with command-line-style overrides, as lerobot-eval builds it."""
    config = PreTrainedConfig.from_pretrained(folder)
    for key, value in overrides.items():
        setattr(config, key, value)
    config.pretrained_path = folder
    return config


def test_camera_dropout_override_on_checkpoint_without_absent_tokens_fails(tmp_path: Path) -> None:
    folder = saved(tmp_path)
    with pytest.raises(IncompatibleCheckpointError) as error:
        HeteroACTPolicy.from_pretrained(folder, config=config_with(folder, camera_dropout=0.2))
    message = str(error.value)
    assert message.startswith(str(folder / "model.safetensors"))
    assert (
        "camera_dropout > 0 needs absent-camera tokens, which this checkpoint does not have; "
        "train with camera_dropout or drop the override" in message
    )
    assert "camera_dropout: saved=0.0, now=0.2" in message
    assert "model.camera_fusion.absent_token.top" in message


def test_lerobot_make_policy_is_strict_too(tmp_path: Path) -> None:
    """The path lerobot-eval takes: make_policy(cfg with pretrained_path, env_cfg) -> from_pretrained."""
    folder = saved(tmp_path)
    env_cfg = AlohaMultiCamEnvConfig(cameras=list(SMALL_CAMERAS), observation_height=64, observation_width=64)
    with pytest.raises(IncompatibleCheckpointError, match="view_gating = true needs view-gate weights"):
        lerobot_make_policy(config_with(folder, view_gating=True), env_cfg=env_cfg)
    policy = lerobot_make_policy(config_with(folder), env_cfg=env_cfg)  # no override: loads
    assert isinstance(policy, HeteroACTPolicy)


def test_override_that_drops_trained_tensors_fails(tmp_path: Path) -> None:
    """The reverse: a checkpoint trained with camera dropout and view gating, loaded with them off."""
    folder = saved(tmp_path, camera_dropout=0.1, view_gating=True)
    with pytest.raises(IncompatibleCheckpointError) as error:
        HeteroACTPolicy.from_pretrained(
            folder, config=config_with(folder, camera_dropout=0.0, view_gating=False)
        )
    message = str(error.value)
    assert "this checkpoint has absent-camera tokens (it was trained with camera_dropout > 0)" in message
    assert "this checkpoint has view-gate weights (it was trained with view_gating = true)" in message
    HeteroACTPolicy.from_pretrained(folder)  # with its own settings it loads


def test_changed_edges_name_attention_edges_with_both_values(tmp_path: Path) -> None:
    folder = saved(tmp_path)
    with pytest.raises(IncompatibleCheckpointError) as error:
        HeteroACTPolicy.from_pretrained(
            folder, config=config_with(folder, attention_edges=["wrist_detail<-global_overview"])
        )
    message = str(error.value)
    assert "unexpected tensor(s) model.camera_fusion.cross_attention.global_overview__from__wrist_detail" in (
        message
    )
    assert "the checkpoint was saved with different attention_edges settings" in message
    assert 'now=["wrist_detail<-global_overview"]' in message


def test_reshaped_tensors_name_the_grid(tmp_path: Path) -> None:
    folder = saved(tmp_path)
    grids = {**SMALL_GRIDS, "wrist_detail": [1, 2]}
    with pytest.raises(IncompatibleCheckpointError) as error:
        HeteroACTPolicy.from_pretrained(folder, config=config_with(folder, role_grids=grids))
    message = str(error.value)
    assert re.search(r"model\.camera_fusion\.extractors\.wrist_detail\.\S+ \(saved \[", message)
    assert "different role_grids settings" in message


def test_tensor_from_another_version_with_same_settings(tmp_path: Path) -> None:
    """A tensor no rule and no setting explains (e.g. written by a newer version) still fails."""
    folder = saved(tmp_path)
    tensors = load_file(folder / "model.safetensors")
    tensors["model.camera_fusion.future_module.weight"] = torch.zeros(2)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(IncompatibleCheckpointError, match=r"future_module\.weight.*another version"):
        HeteroACTPolicy.from_pretrained(folder)


def test_strict_false_loads_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = saved(tmp_path)
    with caplog.at_level(logging.WARNING):
        policy = HeteroACTPolicy.from_pretrained(
            folder, config=config_with(folder, camera_dropout=0.2), strict=False
        )
    assert policy.config.camera_dropout == 0.2
    assert "camera_dropout > 0 needs absent-camera tokens" in caplog.text
    assert "keep their random initialisation" in caplog.text


def test_matching_checkpoint_loads_bit_identically(tmp_path: Path) -> None:
    policy = make_policy(SMALL_CAMERAS, role_grids=SMALL_GRIDS, camera_dropout=0.1).eval()
    policy.save_pretrained(tmp_path / "ckpt")
    loaded = HeteroACTPolicy.from_pretrained(tmp_path / "ckpt")
    obs = observation(make_batch(SMALL_CAMERAS, batch_size=1, with_action=False))
    torch.testing.assert_close(
        loaded.predict_action_chunk(obs), policy.predict_action_chunk(obs), rtol=0, atol=0
    )


def test_rules_are_table_driven_by_key_pattern() -> None:
    """A future fusion module (any key under model.camera_fusion) gets the generic message naming the
    differing field, e.g. a new token_mode."""
    saved_config = {"token_mode": "pooled_keys", "camera_dropout": 0.0, "attention_edges": ["a<-b"]}
    current = {"token_mode": "cell_keys", "camera_dropout": 0.0, "attention_edges": ["a<-b"]}
    sentences = explain_state_dict_mismatch(
        ["model.camera_fusion.cell_key_proj.wrist_detail.weight"], [], {}, saved_config, current
    )
    assert sentences == [
        "tensor(s) model.camera_fusion.cell_key_proj.wrist_detail.weight missing from the checkpoint; "
        'the checkpoint was saved with different token_mode settings (token_mode: saved="pooled_keys", '
        'now="cell_keys"): load it without overriding them, or retrain with the new settings.'
    ]
    fields = {rule.fields[0] for rule in STATE_DICT_RULES}
    assert {"camera_dropout", "view_gating", "attention_edges"} <= fields
