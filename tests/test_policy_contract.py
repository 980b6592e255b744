"""LeRobot's policy contract, checked the way LeRobot's own tooling reads a policy class.

LeRobot resolves a policy by name (`get_policy_class`, `make_policy_config`, `make_policy`,
`make_pre_post_processors` by the `modeling_*` / `processor_*` naming conventions), reads the
`config` annotation of `Policy.__init__` as a class, builds policies from dataset or env features
with the config's defaults, and round-trips them through `save_pretrained` / `from_pretrained`.

HeteroACTPolicy also mirrors two pieces of ACT that ACT offers no seam for: `HeteroACT.forward` /
`latent_sample` copy `ACT.forward`, and `HeteroACTPolicy.__init__` replaces `ACTPolicy.__init__`.
The last tests pin both against LeRobot's ACT so that an upstream change fails here.
"""

from __future__ import annotations

import copy
import inspect
import typing
from pathlib import Path

import pytest
import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy
from lerobot.policies.factory import (
    get_policy_class,
    make_policy,
    make_policy_config,
    make_pre_post_processors,
)
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.utils.feature_utils import dataset_to_policy_features
from policy_factory import TINY

from lerobot_hetero_act import processor_hetero_act
from lerobot_hetero_act.configuration_hetero_act import HeteroACTConfig
from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy
from lerobot_hetero_act.sim.env_config import AlohaMultiCamEnvConfig

# A dataset's feature spec as LeRobot stores it (channel-last images), one camera and 6-D arm.
DATASET_FEATURES = {
    "observation.images.front": {
        "dtype": "video",
        "shape": (96, 96, 3),
        "names": ["height", "width", "channels"],
    },
    "observation.state": {"dtype": "float32", "shape": (6,), "names": [f"j{i}" for i in range(6)]},
    "action": {"dtype": "float32", "shape": (6,), "names": [f"j{i}" for i in range(6)]},
}


def defaults_from_dataset() -> HeteroACTConfig:
    """make_policy_config's defaults with a dataset's features, as LeRobot's tooling fills them in.

    Only `pretrained_backbone_weights` is changed: the default (ImageNet ResNet-18) is a download.
    """
    config = make_policy_config("hetero_act", pretrained_backbone_weights=None, device="cpu")
    features = dataset_to_policy_features(DATASET_FEATURES)
    config.output_features = {k: f for k, f in features.items() if f.type is FeatureType.ACTION}
    config.input_features = {k: f for k, f in features.items() if k not in config.output_features}
    return config


def test_names_resolve_to_our_classes() -> None:
    policy_cls = get_policy_class("hetero_act")
    config = make_policy_config("hetero_act")
    assert policy_cls is HeteroACTPolicy
    assert policy_cls.name == "hetero_act" == config.type
    assert policy_cls.config_class is HeteroACTConfig and type(config) is HeteroACTConfig


def test_init_annotations_are_classes() -> None:
    """LeRobot's tests do issubclass(config_cls, signature(Policy.__init__).parameters["config"].annotation)."""
    annotation = inspect.signature(get_policy_class("hetero_act").__init__).parameters["config"].annotation
    assert isinstance(annotation, type), f"annotation is {annotation!r}, not a class"
    assert issubclass(type(make_policy_config("hetero_act")), annotation)
    hints = typing.get_type_hints(HeteroACTPolicy.__init__)
    assert hints["config"] is HeteroACTConfig


