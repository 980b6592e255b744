"""The main job: record scripted multi-camera ALOHA demos -> lerobot-train hetero_act -> lerobot-eval
in aloha_multicam -> a report folder (success with its interval, reward stages, curves, eval videos).

The demo is a one-model run of the learning benchmark's protocol (`configs/learning_benchmark_*.json`):
the same cameras, sizes and training flags that the benchmark measured, with the demo's own number of
episodes, steps and eval episodes. Every stage is the real command a user would type, run through
`bench.learning`, so an interrupted demo continues where it stopped (recording resumes, training
resumes from its last checkpoint, evaluated checkpoints are not evaluated again). Every sentence of the
report is computed from this run's files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lerobot_hetero_act.sim.task_spec import get_task

from .learning import (
    DEFAULT_PROTOCOL,
    BenchmarkPaths,
    LearningProtocol,
    TrainTimeline,
    dataclass_from_json,
    evaluate_pending,
    record,
    train,
)
from .offline_run import REPO
from .stats import stage_rates, wilson_interval

SETUP_SECONDS_ENV = "HETERO_ACT_DEMO_SETUP_S"
"""Seconds `scripts/demo.sh` spent setting up the environment, so the report can time the demo whole."""


@dataclass
class DemoConfig:
    """One demo run; the defaults are the README's first command on a 2-core CPU."""

    protocol: str = str(DEFAULT_PROTOCOL.relative_to(REPO))
    model: str | None = None
    """A model of the protocol; default: the protocol's default model."""
    episodes: int = 40
    """Scripted demonstrations recorded (seeds from `seed`); the benchmark's eval seeds are disjoint."""
    cameras: dict[str, str] | None = None
    """Camera -> "HxW"; default: the protocol's."""
    steps: int = 2000
    save_freq: int = 1000
    """Checkpoint interval: each checkpoint is one point of the success curve."""
    seed: int = 1000
    device: str = "cpu"
    extra_train_args: list[str] = field(default_factory=list)
    """lerobot-train flags appended after the protocol's (they win)."""
    eval_episodes: int = 5
    """Episodes at each intermediate checkpoint (the success curve)."""
    final_eval_episodes: int = 20

    @classmethod
    def from_file(cls, path: Path) -> DemoConfig:
        return dataclass_from_json(cls, path)

    @classmethod
    def quick(cls) -> DemoConfig:
        """A few-minute smoke run of the whole loop (it does not learn the task)."""
        return cls(episodes=3, steps=60, save_freq=30, eval_episodes=1, final_eval_episodes=2)

    def to_protocol(self) -> LearningProtocol:
        base = LearningProtocol.from_file(REPO / self.protocol)
        model = self.model or base.default_model
        base.model_args(model)  # an unknown model name fails here, naming the protocol's models
        protocol = dataclasses.replace(
            base,
            name="demo",
            episodes=self.episodes,
            steps=self.steps,
            save_freq=self.save_freq,
            log_freq=10,
            train_seeds=[self.seed],
            cameras=self.cameras or base.cameras,
            train_args=[*base.train_args, *self.extra_train_args],
            models={model: base.models[model]},
            eval_episodes=self.eval_episodes,
            final_eval_episodes=self.final_eval_episodes,
            device=self.device,
            default_model=model,
            baseline_model=model,  # one model: nothing to compare with
            within_noise_of={},
            recipes={},
            scored_steps=[],
        )
        protocol.check()
        return protocol


def run_demo(cfg: DemoConfig, out: Path) -> Path:
    """All stages, then the report; returns the report folder."""
    protocol = cfg.to_protocol()
    model = protocol.default_model
    paths = BenchmarkPaths(work=out, results=out / "results")
    timings: dict[str, float] = {}
    if SETUP_SECONDS_ENV in os.environ:  # set by scripts/demo.sh, which timed its environment setup
        timings["setup"] = float(os.environ[SETUP_SECONDS_ENV])
    for stage, action in (
        ("record", lambda: record(protocol, paths)),
        ("train", lambda: train(protocol, paths, model, cfg.seed)),
        ("eval", lambda: evaluate_pending(protocol, paths, model, cfg.seed)),
    ):
        start = time.perf_counter()
        action()
        timings[stage] = time.perf_counter() - start
    timings_path = out / "results/timings.json"
    previous = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    timings = {k: previous.get(k, 0.0) + v for k, v in timings.items()}  # summed over resumed runs
    timings_path.write_text(json.dumps(timings, indent=1))
    return write_report(cfg, protocol, paths, timings)


