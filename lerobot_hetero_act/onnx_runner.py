"""Run an exported hetero_act ONNX graph with the checkpoint's own pre/post-processors.

    from lerobot_hetero_act.onnx_runner import HeteroACTOnnxRunner

    runner = HeteroACTOnnxRunner("policy.onnx", "outputs/train/.../pretrained_model")
    runner.reset()                      # at the start of every episode
    action = runner.select_action(obs)  # (batch, action_dim), un-normalised, like policy.select_action
    chunk = runner.predict_action_chunk(obs)  # (batch, chunk_size, action_dim), un-normalised

`obs` is the observation as LeRobot's preprocessor takes it, the same dict `lerobot-eval` hands to
the policy's preprocessor: `observation.state` and `observation.images.<camera>` (float images in
[0, 1], channels first, with or without the batch axis), as torch tensors or numpy arrays.

What still needs PyTorch: the network runs in onnxruntime, but the pre/post-processors are LeRobot's
`PolicyProcessorPipeline`s loaded from the checkpoint (`policy_preprocessor.json`,
`policy_postprocessor.json` and their statistics), and they are torch code: normalisation, batching
and un-normalisation run as small torch ops on CPU. So `torch` and `lerobot` must be installed;
the ResNet, the fusion module and the transformer (all the heavy compute) run in onnxruntime.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lerobot.policies.act.modeling_act import ACTTemporalEnsembler
from torch import Tensor

from .camera_roles import CAMERA_KEY_PREFIX
from .checkpoint_checks import open_checkpoint
from .export import OUTPUT_NAME, onnx_session
from .input_checks import ObservationError


class HeteroACTOnnxRunner:
    """An exported hetero_act graph in onnxruntime between the checkpoint's saved processors.

    Args:
        onnx_path: the file written by `python -m lerobot_hetero_act.export`.
        policy_path: the checkpoint it was exported from (pretrained_model folder or Hub id); its
            config (chunk and queue sizes) and processors are loaded from there.
        n_action_steps: actions used from each chunk by `select_action` (default: the config's); at
            most the chunk size.
        threads: onnxruntime intra-op threads (default: onnxruntime's choice).

    Raises:
        CheckpointError: `policy_path` is not a hetero_act checkpoint (names the type found).
        ValueError: `n_action_steps` is larger than the chunk the graph predicts.
        ObservationError (from the calls): an observation the policy would refuse -- the checkpoint's
            preprocessor runs the same observation check as `select_action`, on the raw observation.
    """

    def __init__(
        self,
        onnx_path: str | Path,
        policy_path: str | Path,
        n_action_steps: int | None = None,
        threads: int | None = None,
    ):
        checkpoint = open_checkpoint(policy_path, load_weights=False)
        self.config = checkpoint.config
        self.preprocessor, self.postprocessor = checkpoint.preprocessor, checkpoint.postprocessor
        if n_action_steps is not None and not 1 <= n_action_steps <= self.config.chunk_size:
            raise ValueError(
                f"n_action_steps={n_action_steps}: each chunk holds {self.config.chunk_size} actions "
                f"(chunk_size of {policy_path}), so use 1..{self.config.chunk_size}."
            )
        self.session = onnx_session(onnx_path, threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.cameras = [n for n in self.input_names if n.startswith(CAMERA_KEY_PREFIX)]
        self.n_action_steps = n_action_steps or self.config.n_action_steps
        self._queue: deque[Tensor] = deque()
        coeff = self.config.temporal_ensemble_coeff
        self._ensembler = ACTTemporalEnsembler(coeff, self.config.chunk_size) if coeff is not None else None

    def reset(self) -> None:
        """Empty the action queue (call at the start of every episode)."""
        self._queue.clear()
        if self._ensembler is not None:
            self._ensembler.reset()

    def _check_cameras(self, observation: Mapping[str, Any]) -> None:
        missing = [key for key in self.input_names if key not in observation]
        if missing:
            has = sorted(k for k in observation if k.startswith(CAMERA_KEY_PREFIX))
            raise ObservationError(
                f"{', '.join(repr(k) for k in missing)} missing from the observation (it has cameras {has}); "
                f"this ONNX graph needs every one of its inputs {self.input_names}. A policy trained with "
                "camera dropout can be exported without a camera: `python -m lerobot_hetero_act.export "
                "... --missing-camera <camera>`."
            )

    def predict_action_chunk(self, observation: Mapping[str, Any]) -> Tensor:
        """(batch, chunk_size, action_dim) un-normalised actions for a raw observation."""
        self._check_cameras(observation)
        batch = {
            k: torch.from_numpy(np.asarray(v)) if isinstance(v, np.ndarray) else v
            for k, v in observation.items()
        }
        processed = self.preprocessor(batch)
        feeds = {}
        for name in self.input_names:
            value = processed[name]
            feeds[name] = value.detach().cpu().numpy().astype(np.float32, copy=False)
            if not np.isfinite(feeds[name]).all():
                raise ObservationError(f"'{name}' contains NaN/inf value(s); refusing to act on it.")
        chunk = torch.from_numpy(self.session.run([OUTPUT_NAME], feeds)[0])
        return self.postprocessor(chunk)

    def select_action(self, observation: Mapping[str, Any]) -> Tensor:
        """One (batch, action_dim) action: ACT's queue, refilled from a new chunk when it is empty.

        With `temporal_ensemble_coeff` set in the config, a chunk every call through ACT's temporal
        ensembler instead (a weighted mean, so ensembling un-normalised chunks gives the same action).
        """
        self._check_cameras(observation)
        if self._ensembler is not None:
            return self._ensembler.update(self.predict_action_chunk(observation))
        if not self._queue:
            chunk = self.predict_action_chunk(observation)[:, : self.n_action_steps]
            self._queue.extend(chunk.transpose(0, 1))
        return self._queue.popleft()
