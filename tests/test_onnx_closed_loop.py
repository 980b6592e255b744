"""A checkpoint acts the same in closed loop through onnxruntime as through PyTorch: on every
observation of a whole aloha_multicam episode both choose the same action."""

from __future__ import annotations

from pathlib import Path

import pytest

from lerobot_hetero_act.onnx_closed_loop import compare_backends

pytestmark = pytest.mark.sim


def test_onnxruntime_and_pytorch_choose_the_same_actions_over_an_episode(pretrained_dir: Path):
    result = compare_backends(str(pretrained_dir), "transfer_cube", seeds=[100_000], threads=1)
    (episode,) = result["episodes"]
    assert result["max_action_diff"] < 1e-4
    assert all(ms > 0 for ms in episode["chunk_ms"].values())
