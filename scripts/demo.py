#!/usr/bin/env python
"""The main job: record scripted multi-camera ALOHA demos -> lerobot-train hetero_act -> lerobot-eval
in aloha_multicam -> a report folder (success rate, per-episode return, eval videos, loss plot).

Every stage is LeRobot's or this project's real command line, run as a subprocess, so the report is
what a user gets from the same commands. Stages whose output already exists are skipped, so an
interrupted demo continues where it stopped (the recorder itself resumes mid-dataset).

    python scripts/demo.py                        # small CPU default, about 30 minutes on 2 cores
    python scripts/demo.py --preset configs/demo_gpu.json   # larger preset for a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EVAL_SEED_OFFSET = 100_000  # eval episodes use seeds far from the recorded demos' seeds
TASKS = {"transfer_cube": "AlohaTransferCube-v0", "insertion": "AlohaInsertion-v0"}
LOSS_LINE = re.compile(r"step:(\S+) .*?loss:([0-9.eE+-]+)")
SHOW = ("step:", "Episode", "it/s", "s/it", "%|", "Error", "success", "saved", "pc_success")
# torchcodec cannot load without system FFmpeg here; LeRobot falls back to PyAV after a long traceback.
NOISE = (
    "torchcodec",
    "libav",
    "load_library",
    "Traceback",
    'File "',
    "ctypes",
    "_dlopen",
    "^^^",
    "raise OSError",
)


@dataclass
class DemoConfig:
    """Settings of one demo run; the defaults are the small CPU job of the README's first command."""

    task: str = "transfer_cube"
    episodes: int = 12
    cameras: dict[str, str] = field(
        default_factory=lambda: {"top": "120x160", "left_wrist": "96x128", "right_wrist": "96x128"}
    )
    seed: int = 0
    steps: int = 300
    batch_size: int = 8
    save_freq: int = 100
    eval_episodes: int = 3
    device: str = "cpu"
    policy_args: list[str] = field(
        default_factory=lambda: [
            "--policy.dim_model=256",
            "--policy.dim_feedforward=1024",
            "--policy.n_encoder_layers=2",
            "--policy.n_vae_encoder_layers=2",
            "--policy.chunk_size=50",
            "--policy.n_action_steps=50",
            "--policy.optimizer_lr=1e-4",
            "--policy.optimizer_lr_backbone=1e-5",
            "--policy.pretrained_backbone_weights=null",
            '--policy.camera_roles={"left_wrist": "wrist_detail", "right_wrist": "wrist_context", "top": "global_overview"}',
        ]
    )

    @classmethod
    def from_file(cls, path: Path) -> DemoConfig:
        data = json.loads(path.read_text())
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise SystemExit(
                f"{path}: unknown demo setting(s) {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}"
            )
        return cls(**data)


def run(cmd: list[str], log: Path, env: dict[str, str]) -> None:
    """Run a stage, teeing its output to a log file; fail with the log's tail."""
    print(f"\n$ {' '.join(cmd)}\n  (log: {log})", flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO
        )
        for line in proc.stdout:
            out.write(line)
            if any(w in line for w in SHOW) and not any(w in line for w in NOISE):
                print("  " + line.rstrip()[-160:], flush=True)
        if proc.wait() != 0:
            tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
            raise SystemExit(f"stage failed ({cmd[0]}), exit {proc.returncode}; last lines of {log}:\n{tail}")


def camera_args(cfg: DemoConfig) -> tuple[list[str], list[str]]:
    names = list(cfg.cameras)
    sizes = ",".join(f"{cam}={size}" for cam, size in cfg.cameras.items())
    h, w = next(iter(cfg.cameras.values())).split("x")
    record = ["--cameras", ",".join(names), "--image-size", f"{h}x{w}", "--camera-size", sizes]
    env = [
        f"--env.cameras=[{','.join(names)}]",
        f"--env.observation_height={h}",
        f"--env.observation_width={w}",
        f"--env.camera_sizes={sizes}",
    ]
    return record, env


def record_stage(cfg: DemoConfig, out: Path, env: dict[str, str]) -> Path:
    root = out / "dataset"
    record_args, _ = camera_args(cfg)
    cmd = [
        sys.executable,
        str(REPO / "scripts/record_sim_demos.py"),
        "--task",
        cfg.task,
        "--episodes",
        str(cfg.episodes),
    ]
    cmd += [*record_args, "--root", str(root), "--seed", str(cfg.seed), "--repo-id", "local/hetero_act_demo"]
    run(cmd, out / "logs/record.log", env)
    return root


