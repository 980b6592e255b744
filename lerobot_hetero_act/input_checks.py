"""Checks of an observation batch against the cameras and state the policy was trained with.

A wrong camera set, image size, channel count or a NaN/inf value must never turn into a silent wrong
action: each case raises an error that names the key and says what to do. The one documented
exception: a policy trained with camera dropout accepts a missing camera (it uses that camera's
learned absent token) and the caller logs which camera is absent.

One check, every path: the policy runs it on the normalised batch (`select_action`,
`predict_action_chunk`, `forward`), and `ObservationCheckProcessorStep` (processor_hetero_act.py)
runs it on the *raw* observation in the checkpoint's saved preprocessor, before LeRobot's normaliser
can broadcast a wrong shape into a silent answer or a bare tensor-size error; so `lerobot-eval`,
`lerobot-record`, the ONNX runner and the async servers all meet it. An `ObservationSpec` holds what
the check needs, so the processor step can save it in `policy_preprocessor.json`.

Channels: a camera declared with 3 channels needs exactly 3 (a grayscale or RGBA frame is refused);
a 1-channel camera (depth, infrared) accepts 1 channel, or 3 equal ones as LeRobot's video decoder
returns it, and the network uses its first channel, repeated to the backbone's 3.

Cost: keys, shapes and the robot state's values are checked on every call (microseconds); the images'
values (NaN/inf, a pass over every pixel: milliseconds at 480x640) only with `check_image_values=True`,
which the policy passes once per network pass. A queue-pop `select_action` call, whose observation the
network never sees, skips them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from lerobot.configs.types import NormalizationMode
from lerobot.utils.constants import OBS_STATE
from torch import Tensor

from .camera_roles import CAMERA_KEY_PREFIX
from .configuration_hetero_act import HeteroACTConfig


class ObservationError(ValueError):
    """An observation the policy cannot act on; the message names the key and the fix."""


@dataclass(frozen=True)
class ObservationSpec:
    """What an observation must hold: each camera's (C, H, W), the state's shape, and whether a missing
    camera is tolerated (a policy trained with camera dropout)."""

    cameras: dict[str, tuple[int, ...]]
    state_shape: tuple[int, ...] | None
    tolerates_missing_cameras: bool = False

    @classmethod
    def from_config(cls, config: HeteroACTConfig) -> ObservationSpec:
        state = config.robot_state_feature
        return cls(
            cameras={key: tuple(f.shape) for key, f in config.image_features.items()},
            state_shape=tuple(state.shape) if state is not None else None,
            tolerates_missing_cameras=config.camera_dropout > 0,
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (lists for tuples), the inverse of `from_dict`."""
        return {
            "cameras": {k: list(v) for k, v in self.cameras.items()},
            "state_shape": list(self.state_shape) if self.state_shape is not None else None,
            "tolerates_missing_cameras": self.tolerates_missing_cameras,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ObservationSpec:
        state = data.get("state_shape")
        return cls(
            cameras={k: tuple(v) for k, v in dict(data.get("cameras") or {}).items()},
            state_shape=tuple(state) if state is not None else None,
            tolerates_missing_cameras=bool(data.get("tolerates_missing_cameras", False)),
        )


def missing_cameras(batch: Mapping[str, object], spec: ObservationSpec) -> list[str]:
    return [key for key in spec.cameras if key not in batch]


def check_observation(
    batch: Mapping[str, object],
    spec: ObservationSpec | HeteroACTConfig,
    inference: bool,
    check_image_values: bool = True,
) -> list[str]:
    """Validate `batch`; return the cameras that are missing but tolerated (camera dropout).

    `inference=True` also rejects cameras the policy does not know (in training, a dataset may carry
    cameras that the policy was configured not to use) and images of another size than the camera's
    (in training they may differ -- a fine-tune at another resolution, a Resize transform -- and the
    network checks that they still fill the role's grid). `check_image_values=False` skips the NaN/inf
    scan of the images (everything else is still checked); the network must not run on such a check.
    """
    if not isinstance(spec, ObservationSpec):
        spec = ObservationSpec.from_config(spec)
    expected = list(spec.cameras)
    missing = missing_cameras(batch, spec)
    if missing and not spec.tolerates_missing_cameras:
        raise ObservationError(
            f"camera(s) {missing} missing from the observation (it has {sorted(k for k in batch if k.startswith(CAMERA_KEY_PREFIX))}). "
            "This policy was trained without camera dropout, so it needs every camera it was trained with; "
            "train with --policy.camera_dropout=0.1 (for example) to tolerate a missing camera."
        )
    if len(missing) == len(expected) and expected:
        raise ObservationError(f"no camera in the observation; the policy needs at least one of {expected}.")
    if inference:
        extra = sorted(k for k in batch if k.startswith(CAMERA_KEY_PREFIX) and k not in spec.cameras)
        if extra:
            raise ObservationError(
                f"observation has camera(s) {extra} that the policy was not trained with (its cameras: {expected}). "
                "Drop them, or map names with --rename_map."
            )
    for key in expected:
        if key in batch:
            _check_image(key, batch[key], spec.cameras[key], check_image_values, strict_size=inference)
    if spec.state_shape is not None:
        if OBS_STATE not in batch:
            raise ObservationError(
                f"'{OBS_STATE}' missing from the observation; the policy needs the robot state."
            )
        state = batch[OBS_STATE]
        want = spec.state_shape
        if not isinstance(state, Tensor) or tuple(state.shape[-len(want) :]) != want:
            got = tuple(state.shape) if isinstance(state, Tensor) else type(state).__name__
            raise ObservationError(
                f"'{OBS_STATE}': expected shape (batch, {', '.join(map(str, want))}), got {got}. "
                "The robot's state must have the joints, in the order, that the policy was trained on."
            )
        _check_finite(OBS_STATE, state)
    return missing


def accepted_channels(declared: int) -> tuple[int, ...]:
    """Channel counts a camera declared with `declared` channels accepts (see the module docstring)."""
    return (1, 3) if declared == 1 else (declared,)


def _check_image(
    key: str, image: object, want: tuple[int, ...], check_values: bool, strict_size: bool = True
) -> None:
    if not isinstance(image, Tensor) or image.ndim != 4:
        got = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise ObservationError(f"camera '{key}': expected a (batch, C, H, W) image tensor, got {got}.")
    got = tuple(image.shape[1:])
    if got[0] not in accepted_channels(want[0]):
        hint = {
            1: " A grayscale frame for a colour camera: send the RGB stream (or repeat the channel only "
            "if the camera really is grayscale and the policy was trained so).",
            4: " An RGBA frame: drop the alpha channel (image[:, :3]).",
        }.get(got[0], "")
        raise ObservationError(
            f"camera '{key}': expected {want[0]} channels (C, H, W) = {want}, got {got[0]} channels "
            f"{got}.{hint}"
        )
    if strict_size and got[1:] != want[1:]:
        raise ObservationError(
            f"camera '{key}': expected image size (C, H, W) = {want}, got {got}. At inference a "
            "different size usually means a different camera: check the camera names (--rename_map). "
            f"If it is the right camera, resize its stream to {want[1]}x{want[2]}, the size the policy "
            "was trained on; the policy's own per-role resize (role_image_sizes) applies after this check."
        )
    if check_values:
        _check_finite(key, image)


def _check_finite(key: str, value: Tensor) -> None:
    if not value.is_floating_point():
        return
    # Fast path: a finite sum proves every element finite (one NaN/inf makes the sum NaN/inf). Only a
    # non-finite sum, which an overflow of large finite values can also give, needs the exact count.
    accumulate = torch.float32 if value.dtype in (torch.float16, torch.bfloat16) else value.dtype
    if bool(torch.isfinite(value.sum(dtype=accumulate))):
        return
    n_bad = int((~torch.isfinite(value)).sum())
    if n_bad:
        raise ObservationError(f"'{key}' contains {n_bad} NaN/inf value(s); refusing to act on it.")


def check_camera_stats(config: HeteroACTConfig, dataset_stats: Mapping[str, object]) -> None:
    """Refuse to train when a camera the policy normalises has no statistics under its key.

    LeRobot's normaliser skips a key it has no statistics for, so a camera renamed with `--rename_map`
    (statistics stay under the dataset's name) would reach the network as raw [0, 1] pixels, in
    training and at inference alike. lerobot-train hands the dataset's statistics to the policy it
    builds (`make_policy`), fresh or from a checkpoint, so the policy runs this at training start.
    """
    mode = config.normalization_mapping.get("VISUAL", NormalizationMode.IDENTITY)
    if mode == NormalizationMode.IDENTITY:
        return
    missing = [key for key in config.image_features if key not in dataset_stats]
    if missing:
        has = sorted(k for k in dataset_stats if k.startswith("observation.images."))
        raise ObservationError(
            f"camera(s) {missing} have no normalisation statistics (the dataset's statistics have cameras "
            f"{has}), so they would be fed to the network un-normalised. With --rename_map, LeRobot "
            "renames the observations but not the dataset's statistics: rename the cameras in the dataset "
            "itself (or train without --rename_map, naming the policy's cameras as the dataset does)."
        )
