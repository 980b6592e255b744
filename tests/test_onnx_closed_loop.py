"""A checkpoint acts the same in closed loop through onnxruntime as through PyTorch: on every
observation of a whole aloha_multicam episode both choose the same action. The command line writes
the comparison as JSON and as a markdown section that replaces only its own part of the doc."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.onnx_closed_loop import SECTION_BEGIN, SECTION_END, main

pytestmark = pytest.mark.sim


def test_onnxruntime_and_pytorch_choose_the_same_actions_over_an_episode(
    pretrained_dir: Path, tmp_path: Path
):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nkept\n\n{SECTION_BEGIN}\nstale\n{SECTION_END}\n\ntail kept\n")
    out = tmp_path / "result.json"
    main([f"--policy-path={pretrained_dir}", "--episodes=1", "--threads=1", f"--json={out}", f"--doc={doc}"])

    result = json.loads(out.read_text())
    (episode,) = result["episodes"]
    assert episode["seed"] == 100_000 and result["max_action_diff"] < 1e-4
    assert all(ms > 0 for ms in episode["chunk_ms"].values())
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nkept\n\n") and text.endswith("\n\ntail kept\n")
    assert "stale" not in text and text.count(SECTION_BEGIN) == 1 == text.count(SECTION_END)
    assert f"| 100000 | {episode['max_action_diff']:.2g} |" in text
    assert f"--policy-path={pretrained_dir}" in text  # the exact command is recorded