def train_stage(cfg: DemoConfig, dataset_root: Path, out: Path, env: dict[str, str]) -> Path:
    train_dir = out / "train"
    last = train_dir / "checkpoints/last/pretrained_model"
    if (last / "model.safetensors").is_file() and _trained_steps(train_dir) >= cfg.steps:
        print(f"\n[demo] training already done: {last}")
        return last
    cmd = [str(BIN / "lerobot-train"), "--policy.type=hetero_act", "--dataset.repo_id=local/hetero_act_demo"]
    cmd += [f"--dataset.root={dataset_root}", f"--output_dir={train_dir}", f"--steps={cfg.steps}"]
    cmd += [
        f"--batch_size={cfg.batch_size}",
        f"--save_freq={cfg.save_freq}",
        "--log_freq=10",
        "--num_workers=0",
    ]
    cmd += [f"--policy.device={cfg.device}", "--policy.push_to_hub=false", "--wandb.enable=false"]
    cmd += [f"--seed={cfg.seed}", *cfg.policy_args]
    if (train_dir / "checkpoints/last/pretrained_model/train_config.json").is_file():
        cmd = [
            str(BIN / "lerobot-train"),
            f"--config_path={train_dir}/checkpoints/last/pretrained_model/train_config.json",
            "--resume=true",
        ]
    elif train_dir.exists():
        shutil.rmtree(train_dir)  # a run that died before its first checkpoint: start clean
    run(cmd, out / "logs/train.log", env)
    return last


def _trained_steps(train_dir: Path) -> int:
    state = train_dir / "checkpoints/last/training_state/training_step.json"
    return json.loads(state.read_text()).get("step", 0) if state.is_file() else 0


def eval_stage(cfg: DemoConfig, policy_dir: Path, out: Path, env: dict[str, str]) -> Path:
    eval_dir = out / "eval"
    if eval_dir.exists():
        shutil.rmtree(eval_dir)
    _, env_args = camera_args(cfg)
    cmd = [str(BIN / "lerobot-eval"), f"--policy.path={policy_dir}", "--env.type=aloha_multicam"]
    cmd += [
        f"--env.task={TASKS[cfg.task]}",
        *env_args,
        f"--eval.n_episodes={cfg.eval_episodes}",
        "--eval.batch_size=1",
    ]
    cmd += [
        f"--policy.device={cfg.device}",
        f"--output_dir={eval_dir}",
        f"--seed={cfg.seed + EVAL_SEED_OFFSET}",
    ]
    run(cmd, out / "logs/eval.log", env)
    return eval_dir


def loss_curve(train_log: Path) -> list[tuple[int, float]]:
    points = []
    for line in train_log.read_text().splitlines():
        m = LOSS_LINE.search(line)
        if m:
            step = m.group(1)
            mult = {"K": 1_000, "M": 1_000_000}.get(step[-1], 1)
            points.append((int(float(step.rstrip("KM")) * mult), float(m.group(2))))
    return points


def episodes_from_eval_info(info: dict, first_seed: int) -> list[dict]:
    """Per-episode rows from lerobot-eval's eval_info.json (0.6.1: per_task[*].metrics lists)."""
    rows: list[dict] = []
    for task in info.get("per_task", []):
        m = task.get("metrics", {})
        for i, (ret, top, ok) in enumerate(
            zip(m.get("sum_rewards", []), m.get("max_rewards", []), m.get("successes", []), strict=False)
        ):
            rows.append(
                {
                    "episode_ix": len(rows),
                    "seed": first_seed + i,
                    "sum_reward": ret,
                    "max_reward": top,
                    "success": ok,
                }
            )
    return rows


