#!/usr/bin/env python
"""Write the committed backward-compatibility checkpoint tests/compat/hetero_act_v0_1/.

    python tests/compat/make_compat_artifact.py            # (re)generate it with the current code
    python tests/compat/make_compat_artifact.py --out DIR  # somewhere else

The point: a change that breaks loading checkpoints written by this version (renamed or reshaped
state-dict keys, removed/renamed/retyped config fields, changed forward semantics, changed
processor files) must fail tests/test_compat_artifact.py. Regenerate only on purpose, when such a
break is intended (and then bump the directory name: hetero_act_v0_2, keeping the old one).

Why no model.safetensors: even a tiny hetero_act carries a full ResNet-18 (11.2M parameters,
45 MB in float32), too big to commit. So the artifact stores every non-backbone tensor as saved
(`model_no_backbone.safetensors`, ~100 KB) and a *recipe* for the backbone: each `model.backbone.*`
tensor is a closed-form function of its key and shape (golden-ratio sequence in float64, scaled to
Kaiming variance; FrozenBatchNorm buffers are identity). The recipe uses no RNG, no torchvision
init and no model code, so it gives bit-identical tensors on any machine and torch version; its
sha256 is stored to prove it. The test rebuilds the backbone, merges, writes a normal checkpoint,
loads it with `HeteroACTPolicy.from_pretrained` (strict by default) and compares the action chunk for a
stored observation with the stored one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import tempfile
from pathlib import Path

import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.utils.constants import ACTION, OBS_STATE
from safetensors.torch import load_file, save_file

from lerobot_hetero_act.camera_roles import camera_key
from lerobot_hetero_act.sim.cameras import ALOHA_CAMERA_ROLES

ARTIFACT_DIR = Path(__file__).resolve().parent / "hetero_act_v0_1"
BACKBONE_PREFIX = "model.backbone."
GOLDEN = (math.sqrt(5) - 1) / 2
STATE_DIM = ACTION_DIM = 6
# Three cameras, three roles, two sizes: every edge and both batching paths of the backbone.
CAMERAS = {"top": (64, 64), "left_wrist": (48, 64), "right_wrist": (48, 64)}
# Small grids keep the pooled projections (512 * rows * cols -> dim_model) small enough to commit.
ROLE_GRIDS = {"wrist_detail": [2, 2], "wrist_context": [2, 1], "global_overview": [1, 1]}
CONFIG = {
    "dim_model": 16,
    "n_heads": 2,
    "dim_feedforward": 32,
    "n_encoder_layers": 1,
    "n_decoder_layers": 1,
    "n_vae_encoder_layers": 1,
    "latent_dim": 8,
    "chunk_size": 4,
    "n_action_steps": 4,
    "pretrained_backbone_weights": None,
    "device": "cpu",
}
FILES = {
    "config": "config.json",
    "weights": "model_no_backbone.safetensors",
    "manifest": "backbone_recipe.json",
    "inputs": "inputs.safetensors",
    "expected": "expected.safetensors",
}


def recipe_tensor(key: str, shape: list[int]) -> torch.Tensor:
    """The backbone tensor `key`: closed-form, RNG-free and machine-independent (float64 -> float32)."""
    if len(shape) == 1:  # FrozenBatchNorm2d buffers: identity transform
        value = 1.0 if key.endswith(("weight", "running_var")) else 0.0
        return torch.full(shape, value, dtype=torch.float32)
    fan_in = math.prod(shape[1:])
    offset = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little") / 2**32
    index = torch.arange(math.prod(shape), dtype=torch.float64)
    uniform = torch.frac(index * GOLDEN + offset) - 0.5  # in [-0.5, 0.5), variance 1/12
    scale = math.sqrt(12.0) * math.sqrt(2.0 / fan_in)  # Kaiming-normal variance 2 / fan_in
    return (uniform * scale).to(torch.float32).reshape(shape)


def build_backbone_tensors(manifest: dict) -> dict[str, torch.Tensor]:
    """All backbone tensors from the recipe, keyed as in the checkpoint."""
    return {key: recipe_tensor(key, shape) for key, shape in manifest["shapes"].items()}


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """Digest of keys, shapes and float32 bytes, in key order."""
    digest = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].contiguous()
        digest.update(f"{key}:{list(t.shape)}:{t.dtype};".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def assemble_checkpoint(artifact: Path, out: Path) -> Path:
    """Write a normal pretrained_model folder (config, full model.safetensors, processors) to `out`."""
    manifest = json.loads((artifact / FILES["manifest"]).read_text())
    tensors = load_file(artifact / FILES["weights"])
    tensors.update(build_backbone_tensors(manifest))
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, out / "model.safetensors")
    for path in artifact.iterdir():
        if path.name == "config.json" or path.name.startswith("policy_"):
            shutil.copy2(path, out / path.name)
    return out


def make_config():  # -> HeteroACTConfig
    from lerobot_hetero_act.configuration_hetero_act import HeteroACTConfig

    features = {OBS_STATE: PolicyFeature(FeatureType.STATE, (STATE_DIM,))}
    for name, (h, w) in CAMERAS.items():
        features[camera_key(name)] = PolicyFeature(FeatureType.VISUAL, (3, h, w))
    return HeteroACTConfig(
        input_features=features,
        output_features={ACTION: PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))},
        camera_roles=dict(ALOHA_CAMERA_ROLES),
        role_grids={k: list(v) for k, v in ROLE_GRIDS.items()},
        **CONFIG,
    )


def fixed_inputs() -> dict[str, torch.Tensor]:
    """One raw observation (as a dataset frame: images in [0, 1], no batch dim)."""
    gen = torch.Generator().manual_seed(1234)
    obs = {OBS_STATE: torch.randn(STATE_DIM, generator=gen)}
    for name, (h, w) in CAMERAS.items():
        obs[camera_key(name)] = torch.rand(3, h, w, generator=gen)
    return obs


def predict(checkpoint: Path, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Load the checkpoint the way users do and predict one chunk (normalised and un-normalised)."""
    from lerobot.policies.factory import make_pre_post_processors

    from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

    policy = HeteroACTPolicy.from_pretrained(checkpoint)
    preprocessor, postprocessor = make_pre_post_processors(policy.config, pretrained_path=str(checkpoint))
    with torch.no_grad():
        chunk = policy.predict_action_chunk(preprocessor(dict(inputs)))
    return {"action_chunk_normalized": chunk.clone(), "action_chunk": postprocessor(chunk)}