def test_processor_factory_resolves_by_naming_convention(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = processor_hetero_act.make_hetero_act_pre_post_processors

    def spy(config, dataset_stats=None):
        calls.append(config)
        return real(config, dataset_stats=dataset_stats)

    monkeypatch.setattr(processor_hetero_act, "make_hetero_act_pre_post_processors", spy)
    config = defaults_from_dataset()
    pre, post = make_pre_post_processors(config, dataset_stats=None)
    assert calls == [config]
    assert pre.steps and post.steps


def test_defaults_construct_from_dataset_features() -> None:
    config = defaults_from_dataset()
    policy = get_policy_class("hetero_act")(config)
    assert isinstance(policy, PreTrainedPolicy)
    assert policy.config.camera_roles == {"observation.images.front": "global_overview"}
    # ACT's defaults hold: chunk of 100, 8 heads, 512-wide model.
    assert (config.chunk_size, config.n_heads, config.dim_model) == (100, 8, 512)


def test_make_policy_from_env_features() -> None:
    """lerobot-eval / lerobot-train build the policy through make_policy from env or dataset features."""
    env_cfg = AlohaMultiCamEnvConfig(
        cameras=["top", "left_wrist"],
        observation_height=64,
        observation_width=64,
        camera_sizes="left_wrist=64x96",
    )
    grids = {"wrist_detail": [2, 2], "wrist_context": [2, 2], "global_overview": [2, 2]}  # fit 64 px
    config = make_policy_config("hetero_act", role_grids=grids, **TINY)
    policy = make_policy(config, env_cfg=env_cfg)
    assert isinstance(policy, HeteroACTPolicy)
    shapes = {k: tuple(f.shape) for k, f in policy.config.image_features.items()}
    assert shapes == {"observation.images.top": (3, 64, 64), "observation.images.left_wrist": (3, 64, 96)}


def test_forward_and_select_action_leave_their_inputs_alone() -> None:
    config = defaults_from_dataset()
    for name, value in TINY.items():
        setattr(config, name, value)
    policy = HeteroACTPolicy(config)
    gen = torch.Generator().manual_seed(0)
    batch = {
        "observation.images.front": torch.rand(2, 3, 96, 96, generator=gen),
        "observation.state": torch.randn(2, 6, generator=gen),
        "action": torch.randn(2, config.chunk_size, 6, generator=gen),
        "action_is_pad": torch.zeros(2, config.chunk_size, dtype=torch.bool),
    }
    before = copy.deepcopy(batch)
    policy.forward(batch)
    assert batch.keys() == before.keys() and all(torch.equal(batch[k], before[k]) for k in batch)
    obs = {k: v[:1] for k, v in batch.items() if k.startswith("observation.")}
    obs_before = copy.deepcopy(obs)
    policy.eval().select_action(obs)
    assert obs.keys() == obs_before.keys() and all(torch.equal(obs[k], obs_before[k]) for k in obs)


def test_optimizer_groups_are_acts() -> None:
    """ACT's preset: two groups, the backbone's with optimizer_lr_backbone and only backbone tensors."""
    config = defaults_from_dataset()
    config.optimizer_lr, config.optimizer_lr_backbone = 1e-3, 1e-5
    policy = HeteroACTPolicy(config)
    optimizer = config.get_optimizer_preset().build(policy.get_optim_params())
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 1e-5]
    backbone = {
        id(p) for n, p in policy.named_parameters() if n.startswith("model.backbone.") and p.requires_grad
    }
    assert {id(p) for p in optimizer.param_groups[1]["params"]} == backbone
    trainable = {id(p) for p in policy.parameters() if p.requires_grad}
    assert {id(p) for g in optimizer.param_groups for p in g["params"]} == trainable


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    config = defaults_from_dataset()
    for name, value in TINY.items():
        setattr(config, name, value)
    torch.manual_seed(0)
    policy = HeteroACTPolicy(config)
    policy.save_pretrained(tmp_path / "saved")
    for loaded in (
        get_policy_class("hetero_act").from_pretrained(tmp_path / "saved", config=config),
        HeteroACTPolicy.from_pretrained(tmp_path / "saved"),
    ):
        assert loaded.state_dict().keys() == policy.state_dict().keys()
        for key, value in policy.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), key
        assert loaded.config.camera_roles == policy.config.camera_roles
        assert not loaded.training


# --------------------------------------------------------------------------- mirrors of ACT


def state_only_config(config_cls: type[ACTConfig], **overrides) -> ACTConfig:
    """No cameras (robot and env state): ACT and hetero_act build the same network."""
    inputs = {
        "observation.state": PolicyFeature(FeatureType.STATE, (14,)),
        "observation.environment_state": PolicyFeature(FeatureType.ENV, (10,)),
    }
    kwargs = {**TINY, "n_decoder_layers": 2, "dropout": 0.1, **overrides}
    return config_cls(
        input_features=inputs, output_features={"action": PolicyFeature(FeatureType.ACTION, (14,))}, **kwargs
    )