def write_report(
    cfg: DemoConfig, out: Path, dataset_root: Path, policy_dir: Path, eval_dir: Path, timings: dict
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = out / "report"
    if report.exists():
        shutil.rmtree(report)
    (report / "videos").mkdir(parents=True)
    info = json.loads((eval_dir / "eval_info.json").read_text())
    overall = info.get("overall", {})
    per_episode = episodes_from_eval_info(info, first_seed=cfg.seed + EVAL_SEED_OFFSET)
    for video in sorted(eval_dir.rglob("*.mp4")):
        shutil.copy(video, report / "videos" / video.name)

    curve = loss_curve(out / "logs/train.log")
    if curve:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([s for s, _ in curve], [v for _, v in curve])
        ax.set(
            xlabel="training step",
            ylabel="loss (L1 + kl_weight * KL)",
            title="hetero_act training loss",
            yscale="log",
        )
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(report / "training_loss.png", dpi=120)
        plt.close(fig)

    recording = (
        json.loads((dataset_root / "recording_summary.json").read_text())
        if (dataset_root / "recording_summary.json").is_file()
        else {}
    )
    rows = "\n".join(
        f"| {ep.get('episode_ix', i)} | {ep.get('seed', '')} | {ep.get('sum_reward', float('nan')):.1f} | {ep.get('max_reward', float('nan')):.1f} | {ep.get('success', '')} |"
        for i, ep in enumerate(per_episode)
    )
    md = f"""# hetero_act demo report

Task `{cfg.task}` ({TASKS[cfg.task]}), cameras {", ".join(f"`{c}` {s}" for c, s in cfg.cameras.items())}.

| stage | result | wall time |
| --- | --- | --- |
| record scripted demos | {recording.get("saved", "?")} episodes kept of {recording.get("attempted", "?")} attempted (scripted success {recording.get("success_rate", float("nan")):.0%}) | {timings.get("record", 0):.0f} s |
| lerobot-train hetero_act | {cfg.steps} steps, batch {cfg.batch_size}, final loss {curve[-1][1] if curve else float("nan"):.3f} | {timings.get("train", 0):.0f} s |
| lerobot-eval aloha_multicam | success {overall.get("pc_success", float("nan")):.1f}% over {len(per_episode)} episodes, mean return {overall.get("avg_sum_reward", float("nan")):.1f} | {timings.get("eval", 0):.0f} s |

## Per-episode evaluation

| episode | seed | return | max reward | success |
| --- | --- | --- | --- | --- |
{rows}

![training loss](training_loss.png)

Eval videos: `videos/`. Checkpoint: `{policy_dir}`. Logs: `{out / "logs"}`.

A few hundred CPU training steps teach the policy the motion's rough shape, not the task: expect a
success rate near 0 here. The GPU preset (`configs/demo_gpu.json`) is the run for real results.

Settings: `{json.dumps(asdict(cfg))}`
"""
    (report / "report.md").write_text(md)
    (report / "summary.json").write_text(
        json.dumps(
            {
                "settings": asdict(cfg),
                "timings_s": timings,
                "eval": overall,
                "per_episode": per_episode,
                "recording": recording,
                "loss_curve": curve,
            },
            indent=2,
        )
    )
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--output-dir", type=Path, default=REPO / "outputs/demo", help="where everything is written"
    )
    parser.add_argument(
        "--preset", type=Path, help="JSON file of DemoConfig fields (e.g. configs/demo_gpu.json)"
    )
    parser.add_argument("--steps", type=int, help="override the number of training steps")
    parser.add_argument("--episodes", type=int, help="override the number of recorded episodes")
    parser.add_argument("--eval-episodes", type=int, help="override the number of eval episodes")
    args = parser.parse_args()

    cfg = DemoConfig.from_file(args.preset) if args.preset else DemoConfig()
    for name in ("steps", "episodes", "eval_episodes"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    if cfg.task not in TASKS:
        raise SystemExit(f"task must be one of {sorted(TASKS)}, got {cfg.task!r}")

    out = args.output_dir.resolve()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"),
        "PYTHONUNBUFFERED": "1",
    }
    timings: dict[str, float] = {}
    start = time.perf_counter()
    dataset_root = record_stage(cfg, out, env)
    timings["record"] = time.perf_counter() - start
    start = time.perf_counter()
    policy_dir = train_stage(cfg, dataset_root, out, env)
    timings["train"] = time.perf_counter() - start
    start = time.perf_counter()
    eval_dir = eval_stage(cfg, policy_dir, out, env)
    timings["eval"] = time.perf_counter() - start
    report = write_report(cfg, out, dataset_root, policy_dir, eval_dir, timings)
    print(f"\n[demo] report: {report / 'report.md'}")
    print((report / "report.md").read_text())


if __name__ == "__main__":
    main()