def _eval_points(paths: BenchmarkPaths, model: str, seed: int) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(paths.result_dir(model, seed).glob("eval_step*.json"))]


def write_report(
    cfg: DemoConfig, protocol: LearningProtocol, paths: BenchmarkPaths, timings: dict[str, float]
) -> Path:
    """report.md, summary.json, curves and the final eval's videos, all from this run's files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, seed = protocol.default_model, cfg.seed
    task = get_task(protocol.task)
    report = paths.work / "report"
    if report.exists():
        shutil.rmtree(report)
    (report / "videos").mkdir(parents=True)
    points = _eval_points(paths, model, seed)
    if not points:
        raise RuntimeError(f"no evaluation results under {paths.result_dir(model, seed)}")
    final = points[-1]
    timeline = TrainTimeline.load(paths.result_dir(model, seed) / "training.json")
    recording = _read_json(paths.dataset / "recording_summary.json")
    for video in sorted(paths.eval_dir(model, seed, final["step"]).rglob("*.mp4")):
        shutil.copy(video, report / "videos" / video.name)

    fig, (ax_loss, ax_success) = plt.subplots(1, 2, figsize=(10, 3.5))
    if timeline.log:
        ax_loss.plot([r[0] for r in timeline.log], [r[1] for r in timeline.log])
    ax_loss.set(
        xlabel="training step", ylabel="loss (L1 + kl_weight x KL)", yscale="log", title="training loss"
    )
    rates = [100 * p["n_success"] / p["n_episodes"] for p in points]
    intervals = [wilson_interval(p["n_success"], p["n_episodes"]) for p in points]
    ax_success.errorbar(
        [p["step"] for p in points],
        rates,
        yerr=[
            [r - 100 * lo for r, (lo, _) in zip(rates, intervals, strict=True)],
            [100 * hi - r for r, (_, hi) in zip(rates, intervals, strict=True)],
        ],
        marker="o",
        capsize=3,
    )
    for i, stage in enumerate(task.reward_stages):
        ax_success.plot(
            [p["step"] for p in points],
            [100 * stage_rates(p["max_rewards"], task.reward_stages)[stage] for p in points],
            ls="--",
            lw=0.8,
            color=f"C{i + 1}",
            label=stage,
        )
    ax_success.set(
        xlabel="training step",
        ylabel="% of eval episodes",
        ylim=(-3, 103),
        title="success (95% CI) and stages",
    )
    ax_success.legend(fontsize=7)
    for ax in (ax_loss, ax_success):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(report / "curves.png", dpi=120)
    plt.close(fig)

    k, n = final["n_success"], final["n_episodes"]
    lo, hi = wilson_interval(k, n)
    stages = stage_rates(final["max_rewards"], task.reward_stages)
    final_loss = timeline.log[-1][1] if timeline.log else float("nan")
    rows = "\n".join(
        f"| {i} | {protocol.eval_seed + i} | {ret:.0f} | {top:.0f} "
        f"({task.reward_stages[int(top) - 1] if top >= 1 else 'none'}) | {'yes' if ok else 'no'} |"
        for i, (ret, top, ok) in enumerate(
            zip(final["sum_rewards"], final["max_rewards"], final["successes"], strict=True)
        )
    )
    curve_rows = "\n".join(
        f"| {p['step']} | {p['n_success']}/{p['n_episodes']} | "
        + " | ".join(f"{100 * v:.0f}%" for v in stage_rates(p["max_rewards"], task.reward_stages).values())
        + " |"
        for p in points
    )
    minutes = {k: v / 60 for k, v in timings.items()}
    setup_row = (
        f"| environment setup (`scripts/setup_env.sh`) | `.venv` ready | {minutes['setup']:.1f} min |\n"
        if "setup" in minutes
        else ""
    )
    total = (
        "total"
        if "setup" in minutes
        else "total (environment setup not timed: run through `scripts/demo.sh`)"
    )
    md = f"""# hetero_act demo report

