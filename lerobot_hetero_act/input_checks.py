"""Checks of an observation batch against the cameras and state the policy was trained with.

A wrong camera set, image size, channel count or a NaN/inf value must never turn into a silent wrong
action: each case raises an error that names the key and says what to do. The one documented
exception: a policy trained with camera dropout accepts a missing camera (it uses that camera's
learned absent token) and the caller logs which camera is absent.

Cost: keys, shapes and the robot state's values are checked on every call (microseconds); the images'
values (NaN/inf, a pass over every pixel: milliseconds at 480x640) only with `check_image_values=True`,
which the policy passes once per network pass. A queue-pop `select_action` call, whose observation the
network never sees, skips them.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from lerobot.utils.constants import OBS_STATE
from torch import Tensor

from .camera_roles import CAMERA_KEY_PREFIX
from .configuration_hetero_act import HeteroACTConfig


class ObservationError(ValueError):
    """An observation the policy cannot act on; the message names the key and the fix."""


def missing_cameras(batch: Mapping[str, Tensor], config: HeteroACTConfig) -> list[str]:
    return [key for key in config.image_features if key not in batch]


def check_observation(
    batch: Mapping[str, object], config: HeteroACTConfig, inference: bool, check_image_values: bool = True
) -> list[str]:
    """Validate `batch`; return the cameras that are missing but tolerated (camera dropout).

    `inference=True` also rejects cameras the policy does not know (in training, a dataset may carry
    cameras that the policy was configured not to use). `check_image_values=False` skips the NaN/inf
    scan of the images (everything else is still checked); the network must not run on such a check.
    """
    expected = list(config.image_features)
    missing = missing_cameras(batch, config)  # type: ignore[arg-type]
    if missing and config.camera_dropout <= 0:
        raise ObservationError(
            f"camera(s) {missing} missing from the observation (it has {sorted(k for k in batch if k.startswith(CAMERA_KEY_PREFIX))}). "
            "This policy was trained without camera dropout, so it needs every camera it was trained with; "
            "train with --policy.camera_dropout=0.1 (for example) to tolerate a missing camera."
        )
    if len(missing) == len(expected) and expected:
        raise ObservationError(f"no camera in the observation; the policy needs at least one of {expected}.")
    if inference:
        extra = sorted(k for k in batch if k.startswith(CAMERA_KEY_PREFIX) and k not in config.image_features)
        if extra:
            raise ObservationError(
                f"observation has camera(s) {extra} that the policy was not trained with (its cameras: {expected}). "
                "Drop them, or map names with --rename_map."
            )
    for key in expected:
        if key in batch:
            _check_image(key, batch[key], tuple(config.image_features[key].shape), check_image_values)
    if config.robot_state_feature is not None:
        if OBS_STATE not in batch:
            raise ObservationError(
                f"'{OBS_STATE}' missing from the observation; the policy needs the robot state."
            )
        state = batch[OBS_STATE]
        want = tuple(config.robot_state_feature.shape)
        if not isinstance(state, Tensor) or tuple(state.shape[-len(want) :]) != want:
            got = tuple(state.shape) if isinstance(state, Tensor) else type(state).__name__
            raise ObservationError(
                f"'{OBS_STATE}': expected shape (batch, {', '.join(map(str, want))}), got {got}."
            )
        _check_finite(OBS_STATE, state)
    return missing


def _check_image(key: str, image: object, want: tuple[int, ...], check_values: bool) -> None:
    if not isinstance(image, Tensor) or image.ndim != 4:
        got = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise ObservationError(f"camera '{key}': expected a (batch, C, H, W) image tensor, got {got}.")
    got = tuple(image.shape[1:])
    if got[0] != want[0]:
        raise ObservationError(
            f"camera '{key}': expected {want[0]} channels (C, H, W) = {want}, got {got[0]} channels {got}."
        )
    if got != want:
        raise ObservationError(
            f"camera '{key}': expected image size (C, H, W) = {want}, got {got}. "
            "Resize the camera stream to the training size (or retrain at this size)."
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
