"""The from-scratch recipe's levers: a GroupNorm backbone (hetero_act's `backbone_norm`, and the
benchmark-only ACT baseline with the same field) and random-shift augmentation through LeRobot's own
`--dataset.image_transforms`, which acts on training samples only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from bench.learning import DEFAULT_PROTOCOL, LearningProtocol
from bench.offline_run import REPO
from cli import run_logged, tiny_policy_args
from conftest import ALOHA_CAMERAS_REPO_ID
from lerobot.policies.act.configuration_act import ACTConfig
from policy_factory import make_batch, make_config, make_policy, observation
from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d

from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

sys.path.insert(0, str(REPO / "scripts"))
from bench.policies.configuration_act_backbone_norm import ACTBackboneNormConfig
from bench.policies.modeling_act_backbone_norm import ACTBackboneNormPolicy


def norm_layers(module: nn.Module) -> set[type]:
    return {type(m) for m in module.modules() if isinstance(m, nn.GroupNorm | FrozenBatchNorm2d)}


def test_group_norm_backbone_replaces_frozen_batch_norm_and_learns():
    """Trained from scratch, FrozenBatchNorm2d is the identity; GroupNorm normalises and its affine
    parameters sit in the backbone's learning-rate group (names under model.backbone)."""
    assert norm_layers(make_policy().model.backbone) == {FrozenBatchNorm2d}
    policy = make_policy(backbone_norm="group_norm")
    assert norm_layers(policy.model.backbone) == {nn.GroupNorm}
    first = (
        policy.model.backbone.body.bn1
        if hasattr(policy.model.backbone, "body")
        else policy.model.backbone.bn1
    )
    assert first.num_groups == 64 // 16
    loss, _ = policy.forward(make_batch())
    loss.backward()
    norm_grads = [p.grad for n, p in policy.named_parameters() if "backbone" in n and "bn" in n]
    assert norm_grads and all(g is not None and g.abs().sum() > 0 for g in norm_grads)


def test_act_baseline_gets_the_same_group_norm_backbone():
    config = make_config(config_cls=ACTBackboneNormConfig, backbone_norm="group_norm")
    policy = ACTBackboneNormPolicy(config)
    assert norm_layers(policy.model.backbone) == {nn.GroupNorm}
    hetero = make_policy(backbone_norm="group_norm")
    assert {n: p.shape for n, p in policy.model.backbone.named_parameters()} == {
        n: p.shape for n, p in hetero.model.backbone.named_parameters()
    }
    plain = ACTBackboneNormPolicy(make_config(config_cls=ACTBackboneNormConfig))
    assert norm_layers(plain.model.backbone) == {FrozenBatchNorm2d}


@pytest.mark.parametrize("config_cls", [None, ACTBackboneNormConfig], ids=["hetero_act", "act_backbone_norm"])
def test_group_norm_is_refused_with_pretrained_weights(config_cls):
    kwargs = {"config_cls": config_cls} if config_cls else {}
    with pytest.raises(ValueError, match=r"backbone_norm='group_norm' cannot be used with pretrained.*=null"):
        make_config(
            backbone_norm="group_norm", pretrained_backbone_weights="ResNet18_Weights.IMAGENET1K_V1", **kwargs
        )
    with pytest.raises(ValueError, match=r"backbone_norm must be one of"):
        make_config(backbone_norm="batch_norm", **kwargs)


@pytest.mark.parametrize("norm", ["group_norm", "frozen_batch_norm"])
def test_checkpoints_with_and_without_the_field_load_as_trained(tmp_path, norm):
    """The field is written to config.json and read back; a config.json without it (saved before the
    field existed) loads as frozen batch norm, the only backbone those checkpoints had."""
    policy = make_policy(backbone_norm=norm).eval()
    obs = observation(make_batch(batch_size=1, with_action=False))
    expected = policy.predict_action_chunk(obs)
    policy.save_pretrained(tmp_path)
    config_json = json.loads((tmp_path / "config.json").read_text())
    assert config_json["backbone_norm"] == norm
    if norm == "frozen_batch_norm":
        del config_json["backbone_norm"]
        (tmp_path / "config.json").write_text(json.dumps(config_json))
    loaded = HeteroACTPolicy.from_pretrained(tmp_path).eval()
    assert loaded.config.backbone_norm == norm
    torch.testing.assert_close(loaded.predict_action_chunk(obs), expected)


def recipe_dataset_flags() -> list[str]:
    protocol = LearningProtocol.from_file(DEFAULT_PROTOCOL)
    model = protocol.recipes["gn_shift"]["models"]["act"]
    return [a for a in protocol.models[model] if a.startswith("--dataset.")]


def test_recipe_shift_moves_training_images_and_lerobot_eval_has_no_image_transforms():
    """The protocol's shift flags parse into LeRobot's ImageTransforms, which shift every training
    image (same shape, other pixels); lerobot-eval's config has no dataset, so evaluation sees the
    camera's frames untouched."""
    import draccus
    from lerobot.configs.default import DatasetConfig
    from lerobot.configs.eval import EvalPipelineConfig
    from lerobot.transforms import ImageTransforms

    flags = [f.removeprefix("--dataset.") for f in recipe_dataset_flags()]
    cfg = draccus.parse(DatasetConfig, args=["--repo_id=x", *(f"--{f}" for f in flags)])
    shift = ImageTransforms(cfg.image_transforms)
    torch.manual_seed(0)
    image = torch.rand(3, 120, 160)
    shifted = [shift(image) for _ in range(4)]
    assert all(s.shape == image.shape for s in shifted)
    assert sum(not torch.equal(s, image) for s in shifted) >= 3
    assert "dataset" not in EvalPipelineConfig.__dataclass_fields__


def test_act_baseline_trains_with_the_recipe_through_lerobot_train(tmp_path, aloha_cameras_dataset: Path):
    """The benchmark's ACT baseline runs LeRobot's own lerobot-train (scripts/lerobot_bench.py) with the
    recipe's flags, and its checkpoint reloads with the GroupNorm backbone it was trained with."""
    out = tmp_path / "run"
    args = [
        *(a for a in tiny_policy_args("act_backbone_norm") if a != "--policy.type=act_backbone_norm"),
        "--policy.type=act_backbone_norm",
        "--policy.backbone_norm=group_norm",
        *recipe_dataset_flags(),
        f"--dataset.repo_id={ALOHA_CAMERAS_REPO_ID}",
        f"--dataset.root={aloha_cameras_dataset}",
        "--dataset.video_backend=pyav",
        f"--output_dir={out}",
        "--steps=2",
        "--batch_size=2",
        "--save_freq=2",
        "--num_workers=0",
        "--wandb.enable=false",
    ]
    run_logged(
        [sys.executable, str(REPO / "scripts/lerobot_bench.py"), "train", *args], REPO, tmp_path / "train.log"
    )
    saved = out / "checkpoints/last/pretrained_model"
    assert json.loads((saved / "config.json").read_text())["backbone_norm"] == "group_norm"
    train_config = json.loads((saved / "train_config.json").read_text())
    assert train_config["dataset"]["image_transforms"]["enable"] is True
    loaded = ACTBackboneNormPolicy.from_pretrained(saved)
    assert norm_layers(loaded.model.backbone) == {nn.GroupNorm}
    assert isinstance(loaded.config, ACTConfig)
