"""The demo's own logic: presets become a one-model run of the benchmark protocol, and the report says
what the run's files say (the full demo is the README's first command, timed in the closing notes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lerobot_hetero_act.benchmarks.learning import BenchmarkPaths, TrainTimeline
from lerobot_hetero_act.demo import DemoConfig, write_report

REPO = Path(__file__).resolve().parents[1]


def test_default_demo_is_the_benchmark_protocol_with_the_demo_budget():
    cfg = DemoConfig()
    protocol = cfg.to_protocol()
    base = json.loads((REPO / cfg.protocol).read_text())
    assert protocol.cameras == base["cameras"]
    assert protocol.train_args == base["train_args"]
    assert list(protocol.models) == [base["default_model"]]
    assert (protocol.steps, protocol.episodes, protocol.final_eval_episodes) == (cfg.steps, cfg.episodes, 20)


def test_gpu_preset_overrides_sizes_device_and_learning_rate():
    gpu = DemoConfig.from_file(REPO / "configs/demo_gpu.json").to_protocol()
    assert gpu.device == "cuda" and gpu.steps >= 50 * DemoConfig().steps
    assert set(gpu.cameras.values()) == {"480x640"}
    args = gpu.model_args(gpu.default_model)
    assert args.index("--policy.optimizer_lr=1e-5") > args.index("--policy.optimizer_lr=1e-4")  # last wins


def test_unknown_preset_field_and_unknown_model_are_named(tmp_path: Path):
    bad = tmp_path / "preset.json"
    bad.write_text(json.dumps({"stepz": 10}))
    with pytest.raises(ValueError, match="stepz"):
        DemoConfig.from_file(bad)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        DemoConfig(model="nope").to_protocol()


def _fake_eval(step: int, successes: list[bool], max_rewards: list[float]) -> dict:
    return {
        "n_episodes": len(successes),
        "n_success": sum(successes),
        "successes": successes,
        "max_rewards": max_rewards,
        "sum_rewards": [10.0 * r for r in max_rewards],
        "step": step,
        "samples": step * 8,
        "command": "lerobot-eval ...",
    }


def test_report_states_the_runs_own_success_and_stages(tmp_path: Path):
    cfg = DemoConfig(steps=20, save_freq=10, final_eval_episodes=4)
    protocol = cfg.to_protocol()
    paths = BenchmarkPaths(work=tmp_path, results=tmp_path / "results")
    run = paths.result_dir(protocol.default_model, cfg.seed)
    run.mkdir(parents=True)
    TrainTimeline(wall_s={10: 5.0, 20: 10.0}, log=[[10, 2.0, 0.1, 0.1], [20, 1.0, 0.1, 0.1]]).save(
        run / "training.json"
    )
    (run / "eval_step000010.json").write_text(json.dumps(_fake_eval(10, [False], [1.0])))
    final = _fake_eval(20, [True, True, False, False], [4.0, 4.0, 2.0, 0.0])
    (run / "eval_step000020.json").write_text(json.dumps(final))
    videos = paths.eval_dir(protocol.default_model, cfg.seed, 20) / "videos"
    videos.mkdir(parents=True)
    (videos / "eval_episode_0.mp4").write_bytes(b"\x00")
    paths.dataset.mkdir()
    (paths.dataset / "recording_summary.json").write_text(json.dumps({"saved": 3, "attempted": 3}))

    report = write_report(cfg, protocol, paths, {"record": 60, "train": 120, "eval": 30})
    text = (report / "report.md").read_text()
    assert "**Result: 2 of 4 evaluation episodes succeeded (50%, 95% Wilson interval 15–85%)**" in text
    assert "touched 75%, lifted 75%, transfer attempted 50%, transferred 50%" in text
    assert "| 10 | 0/1 | 100% | 0% | 0% | 0% |" in text
    assert "| 3 | 100003 | 0 | 0 (none) | no |" in text
    assert "3 episodes kept of 3 attempted" in text and "last logged loss 1.000" in text
    assert (report / "curves.png").stat().st_size > 1000
    assert (report / "videos/eval_episode_0.mp4").is_file()
    assert [p["step"] for p in json.loads((report / "summary.json").read_text())["evals"]] == [10, 20]
