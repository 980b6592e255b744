"""Checkpoints written by hetero_act v0.1 keep loading and keep predicting the same actions.

tests/compat/hetero_act_v0_1/ is a committed checkpoint (see scripts/make_compat_artifact.py: all
non-backbone tensors, both processors, a fixed observation and the action chunk v0.1 predicted
for it; the ResNet-18 backbone is rebuilt from an RNG-free recipe because it is 45 MB). A change that
renames state-dict keys, drops or retypes config fields, or changes what the network computes
fails here. Do not regenerate the artifact to make this pass unless the break is intended.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import torch
from lerobot.policies.factory import make_pre_post_processors
from safetensors.torch import load_file

from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACT = REPO_ROOT / "tests" / "compat" / "hetero_act_v0_1"
TOLERANCE = 1e-5


def load_maker() -> ModuleType:
    path = REPO_ROOT / "scripts" / "make_compat_artifact.py"
    spec = importlib.util.spec_from_file_location("make_compat_artifact", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def maker() -> ModuleType:
    return load_maker()


@pytest.fixture(scope="module")
def checkpoint(maker: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The artifact assembled into an ordinary pretrained_model folder."""
    return maker.assemble_checkpoint(ARTIFACT, tmp_path_factory.mktemp("compat") / "pretrained_model")


@pytest.fixture(scope="module")
def loaded(checkpoint: Path) -> tuple[HeteroACTPolicy, object, object]:
    policy = HeteroACTPolicy.from_pretrained(checkpoint, strict=True)
    preprocessor, postprocessor = make_pre_post_processors(policy.config, pretrained_path=str(checkpoint))
    return policy, preprocessor, postprocessor


def predict(loaded: tuple, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    policy, preprocessor, postprocessor = loaded
    with torch.no_grad():
        chunk = policy.predict_action_chunk(preprocessor(dict(inputs)))
    return {"action_chunk_normalized": chunk.clone(), "action_chunk": postprocessor(chunk)}


def test_artifact_is_small_and_complete(maker: ModuleType) -> None:
    names = {p.name for p in ARTIFACT.iterdir()}
    assert set(maker.FILES.values()) <= names
    assert {"policy_preprocessor.json", "policy_postprocessor.json"} <= names
    assert sum(p.stat().st_size for p in ARTIFACT.iterdir()) < 2_000_000


def test_backbone_recipe_reproduces_recorded_tensors(maker: ModuleType) -> None:
    """The RNG-free recipe gives bit-identical backbone tensors here and now (digest from v0.1)."""
    manifest = json.loads((ARTIFACT / maker.FILES["manifest"]).read_text())
    assert maker.tensors_sha256(maker.build_backbone_tensors(manifest)) == manifest["sha256"]


def test_state_dict_keys_and_shapes_unchanged(maker: ModuleType, checkpoint: Path) -> None:
    """The current network has exactly v0.1's tensors: no renamed, removed, added or reshaped key."""
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["type"] == "hetero_act"
    stored = {k: tuple(v.shape) for k, v in load_file(checkpoint / "model.safetensors").items()}
    from lerobot.configs.policies import PreTrainedConfig

    current = HeteroACTPolicy(PreTrainedConfig.from_pretrained(checkpoint)).state_dict()
    current_shapes = {k: tuple(v.shape) for k, v in current.items()}
    assert sorted(set(stored) - set(current_shapes)) == [], "keys v0.1 checkpoints have but the model lacks"
    assert sorted(set(current_shapes) - set(stored)) == [], "keys the model needs but v0.1 checkpoints lack"
    reshaped = {k: (stored[k], current_shapes[k]) for k in stored if stored[k] != current_shapes[k]}
    assert reshaped == {}


def test_v0_1_checkpoint_predicts_the_recorded_chunk(loaded: tuple) -> None:
    """from_pretrained(strict=True) + saved processors reproduce v0.1's action chunk within 1e-5."""
    inputs = load_file(ARTIFACT / "inputs.safetensors")
    expected = load_file(ARTIFACT / "expected.safetensors")
    got = predict(loaded, inputs)
    for key, want in expected.items():
        assert got[key].shape == want.shape, key
        torch.testing.assert_close(got[key], want, atol=TOLERANCE, rtol=TOLERANCE, msg=key)


def test_v0_1_config_fields_keep_their_values(loaded: tuple, tmp_path: Path) -> None:
    """Every field v0.1 wrote is still read with the same value (new fields may only be added)."""
    policy = loaded[0]
    policy.config._save_pretrained(tmp_path)
    resaved = json.loads((tmp_path / "config.json").read_text())
    stored = json.loads((ARTIFACT / "config.json").read_text())
    changed = {
        k: (v, resaved.get(k, "<missing>")) for k, v in stored.items() if resaved.get(k, "<missing>") != v
    }
    assert changed == {}


def test_every_camera_changes_the_recorded_chunk(loaded: tuple) -> None:
    """The artifact covers the camera path: blanking any one camera moves the chunk well beyond 1e-5."""
    inputs = load_file(ARTIFACT / "inputs.safetensors")
    base = predict(loaded, inputs)["action_chunk"]
    for key in [k for k in inputs if k.startswith("observation.images.")]:
        blanked = {**inputs, key: torch.zeros_like(inputs[key])}
        delta = (predict(loaded, blanked)["action_chunk"] - base).abs().max().item()
        assert delta > 1e-3, f"{key} has no effect on the actions (delta {delta})"
