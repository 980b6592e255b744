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
from lerobot.utils.constants import PRETRAINED_MODEL_DIR

from .checkpoint_checks import CheckpointError, open_checkpoint


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


def act_checkpoint_path(source: str) -> str:
    """The pretrained_model folder of an ACT checkpoint given as that folder, a training checkpoint
    folder holding one, or a Hugging Face Hub id (served from the local cache offline)."""
    path = Path(source).expanduser()
    if (path / PRETRAINED_MODEL_DIR).is_dir():
        return str(path / PRETRAINED_MODEL_DIR)
    return str(path) if path.exists() else source


def load_matching_act_weights(policy: torch.nn.Module, source: str) -> ActInitReport:
    """Copy every tensor of the ACT checkpoint whose name and shape match into `policy`.

    The checkpoint is opened like every other (checkpoint_checks.open_checkpoint), as type `act`;
    FileNotFoundError naming `source` if it is none."""
    try:
        act_state = open_checkpoint(act_checkpoint_path(source), expected_type="act").policy.state_dict()
    except CheckpointError as err:
        raise FileNotFoundError(f"init_from_act: {err}") from err
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
