"""Start hetero_act from a LeRobot ACT checkpoint (`--policy.init_from_act=<dir or hub id>`).

hetero_act keeps ACT's module names (backbone, VAE encoder, transformer, projections, heads), so every
tensor whose name and shape match is copied; the fusion module (and anything whose shape differs,
e.g. a different action dimension) starts fresh. The report says which is which.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from huggingface_hub.constants import SAFETENSORS_SINGLE_FILE
from safetensors.torch import load_file

from .checkpoint_checks import CheckpointError, checkpoint_file


@dataclass
class ActInitReport:
    source: str
    loaded: list[str] = field(default_factory=list)
    # In hetero_act but not in the ACT checkpoint; a name in both with another shape is a shape_mismatch.
    new: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)  # in the ACT checkpoint, no place in hetero_act

    def summary(self) -> str:
        def groups(names: list[str]) -> str:
            top = sorted({".".join(n.split(".")[:2]) for n in names})
            return ", ".join(top) if top else "-"

        return (
            f"init_from_act {self.source}: loaded {len(self.loaded)} tensors ({groups(self.loaded)}); "
            f"new {len(self.new)} ({groups(self.new)}); shape mismatch {len(self.shape_mismatch)} "
            f"({groups(self.shape_mismatch)}); unused from ACT {len(self.unused)} ({groups(self.unused)})"
        )


def resolve_act_weights(source: str) -> Path:
    """model.safetensors of an ACT checkpoint given as a directory (pretrained_model or a training
    checkpoint folder), the file itself, or a Hugging Face Hub id (served from the local cache offline)."""
    path = Path(source).expanduser()
    if path.is_file() and path.name.endswith(".safetensors"):
        return path
    if (path / "pretrained_model" / SAFETENSORS_SINGLE_FILE).is_file():
        path = path / "pretrained_model"
    try:
        return checkpoint_file(path if path.exists() else source, SAFETENSORS_SINGLE_FILE)
    except CheckpointError as err:
        raise FileNotFoundError(f"init_from_act: {err}") from err


def load_matching_act_weights(policy: torch.nn.Module, source: str) -> ActInitReport:
    """Copy every tensor of the ACT checkpoint whose name and shape match into `policy`."""
    act_state = load_file(str(resolve_act_weights(source)))
    if not any(k.startswith("model.encoder.") for k in act_state):
        raise ValueError(
            f"init_from_act: {source!r} does not look like an ACT checkpoint (no model.encoder.* tensors)."
        )
    own = policy.state_dict()
    to_load = {k: act_state[k] for k, t in own.items() if k in act_state and act_state[k].shape == t.shape}
    report = ActInitReport(
        source,
        loaded=list(to_load),
        new=[k for k in own if k not in act_state],
        shape_mismatch=[k for k in own if k in act_state and k not in to_load],
        unused=[k for k in act_state if k not in own],
    )
    policy.load_state_dict(to_load, strict=False)
    logging.info(report.summary())
    return report
