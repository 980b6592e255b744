"""The demo orchestration's own logic: presets, loss-log parsing, report writing (the full demo run
itself is the README's first command, timed in the closing notes, not part of the suite)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def load_demo():
    spec = importlib.util.spec_from_file_location("demo", REPO / "scripts/demo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["demo"] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_gpu_preset_parses_and_differs_from_the_cpu_default():
    demo = load_demo()
    gpu = demo.DemoConfig.from_file(REPO / "configs/demo_gpu.json")
    cpu = demo.DemoConfig()
    assert gpu.device == "cuda" and cpu.device == "cpu"
    assert gpu.steps > 100 * cpu.steps and gpu.episodes >= 50
    assert all(size == "480x640" for size in gpu.cameras.values())


def test_unknown_preset_field_is_named(tmp_path: Path):
    demo = load_demo()
    bad = tmp_path / "preset.json"
    bad.write_text(json.dumps({"stepz": 10}))
    with pytest.raises(SystemExit, match="stepz"):
        demo.DemoConfig.from_file(bad)


def test_loss_curve_reads_lerobot_train_log_lines(tmp_path: Path):
    demo = load_demo()
    log = tmp_path / "train.log"
    log.write_text(
        "INFO 2026-11-24 04:35:20 ot_train.py:641 step:10 smpl:80 ep:0 epch:0.02 loss:26.181 grdn:284.915\n"
        "noise line\n"
        "INFO 2026-11-24 04:37:48 ot_train.py:641 step:1K smpl:8K ep:0 epch:0.03 loss:6.997 grdn:117.712\n"
    )
    assert demo.loss_curve(log) == [(10, 26.181), (1000, 6.997)]


def test_report_summarises_eval_and_recording(tmp_path: Path):
    demo = load_demo()
    cfg = demo.DemoConfig(steps=20)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs/train.log").write_text("step:10 smpl:80 loss:2.0\nstep:20 smpl:160 loss:1.0\n")
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "recording_summary.json").write_text(
        json.dumps({"saved": 12, "attempted": 12, "success_rate": 1.0})
    )
    eval_dir = tmp_path / "eval"
    (eval_dir / "videos/aloha_multicam_0").mkdir(parents=True)
    (eval_dir / "videos/aloha_multicam_0/eval_episode_0.mp4").write_bytes(b"\x00")
    metrics = {"sum_rewards": [3.0], "max_rewards": [1.0], "successes": [False], "video_paths": []}
    per_task = [
        {"task_group": "aloha_multicam", "task_id": 0, "metrics": metrics}
    ]  # lerobot-eval 0.6.1's layout
    overall = {"pc_success": 0.0, "avg_sum_reward": 3.0, "n_episodes": 1}
    (eval_dir / "eval_info.json").write_text(json.dumps({"per_task": per_task, "overall": overall}))
    report = demo.write_report(
        cfg, tmp_path, dataset, tmp_path / "ckpt", eval_dir, {"record": 1, "train": 2, "eval": 3}
    )
    text = (report / "report.md").read_text()
    assert "12 episodes kept of 12 attempted" in text and "success 0.0% over 1 episodes" in text
    assert "| 0 | 100000 | 3.0 | 1.0 | False |" in text
    assert (report / "training_loss.png").stat().st_size > 1000
    assert (report / "videos/eval_episode_0.mp4").is_file()
    assert json.loads((report / "summary.json").read_text())["loss_curve"] == [[10, 2.0], [20, 1.0]]
