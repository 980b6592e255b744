"""The demo's own logic: presets become a one-model run of the benchmark protocol, and the report says
what the run's files say (the full demo is the README's first command, timed in the closing notes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.demo import DemoConfig, write_report
from bench.learning import BenchmarkPaths, TrainTimeline

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
    # LeRobot's ACT dims (its ACTConfig defaults) replace the CPU protocol's smaller ones
    assert args.index("--policy.dim_model=512") > args.index("--policy.dim_model=256")
    assert args.index("--policy.n_encoder_layers=4") > args.index("--policy.n_encoder_layers=2")


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


def _finished_run(tmp_path: Path, cfg: DemoConfig, evals: list[dict]) -> tuple:
    """A demo run's files as its stages leave them: training timeline, evals, recording summary."""
    protocol = cfg.to_protocol()
    paths = BenchmarkPaths(work=tmp_path, results=tmp_path / "results")
    run = paths.result_dir(protocol.default_model, cfg.seed)
    run.mkdir(parents=True)
    steps = [e["step"] for e in evals]
    TrainTimeline(wall_s={s: s / 2 for s in steps}, log=[[s, 20.0 / s, 0.1, 0.1] for s in steps]).save(
        run / "training.json"
    )
    for e in evals:
        (run / f"eval_step{e['step']:06d}.json").write_text(json.dumps(e))
    paths.dataset.mkdir()
    (paths.dataset / "recording_summary.json").write_text(json.dumps({"saved": 3, "attempted": 3}))
    return protocol, paths


def test_report_states_the_runs_own_success_and_stages(tmp_path: Path):
    cfg = DemoConfig(steps=20, save_freq=10, final_eval_episodes=4)
    final = _fake_eval(20, [True, True, False, False], [4.0, 4.0, 2.0, 0.0])
    protocol, paths = _finished_run(tmp_path, cfg, [_fake_eval(10, [False], [1.0]), final])
    videos = paths.eval_dir(protocol.default_model, cfg.seed, 20) / "videos"
    videos.mkdir(parents=True)
    (videos / "eval_episode_0.mp4").write_bytes(b"\x00")

    report = write_report(cfg, protocol, paths, {"record": 60, "train": 120, "eval": 30})
    text = (report / "report.md").read_text()
    assert "**Result: 2 of 4 evaluation episodes succeeded (50%, 95% Wilson interval 15–85%)**" in text
    assert "touched 75%, lifted 75%, transfer attempted 50%, transferred 50%" in text
    assert "| 10 | 0/1 | 100% | 0% | 0% | 0% |" in text
    assert "| 3 | 100003 | 0 | 0 (none) | no |" in text
    assert "3 episodes kept of 3 attempted" in text and "last logged loss 1.000" in text
    assert "| total (environment setup not timed: run through `scripts/demo.sh`) | | 3.5 min |" in text
    assert (report / "curves.png").stat().st_size > 1000
    assert (report / "videos/eval_episode_0.mp4").is_file()
    assert [p["step"] for p in json.loads((report / "summary.json").read_text())["evals"]] == [10, 20]


def test_report_times_the_setup_that_demo_sh_measured_so_its_total_is_the_whole_wall_clock(tmp_path: Path):
    # The README promises a demo within 60 minutes all told; the report's total must include the setup.
    cfg = DemoConfig(steps=10, save_freq=10, final_eval_episodes=1)
    protocol, paths = _finished_run(tmp_path, cfg, [_fake_eval(10, [True], [4.0])])
    timings = {"setup": 240, "record": 60, "train": 120, "eval": 30}
    text = (write_report(cfg, protocol, paths, timings) / "report.md").read_text()
    assert "| environment setup (`scripts/setup_env.sh`) | `.venv` ready | 4.0 min |" in text
    assert "| total | | 7.5 min |" in text