def state_batch(chunk: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    batch = {
        "observation.state": torch.randn(3, 14, generator=gen),
        "observation.environment_state": torch.randn(3, 10, generator=gen),
    }
    batch["action"] = torch.randn(3, chunk, 14, generator=gen)
    pad = torch.zeros(3, chunk, dtype=torch.bool)
    pad[0, chunk // 2 :] = True  # exercises the VAE encoder's key padding mask
    batch["action_is_pad"] = pad
    return batch


# Always with a robot state: LeRobot 0.6.1's ACT.forward reads batch["observation.state"] (for a device)
# even when the config has none, so an env-state-only ACT cannot run at all.
@pytest.mark.parametrize("use_vae", [True, False], ids=["vae", "no-vae"])
def test_mirrored_forward_equals_acts(use_vae: bool) -> None:
    """Same weights, same RNG: identical loss terms in training (VAE branch, dropout on) and identical
    action chunks and queued actions in eval."""
    act = ACTPolicy(state_only_config(ACTConfig, use_vae=use_vae))
    hetero = HeteroACTPolicy(state_only_config(HeteroACTConfig, use_vae=use_vae))
    assert hetero.state_dict().keys() == act.state_dict().keys()
    hetero.load_state_dict(act.state_dict(), strict=True)
    batch = state_batch(act.config.chunk_size)

    act.train(), hetero.train()
    for seed in (0, 1):
        torch.manual_seed(seed)
        act_loss, act_terms = act.forward(dict(batch))
        torch.manual_seed(seed)
        hetero_loss, hetero_terms = hetero.forward(dict(batch))
        torch.testing.assert_close(hetero_loss, act_loss, rtol=0, atol=0)
        assert hetero_terms == act_terms
    assert ("kld_loss" in act_terms) == use_vae

    act.eval(), hetero.eval()
    obs = {k: v for k, v in batch.items() if k.startswith("observation.")}
    torch.testing.assert_close(
        hetero.predict_action_chunk(obs), act.predict_action_chunk(obs), rtol=0, atol=0
    )
    act.reset(), hetero.reset()
    for _ in range(3):
        torch.testing.assert_close(hetero.select_action(obs), act.select_action(obs), rtol=0, atol=0)


def test_mirrored_forward_gradients_equal_acts() -> None:
    act = ACTPolicy(state_only_config(ACTConfig))
    hetero = HeteroACTPolicy(state_only_config(HeteroACTConfig))
    hetero.load_state_dict(act.state_dict(), strict=True)
    batch = state_batch(act.config.chunk_size, seed=3)
    for policy in (act, hetero):
        policy.train()
        torch.manual_seed(7)
        policy.forward(dict(batch))[0].backward()
    act_grads = dict(act.named_parameters())
    for name, param in hetero.named_parameters():
        torch.testing.assert_close(param.grad, act_grads[name].grad, rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("coeff", [None, 0.01], ids=["queue", "ensembling"])
def test_init_sets_every_attribute_acts_init_sets(coeff: float | None) -> None:
    """HeteroACTPolicy.__init__ skips ACTPolicy.__init__; whatever ACTPolicy.__init__ (or the reset it
    calls) sets on an instance must be set here too, so an upstream addition fails this test."""
    act = ACTPolicy(state_only_config(ACTConfig, temporal_ensemble_coeff=coeff, n_action_steps=1))
    hetero = HeteroACTPolicy(
        state_only_config(HeteroACTConfig, temporal_ensemble_coeff=coeff, n_action_steps=1)
    )
    for namespace in ("__dict__", "_modules", "_parameters", "_buffers", "_non_persistent_buffers_set"):
        act_names, hetero_names = set(getattr(act, namespace)), set(getattr(hetero, namespace))
        assert act_names <= hetero_names, f"{namespace}: ACTPolicy sets {sorted(act_names - hetero_names)}"
    for name in vars(act):
        assert type(getattr(hetero, name)) is type(getattr(act, name)) or name in {"config", "model"}, name