Task `{task.name}` ({task.gym_task}); model `{model}`; cameras {", ".join(f"`{c}` {s}" for c, s in protocol.cameras.items())}.

**Result: {k} of {n} evaluation episodes succeeded ({100 * k / n:.0f}%, 95% Wilson interval {100 * lo:.0f}–{100 * hi:.0f}%)**
after {final["step"]} training steps ({final["samples"]} samples). Share of episodes reaching each reward stage:
{", ".join(f"{name} {100 * v:.0f}%" for name, v in stages.items())}; mean return {statistics.fmean(final["sum_rewards"]):.1f}.

| stage | result | wall time |
| --- | --- | --- |
{setup_row}| record scripted demos | {recording.get("saved", "?")} episodes kept of {recording.get("attempted", "?")} attempted | {minutes.get("record", 0):.1f} min |
| lerobot-train {model} | {protocol.steps} steps, batch {protocol.batch_size}, last logged loss {final_loss:.3f} | {minutes.get("train", 0):.1f} min |
| lerobot-eval aloha_multicam | checkpoints {", ".join(str(p["step"]) for p in points)}; final: {k}/{n} successes | {minutes.get("eval", 0):.1f} min |
| {total} | | {sum(minutes.values()):.1f} min |

![loss and success curves](curves.png)

## Success and reward stages per checkpoint

| step | successes | {" | ".join(task.reward_stages)} |
| --- | --- | {" | ".join("---" for _ in task.reward_stages)} |
{curve_rows}

## Final evaluation, per episode

| episode | seed | return | max reward (stage) | success |
| --- | --- | --- | --- | --- |
{rows}

Eval videos: `videos/`. Checkpoints: `{paths.train_dir(model, seed)}/checkpoints`. Logs: `{paths.work / "logs"}`.
Exact commands: `{paths.result_dir(model, seed) / "command.txt"}` (training) and `summary.json` (evaluation).

Settings: `{json.dumps(asdict(cfg))}`
"""
    (report / "report.md").write_text(md)
    (report / "summary.json").write_text(
        json.dumps(
            {"settings": asdict(cfg), "timings_s": timings, "evals": points, "recording": recording},
            indent=1,
        )
    )
    return report


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


USAGE = """The README's main job: record scripted multi-camera ALOHA demos -> lerobot-train hetero_act ->
lerobot-eval in aloha_multicam -> outputs/demo/report/ (report.md, curves.png, summary.json, videos).

    python scripts/demo.py                                   # the CPU default (see DemoConfig)
    python scripts/demo.py --quick                           # a few-minute smoke run of the loop
    python scripts/demo.py --preset configs/demo_gpu.json    # a preset of DemoConfig fields

Rerunning continues an interrupted run: recorded episodes, checkpoints and evaluations are kept.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--output-dir", type=Path, default=None, help="default outputs/demo (outputs/demo_quick)"
    )
    parser.add_argument("--preset", type=Path, help="JSON file of DemoConfig fields")
    parser.add_argument(
        "--quick", action="store_true", help="a few-minute smoke run (does not learn the task)"
    )
    for name in ("steps", "episodes", "eval_episodes", "final_eval_episodes"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, help=f"override {name}")
    args = parser.parse_args()

    if args.preset and args.quick:
        parser.error("--preset and --quick exclude each other")
    try:
        cfg = (
            DemoConfig.from_file(args.preset)
            if args.preset
            else DemoConfig.quick()
            if args.quick
            else DemoConfig()
        )
        for name in ("steps", "episodes", "eval_episodes", "final_eval_episodes"):
            if getattr(args, name) is not None:
                setattr(cfg, name, getattr(args, name))
        cfg.to_protocol()
    except ValueError as err:
        parser.error(str(err))
    out = (args.output_dir or REPO / ("outputs/demo_quick" if args.quick else "outputs/demo")).resolve()
    report = run_demo(cfg, out)
    print(f"\n[demo] report: {report / 'report.md'}\n")
    print((report / "report.md").read_text())