def make_artifact(out: Path) -> None:
    from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy
    from lerobot_hetero_act.processor_hetero_act import make_hetero_act_pre_post_processors

    torch.manual_seed(0)
    policy = HeteroACTPolicy(make_config())
    state = policy.state_dict()
    backbone_shapes = {k: list(v.shape) for k, v in state.items() if k.startswith(BACKBONE_PREFIX)}
    manifest = {
        "recipe": "golden-ratio sequence, Kaiming scale; see tests/compat/make_compat_artifact.py:recipe_tensor",
        "shapes": dict(sorted(backbone_shapes.items())),
    }
    backbone = build_backbone_tensors(manifest)
    manifest["sha256"] = tensors_sha256(backbone)
    with torch.no_grad():
        for key, tensor in backbone.items():
            state[key].copy_(tensor)

    gen = torch.Generator().manual_seed(7)
    stats = {
        camera_key(name): {
            "mean": torch.rand(3, 1, 1, generator=gen) * 0.2 + 0.4,
            "std": torch.rand(3, 1, 1, generator=gen) * 0.1 + 0.2,
        }
        for name in CAMERAS
    }
    for key, dim in ((OBS_STATE, STATE_DIM), (ACTION, ACTION_DIM)):
        stats[key] = {"mean": torch.randn(dim, generator=gen), "std": torch.rand(dim, generator=gen) + 0.5}
    preprocessor, postprocessor = make_hetero_act_pre_post_processors(policy.config, dataset_stats=stats)

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    policy.config._save_pretrained(out)
    save_file({k: v.contiguous() for k, v in policy.state_dict().items() if not k.startswith(BACKBONE_PREFIX)},
              out / FILES["weights"])  # fmt: skip
    (out / FILES["manifest"]).write_text(json.dumps(manifest, indent=1) + "\n")
    preprocessor.save_pretrained(out)
    postprocessor.save_pretrained(out)
    inputs = fixed_inputs()
    save_file(inputs, out / FILES["inputs"])
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = assemble_checkpoint(out, Path(tmp) / "pretrained_model")
        expected = predict(checkpoint, inputs)
    save_file(expected, out / FILES["expected"])
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out} ({total / 1e6:.2f} MB): {sorted(p.name for p in out.iterdir())}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ARTIFACT_DIR)
    make_artifact(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()
