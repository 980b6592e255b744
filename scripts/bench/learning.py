"""Learning benchmark: record scripted demos, train every model with the real `lerobot-train`, roll
its checkpoints out with the real `lerobot-eval` in `aloha_multicam`, and keep small result files.

A protocol (JSON, e.g. `configs/learning_benchmark_transfer_cube.json`) fixes everything the models
share: data (task, episodes, record seed, camera sizes), training (steps, batch, checkpoint interval,
common policy flags, seeds) and evaluation (seed, episodes per intermediate and final checkpoint). The
models differ only in their own flags. Large artefacts (dataset, checkpoints, eval videos) live in the
work directory (`outputs/...`); what a report needs (per-checkpoint eval summaries, the training log's
loss and time per step, the exact commands) goes to the results directory, which is committed, so a
lost machine costs a re-run, never a result.

Training continues from its last checkpoint when rerun (LeRobot's `--resume=true`), and an eval
that already has a summary is not rerun: every command here can be interrupted and repeated.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lerobot.utils.constants import CHECKPOINTS_DIR, LAST_CHECKPOINT_LINK, TRAINING_STATE_DIR, TRAINING_STEP

from lerobot_hetero_act.modeling_hetero_act import VIEW_GATE_LOG_PREFIX
from lerobot_hetero_act.run_recovery import step_checkpoints
from lerobot_hetero_act.sim.cameras import eval_env_camera_args, parse_camera_sizes, recorder_camera_args
from lerobot_hetero_act.sim.task_spec import get_task

from .offline_run import REPO, lerobot_command, run_logged

DEFAULT_PROTOCOL = REPO / "configs/learning_benchmark_transfer_cube.json"
"""The transfer-cube benchmark: the demo's protocol and the image sizes the timing benchmark's
role-aware row resizes to."""
CHECKPOINT_LINE = re.compile(r"Checkpoint policy after step (\d+)")
BENCHMARK_POLICY_TYPES = ("act_backbone_norm",)
"""Policy types of scripts/bench/policies (ACT with the recipe levers), which LeRobot's console
scripts only know when run through scripts/lerobot_bench.py."""
LOG_LINE = re.compile(r"step:\S+ .*?(?<!\w)loss:([0-9.eE+-]+).*?updt_s:([0-9.]+) data_s:([0-9.]+)")


def parse_view_gate_log_line(line: str) -> dict[str, float] | None:
    """Camera -> mean gate weight from one of the policy's per-episode view-gate lines
    (`HeteroACTPolicy.reset()`, prefix VIEW_GATE_LOG_PREFIX); None for any other line."""
    _, found, rest = line.partition(VIEW_GATE_LOG_PREFIX)
    if not found:
        return None
    pairs = (item.strip().split("=") for item in rest.split(","))
    return {name: float(value) for name, value in pairs}


def dataclass_from_json(cls: type, path: Path) -> Any:
    """Dataclass `cls` from a JSON file, decoded by draccus (LeRobot's config parser); an unknown or
    ill-typed field is a ValueError naming the file and the field."""
    import draccus
    from draccus.utils import DecodingError

    try:
        return draccus.parse(cls, config_path=path, args=[])
    except DecodingError as err:
        raise ValueError(f"{path}: {err}") from err


@dataclass
class LearningProtocol:
    """What every model of one benchmark shares; see the module docstring."""

    name: str
    purpose: str = ""
    """What this protocol tests, in a sentence (printed under its heading in docs/benchmarks.md)."""
    task: str = "transfer_cube"
    episodes: int = 50
    record_seed: int = 0
    cameras: dict[str, str] = field(
        default_factory=lambda: {"top": "120x160", "left_wrist": "192x256", "right_wrist": "120x160"}
    )
    steps: int = 6000
    batch_size: int = 8
    save_freq: int = 1000
    log_freq: int = 50
    num_workers: int = 0
    train_seeds: list[int] = field(default_factory=lambda: [1000, 2000])
    train_args: list[str] = field(default_factory=list)
    """lerobot-train flags every model gets (dims, chunking, learning rates, backbone init, decoder)."""
    hetero_args: list[str] = field(default_factory=list)
    """Flags every hetero_act model gets (camera roles, and native image sizes unless a model's own
    flags resize)."""
    models: dict[str, list[str]] = field(default_factory=dict)
    """Model name -> its own flags, starting with --policy.type=..."""
    recipes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Recipe name -> {"levers": what it changes, "models": {base model: the base model with the
    recipe}}: the screening compares each pair on the same training seeds."""
    heldout_episodes: int = 10
    """Scripted episodes recorded apart from the demos for held-out L1 (`bench.heldout`)."""
    heldout_seed: int = 50_000
    eval_seed: int = 100_000
    eval_episodes: int = 20
    final_eval_episodes: int = 50
    scored_steps: list[int] = field(default_factory=list)
    """Checkpoints evaluated with `final_eval_episodes` whose mean success is a run's score (so one
    lucky checkpoint does not decide); empty means the last step alone."""
    eval_batch_size: int = 1
    device: str = "cpu"
    default_model: str = "hetero_cell_keys"
    baseline_model: str = "act"
    within_noise_of: dict[str, str] = field(default_factory=dict)
    """Model -> reference model whose final success it must match within noise (a cheaper variant, such
    as smaller role image sizes, that may replace the reference only if it loses nothing measurable)."""

    @classmethod
    def from_file(cls, path: Path) -> LearningProtocol:
        protocol = dataclass_from_json(cls, path)
        protocol.check()
        return protocol

    def check(self) -> None:
        get_task(self.task, "task")
        parse_camera_sizes(self.cameras, "cameras")
        for name, args in self.models.items():
            if not args or not args[0].startswith("--policy.type="):
                raise ValueError(f"model {name!r}: its flags must start with --policy.type=act|hetero_act")
        compared = {
            self.default_model,
            self.baseline_model,
            *self.within_noise_of,
            *self.within_noise_of.values(),
            *(m for recipe in self.recipes.values() for pair in recipe["models"].items() for m in pair),
        }
        undefined = sorted(compared - set(self.models))
        if undefined:
            raise ValueError(f"compared model(s) {undefined} are not defined; models: {sorted(self.models)}")
        # The recorder skips seeds whose scripted replay fails, so each set may use up to 10 seeds per episode.
        seed_ranges = {
            "demo": (self.record_seed, self.record_seed + 10 * self.episodes),
            "held-out": (self.heldout_seed, self.heldout_seed + 10 * self.heldout_episodes),
            "eval": (self.eval_seed, self.eval_seed + 10 * self.final_eval_episodes),
        }
        names = list(seed_ranges)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                (a0, a1), (b0, b1) = seed_ranges[a], seed_ranges[b]
                if a0 < b1 and b0 < a1:
                    raise ValueError(
                        f"the {a} seeds {a0}..{a1 - 1} and the {b} seeds {b0}..{b1 - 1} overlap: demo, "
                        "held-out and eval seeds must be disjoint (move record_seed, heldout_seed or eval_seed)."
                    )

    @property
    def score_steps(self) -> list[int]:
        """The checkpoints a run's score averages over, ascending (the last step when none is set)."""
        return sorted(self.scored_steps) or [self.steps]

    @property
    def camera_sizes(self) -> dict[str, tuple[int, int]]:
        return parse_camera_sizes(self.cameras, "cameras")

    def policy_type(self, model: str) -> str:
        return self.model_args(model)[0].removeprefix("--policy.type=")

    def lerobot_entry(self, model: str, tool: str) -> list[str]:
        """The command that runs LeRobot's `tool` ("train" or "eval") for this model's policy type
        (LeRobot's main through scripts/lerobot_bench.py where its console script is not installed,
        as on a machine whose LeRobot travelled as files: `bench.device`)."""
        console_script = lerobot_command(f"lerobot-{tool}")
        if self.policy_type(model) in BENCHMARK_POLICY_TYPES or not Path(console_script).exists():
            return [lerobot_command("python"), str(REPO / "scripts/lerobot_bench.py"), tool]
        return [console_script]

    def model_args(self, model: str) -> list[str]:
        if model not in self.models:
            raise ValueError(f"unknown model {model!r}; this protocol has {sorted(self.models)}")
        args = self.models[model]
        extra = self.hetero_args if args[0] == "--policy.type=hetero_act" else []
        return [args[0], *self.train_args, *extra, *args[1:]]


@dataclass
class BenchmarkPaths:
    """Work directory (large, not committed) and results directory (small, committed) of a protocol."""

    work: Path
    results: Path

    @property
    def dataset(self) -> Path:
        return self.work / "dataset"

    @property
    def heldout_dataset(self) -> Path:
        return self.work / "heldout_dataset"

    def run_name(self, model: str, seed: int) -> str:
        return f"{model}_seed{seed}"

    def train_dir(self, model: str, seed: int) -> Path:
        return self.work / "runs" / self.run_name(model, seed)

    def result_dir(self, model: str, seed: int) -> Path:
        return self.results / self.run_name(model, seed)

    def eval_dir(self, model: str, seed: int, step: int) -> Path:
        return self.work / "evals" / self.run_name(model, seed) / f"step{step:06d}"

    def eval_summary(self, model: str, seed: int, step: int) -> Path:
        return self.result_dir(model, seed) / f"eval_step{step:06d}.json"


def dataset_repo_id(protocol: LearningProtocol, heldout: bool = False) -> str:
    return f"local/{protocol.name}_heldout" if heldout else f"local/{protocol.name}"


def record(
    protocol: LearningProtocol, paths: BenchmarkPaths, threads: int | None = None, heldout: bool = False
) -> None:
    """Record the protocol's scripted demos, or its held-out episodes (resumes an interrupted recording)."""
    episodes, seed = (
        (protocol.heldout_episodes, protocol.heldout_seed)
        if heldout
        else (protocol.episodes, protocol.record_seed)
    )
    cmd = [
        lerobot_command("python"),
        "-m",
        "lerobot_hetero_act.sim.record",
        "--task",
        protocol.task,
        "--episodes",
        str(episodes),
        *recorder_camera_args(protocol.camera_sizes),
        "--root",
        str(paths.heldout_dataset if heldout else paths.dataset),
        "--seed",
        str(seed),
        "--repo-id",
        dataset_repo_id(protocol, heldout),
    ]
    log = "record_heldout.log" if heldout else "record.log"
    run_logged(cmd, paths.work / "logs" / log, append=True, threads=threads)


def completed_steps(train_dir: Path) -> int:
    """Step of the run's last checkpoint (0 when there is none)."""
    state = train_dir / CHECKPOINTS_DIR / LAST_CHECKPOINT_LINK / TRAINING_STATE_DIR / TRAINING_STEP
    return json.loads(state.read_text()).get("step", 0) if state.is_file() else 0


def checkpoint_steps(protocol: LearningProtocol) -> list[int]:
    """Steps at which LeRobot saves a checkpoint under the protocol (every `save_freq`, and the last)."""
    return sorted({*range(protocol.save_freq, protocol.steps, protocol.save_freq), protocol.steps})


def results_complete(protocol: LearningProtocol, paths: BenchmarkPaths, model: str, seed: int) -> bool:
    """Whether the results directory already holds the evaluations that make the run's score (its
    scored checkpoints and the last). Such a run is finished even where its work directory
    (checkpoints) is gone, e.g. on a fresh machine: a missing 20-episode point of the curve is not
    worth a whole training again, a missing scored point is."""
    scored = {*protocol.score_steps, protocol.steps}
    return all(paths.eval_summary(model, seed, step).is_file() for step in scored)


def train_command(protocol: LearningProtocol, paths: BenchmarkPaths, model: str, seed: int) -> list[str]:
    """The lerobot-train command of a fresh run."""
    return [
        *protocol.lerobot_entry(model, "train"),
        f"--dataset.repo_id={dataset_repo_id(protocol)}",
        f"--dataset.root={paths.dataset}",
        f"--output_dir={paths.train_dir(model, seed)}",
        f"--steps={protocol.steps}",
        f"--batch_size={protocol.batch_size}",
        f"--save_freq={protocol.save_freq}",
        f"--log_freq={protocol.log_freq}",
        f"--num_workers={protocol.num_workers}",
        f"--seed={seed}",
        f"--policy.device={protocol.device}",
        "--policy.push_to_hub=false",
        "--wandb.enable=false",
        *protocol.model_args(model),
    ]


@dataclass
class TrainTimeline:
    """Per-run record of training progress that survives interruptions (results/<run>/training.json).

    wall_s[step]: wall-clock seconds spent in lerobot-train to reach that checkpoint, summed over
    resumed segments (work after the last checkpoint of a killed segment is redone and not counted).
    compute_s[step]: the same from LeRobot's own per-step timers (update + data loading), which leave
    out start-up and checkpoint writing. log: [step, loss, updt_s, data_s] per log line.
    """

    wall_s: dict[int, float] = field(default_factory=dict)
    compute_s: dict[int, float] = field(default_factory=dict)
    log: list[list[float]] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> TrainTimeline:
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        return cls(
            wall_s={int(k): v for k, v in data["wall_s"].items()},
            compute_s={int(k): v for k, v in data["compute_s"].items()},
            log=data["log"],
            segments=data.get("segments", []),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        tmp.replace(path)

    def truncate(self, step: int) -> None:
        """Forget what was logged after `step` (a resumed run redoes it)."""
        self.log = [row for row in self.log if row[0] <= step]
        self.wall_s = {s: v for s, v in self.wall_s.items() if s <= step}
        self.compute_s = {s: v for s, v in self.compute_s.items() if s <= step}


def cpu_cores() -> int:
    """CPU cores this process may run on (a container's share, not the host's count)."""
    import os

    return len(os.sched_getaffinity(0))


def machine_description(device: str) -> str:
    """The machine a training or evaluation ran on, as results name it ("NVIDIA H200, 16 CPU cores")."""
    import torch

    cores = f"{cpu_cores()} CPU cores"
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()}, {cores}"
    return f"CPU only, {cores}"


def train(
    protocol: LearningProtocol,
    paths: BenchmarkPaths,
    model: str,
    seed: int,
    threads: int | None = None,
    deadline: float | None = None,
) -> Path:
    """Train (or continue training) one model with one seed; returns the run directory. `deadline`
    (`time.monotonic()`) stops the training there, keeping its checkpoints (StageFailedError)."""
    train_dir = paths.train_dir(model, seed)
    result_dir = paths.result_dir(model, seed)
    timeline_path = result_dir / "training.json"
    start_step = completed_steps(train_dir)
    if start_step >= protocol.steps:
        print(f"[learning] {train_dir.name}: already trained to step {start_step}")
        return train_dir
    if results_complete(protocol, paths, model, seed):
        print(f"[learning] {train_dir.name}: {result_dir} holds the run's scored evaluations; not retrained")
        print("           (to train it again, move that folder away first)")
        return train_dir
    fresh = train_command(protocol, paths, model, seed)
    result_dir.mkdir(parents=True, exist_ok=True)
    (result_dir / "command.txt").write_text(shlex.join(_portable(fresh)) + "\n")
    if start_step > 0:
        config = train_dir / "checkpoints/last/pretrained_model/train_config.json"
        cmd = [
            *protocol.lerobot_entry(model, "train"),
            f"--config_path={config}",
            "--resume=true",
            f"--steps={protocol.steps}",
        ]
    else:
        if train_dir.exists():
            shutil.rmtree(train_dir)  # died before its first checkpoint: start clean
        cmd = fresh

    timeline = TrainTimeline.load(timeline_path)
    timeline.truncate(start_step)
    base_wall = timeline.wall_s.get(start_step, 0.0)
    base_compute = timeline.compute_s.get(start_step, 0.0)
    state = {"step": start_step, "compute": base_compute}
    segment_start = time.perf_counter()
    timeline.segments.append(
        {
            "from_step": start_step,
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": machine_description(protocol.device),
        }
    )

    def on_line(line: str) -> None:
        if m := LOG_LINE.search(line):
            state["step"] += protocol.log_freq
            loss, updt, data = (float(v) for v in m.groups())
            state["compute"] += protocol.log_freq * (updt + data)
            timeline.log.append([state["step"], loss, updt, data])
        elif m := CHECKPOINT_LINE.search(line):
            step = int(m.group(1))
            timeline.wall_s[step] = base_wall + time.perf_counter() - segment_start
            timeline.compute_s[step] = state["compute"]
            timeline.save(timeline_path)

    try:
        run_logged(
            cmd,
            paths.work / "logs" / f"train_{train_dir.name}.log",
            on_line=on_line,
            append=True,
            threads=threads,
            deadline=deadline,
        )
    finally:
        timeline.save(timeline_path)
    return train_dir


def eval_command(
    protocol: LearningProtocol, model: str, checkpoint: Path, output_dir: Path, n_episodes: int
) -> list[str]:
    return [
        *protocol.lerobot_entry(model, "eval"),
        f"--policy.path={checkpoint}",
        f"--policy.device={protocol.device}",
        "--env.type=aloha_multicam",
        f"--env.task={get_task(protocol.task).gym_task}",
        *eval_env_camera_args(protocol.camera_sizes),
        f"--eval.n_episodes={n_episodes}",
        f"--eval.batch_size={protocol.eval_batch_size}",
        f"--seed={protocol.eval_seed}",
        f"--output_dir={output_dir}",
    ]


def evaluate_checkpoint(
    protocol: LearningProtocol,
    paths: BenchmarkPaths,
    model: str,
    seed: int,
    step: int,
    threads: int | None = None,
    deadline: float | None = None,
) -> Path:
    """Roll one checkpoint out (20 episodes, 50 for the scored steps); writes results/<run>/eval_stepN.json."""
    summary_path = paths.eval_summary(model, seed, step)
    if summary_path.is_file():
        return summary_path
    train_dir = paths.train_dir(model, seed)
    checkpoint = step_checkpoint(train_dir, step)
    scored = step >= protocol.steps or step in protocol.score_steps
    n_episodes = protocol.final_eval_episodes if scored else protocol.eval_episodes
    out = paths.eval_dir(model, seed, step)
    if out.exists():
        shutil.rmtree(out)
    cmd = eval_command(protocol, model, checkpoint, out, n_episodes)
    gates: list[dict[str, float]] = []

    def collect_gate(line: str) -> None:
        if (gate := parse_view_gate_log_line(line)) is not None:
            gates.append(gate)

    log = paths.work / "logs" / f"eval_{train_dir.name}_step{step}.log"
    wall = run_logged(cmd, log, threads=threads, on_line=collect_gate, deadline=deadline)
    info = json.loads((out / "eval_info.json").read_text())
    summary = summarize_eval_info(info)
    if gates:
        summary.update(view_gate_summary(gates))
    summary.update(
        {
            "model": model,
            "train_seed": seed,
            "step": step,
            "samples": step * protocol.batch_size,
            "eval_seed": protocol.eval_seed,
            "eval_wall_s": wall,
            "machine": machine_description(protocol.device),
            "command": shlex.join(_portable(cmd)),
        }
    )
    summary_path.write_text(json.dumps(summary, indent=1))
    return summary_path


def view_gate_summary(episodes: list[dict[str, float]]) -> dict[str, Any]:
    """Mean view-gate weight per camera over the episodes whose gate was logged.

    The policy logs an episode's gate when the next one starts (`reset()`), so an eval of n episodes
    logs n - 1 of them; the count is kept beside the means.
    """
    return {
        "view_gate_mean": {cam: statistics.fmean(e[cam] for e in episodes) for cam in episodes[0]},
        "view_gate_episodes": len(episodes),
    }


def evaluate_pending(
    protocol: LearningProtocol,
    paths: BenchmarkPaths,
    model: str,
    seed: int,
    threads: int | None = None,
    deadline: float | None = None,
) -> None:
    """Evaluate every finished checkpoint of a run that has no summary yet (a checkpoint counts as
    finished once LeRobot points `last` at it or past it, so a running training is safe)."""
    done = finished_checkpoint_steps(paths.train_dir(model, seed))
    for step in evaluation_order(done, protocol.steps, protocol.score_steps):
        evaluate_checkpoint(protocol, paths, model, seed, step, threads=threads, deadline=deadline)


def finished_checkpoint_steps(train_dir: Path) -> list[int]:
    """Steps of the run's checkpoints that LeRobot has finished writing (`last` points at or past
    them), ascending."""
    last = completed_steps(train_dir)
    return [int(p.name) for p in step_checkpoints(train_dir) if int(p.name) <= last]


def evaluation_order(steps: list[int], final_step: int, score_steps: list[int] = ()) -> list[int]:
    """The final checkpoint first, then the other scored ones, then the rest oldest first: the scored
    points carry the verdicts, so a session that runs out of time mid-way has them before the curve's
    intermediate points."""
    finals = [s for s in steps if s >= final_step]
    scored = sorted((s for s in steps if s in score_steps and s < final_step), reverse=True)
    return finals + scored + [s for s in steps if s < final_step and s not in scored]


def summarize_eval_info(info: dict[str, Any]) -> dict[str, Any]:
    """Per-episode successes, max rewards and returns from lerobot-eval's eval_info.json."""
    successes: list[bool] = []
    max_rewards: list[float] = []
    sum_rewards: list[float] = []
    for task in info.get("per_task", []):
        metrics = task.get("metrics", {})
        successes += [bool(s) for s in metrics.get("successes", [])]
        max_rewards += [float(r) for r in metrics.get("max_rewards", [])]
        sum_rewards += [float(r) for r in metrics.get("sum_rewards", [])]
    if not successes or len(successes) != len(max_rewards):
        raise ValueError("eval_info.json holds no per-episode results (per_task[*].metrics)")
    return {
        "n_episodes": len(successes),
        "n_success": sum(successes),
        "successes": successes,
        "max_rewards": max_rewards,
        "sum_rewards": sum_rewards,
    }


def step_checkpoint(train_dir: Path, step: int) -> Path:
    """The pretrained_model folder of the run's checkpoint at `step`."""
    for path in step_checkpoints(train_dir):
        if int(path.name) == step:
            return path / "pretrained_model"
    raise FileNotFoundError(f"{train_dir}: no checkpoint for step {step}")


def _portable(cmd: list[str]) -> list[str]:
    """A command as a user would type it: console scripts by name, paths relative to the repo."""
    names = {lerobot_command(name): name for name in ("lerobot-train", "lerobot-eval", "python")}
    return [names.get(arg, arg.replace(str(REPO) + "/", "")) for arg in cmd]


def measure_step_times(
    protocol: LearningProtocol,
    paths: BenchmarkPaths,
    models: list[str],
    steps: int = 40,
    rounds: int = 2,
    threads: int | None = None,
) -> dict[str, Any]:
    """Seconds per training step of each model, measured side by side on a quiet machine.

    Runs the real lerobot-train for `steps` steps per model, alternating models for `rounds` rounds,
    and takes the median over LeRobot's per-interval timers (update + data loading), leaving out the
    first interval (warm-up). The learning runs' own clocks include whatever else ran beside them;
    this gives the wall-clock axis of a dedicated machine: step x seconds per step.
    """
    samples: dict[str, list[float]] = {model: [] for model in models}
    for round_ix in range(rounds):
        for model in models:
            out = paths.work / "timing" / f"{model}_round{round_ix}"
            if out.exists():
                shutil.rmtree(out)
            cmd = [
                *(
                    a
                    for a in train_command(protocol, paths, model, protocol.train_seeds[0])
                    if not a.startswith(("--output_dir", "--steps", "--log_freq", "--save_freq"))
                ),
                f"--output_dir={out}",
                f"--steps={steps}",
                "--log_freq=10",
                "--save_checkpoint=false",
            ]
            intervals: list[float] = []

            def on_line(line: str, intervals: list[float] = intervals) -> None:
                if m := LOG_LINE.search(line):
                    intervals.append(float(m.group(2)) + float(m.group(3)))

            run_logged(
                cmd,
                paths.work / "logs" / f"timing_{model}_round{round_ix}.log",
                threads=threads,
                on_line=on_line,
            )
            samples[model] += intervals[1:]
    result = {
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "threads": threads,
        "steps_per_run": steps,
        "rounds": rounds,
        "s_per_step": {m: statistics.median(v) for m, v in samples.items() if v},
        "intervals": samples,
    }
    paths.results.mkdir(parents=True, exist_ok=True)
    (paths.results / "step_time.json").write_text(json.dumps(result, indent=1))
    return result


def watch_and_evaluate(
    protocol: LearningProtocol,
    paths: BenchmarkPaths,
    runs: list[tuple[str, int]],
    threads: int | None = None,
    poll_s: float = 60.0,
) -> None:
    """Evaluate the runs' checkpoints as their trainings (running elsewhere) write them; returns when
    every run has reached the protocol's last step and every checkpoint is evaluated."""
    while True:
        for model, seed in runs:
            evaluate_pending(protocol, paths, model, seed, threads=threads)
        if all(completed_steps(paths.train_dir(m, s)) >= protocol.steps for m, s in runs):
            for model, seed in runs:  # the last checkpoint may have landed during the pass above
                evaluate_pending(protocol, paths, model, seed, threads=threads)
            return
        time.sleep(poll_s)


def evaluate_heldout(protocol: LearningProtocol, paths: BenchmarkPaths, model: str, seed: int) -> Path | None:
    """Held-out L1 of a run's final checkpoint (results/<run>/heldout_l1_stepN.json); None if unfinished."""
    from .heldout import heldout_l1

    train_dir = paths.train_dir(model, seed)
    step = completed_steps(train_dir)
    if step < protocol.steps:
        print(f"[learning] {train_dir.name}: trained to step {step} of {protocol.steps}; no held-out L1 yet")
        return None
    summary_path = paths.result_dir(model, seed) / f"heldout_l1_step{step:06d}.json"
    if summary_path.is_file():
        return summary_path
    checkpoint = step_checkpoint(train_dir, step)
    started = time.perf_counter()
    per_episode = heldout_l1(checkpoint, paths.heldout_dataset, dataset_repo_id(protocol, heldout=True))
    summary = {
        "model": model,
        "train_seed": seed,
        "step": step,
        "heldout_seed": protocol.heldout_seed,
        "l1_per_episode": per_episode,
        "mean_l1": statistics.fmean(per_episode.values()),
        "wall_s": time.perf_counter() - started,
    }
    summary_path.write_text(json.dumps(summary, indent=1))
    print(f"[learning] {train_dir.name} step {step}: held-out L1 {summary['mean_l1']:.4f}")
    return summary_path


USAGE = """Learning benchmark of hetero_act against LeRobot's ACT, closed loop in the multi-camera ALOHA sim.

    python scripts/learning_benchmark.py record                      # scripted demos (resumable)
    python scripts/learning_benchmark.py train --model act --seed 1000   # lerobot-train (resumes)
    python scripts/learning_benchmark.py eval  --model act --seed 1000   # lerobot-eval every new checkpoint
    python scripts/learning_benchmark.py run   --model act hetero_cell_keys --seed 3000 4000  # train+eval, seed by seed
    python scripts/learning_benchmark.py watch --model act hetero_cell_keys    # eval checkpoints as they land
    python scripts/learning_benchmark.py time  --model act hetero_cell_keys  # s/step side by side (quiet machine)
    python scripts/learning_benchmark.py heldout --model act hetero_cell_keys  # held-out L1 of final checkpoints
    python scripts/learning_benchmark.py report                      # figures + docs/benchmarks.md section

On a lent CUDA machine without LeRobot (bench/device.py; docs/gpu.md):

    python scripts/learning_benchmark.py device-pack                 # here: .device/ to carry there
    python scripts/learning_benchmark.py device-rehearse --model act_gn_shift hetero_cell_keys  # here, CPU, tiny
    bash scripts/device_benchmark.sh --model act hetero_cell_keys --seed 1000 --batch-size 32
    python scripts/learning_benchmark.py device-import --archive <folder>/device_results.tar.gz

Two trainings side by side on 2 cores, one torch thread each, evaluated as they go:

    for m in act hetero_cell_keys; do
      python scripts/learning_benchmark.py train --model $m --threads 1 &
    done
    python scripts/learning_benchmark.py watch --model act hetero_cell_keys --threads 1

All take `--protocol configs/learning_benchmark_transfer_cube.json` (default). Big files go to
`outputs/learning_benchmark/<protocol name>/`, the small per-checkpoint results that the report is
made from to `docs/benchmark_results/<protocol name>/` (commit them as they arrive). `--threads 1`
gives the torch processes one thread each, for running two jobs side by side on a 2-core machine.
"""


def main() -> None:
    from .learning_report import write_learning_report

    parser = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "command",
        choices=[
            "record",
            "train",
            "eval",
            "run",
            "watch",
            "time",
            "heldout",
            "report",
            "device-pack",
            "device-rehearse",
            "device-run",
            "device-import",
        ],
    )
    parser.add_argument("--protocol", type=Path, default=DEFAULT_PROTOCOL)
    parser.add_argument("--model", nargs="+", default=[], help="model name(s) of the protocol")
    parser.add_argument(
        "--seed", type=int, nargs="+", default=None, help="training seed(s); default: the first"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads per process")
    parser.add_argument("--work-dir", type=Path, help="default outputs/learning_benchmark/<protocol name>")
    parser.add_argument("--results-dir", type=Path, help="default docs/benchmark_results/<protocol name>")
    parser.add_argument("--doc", type=Path, default=REPO / "docs/benchmarks.md")
    device = parser.add_argument_group("device-run / device-import (bench/device.py)")
    device.add_argument("--batch-size", type=int, help="default: the protocol's")
    device.add_argument("--minutes", type=float, default=9.0, help="the whole call's deadline")
    device.add_argument("--eval-minutes", type=float, default=3.0, help="kept for evaluation after training")
    device.add_argument(
        "--workers",
        type=int,
        default=None,
        help="data-loading processes per training (default: the free cores, shared)",
    )
    device.add_argument(
        "--started-at", type=float, help="Unix time the call started (the deadline counts from it)"
    )
    device.add_argument("--out", type=Path, help="folder for device_results.tar.gz")
    device.add_argument("--archive", type=Path, help="device_results.tar.gz to import")
    args = parser.parse_args()

    protocol = LearningProtocol.from_file(args.protocol)
    paths = BenchmarkPaths(
        work=args.work_dir or REPO / "outputs/learning_benchmark" / protocol.name,
        results=args.results_dir or REPO / "docs/benchmark_results" / protocol.name,
    )
    seeds = args.seed or protocol.train_seeds[:1]
    if (
        args.command in ("train", "eval", "run", "watch", "time", "heldout", "device-run", "device-rehearse")
        and not args.model
    ):
        parser.error(f"--model is required; this protocol has {sorted(protocol.models)}")
    for model in args.model:
        protocol.model_args(model)  # unknown names fail before anything runs

    if args.command.startswith("device-"):
        from . import device as dev

        if args.command == "device-pack":
            print(json.dumps(dev.pack(), indent=1))
        elif args.command == "device-rehearse":
            import tempfile

            scratch = Path(tempfile.mkdtemp(prefix="hetero_act_rehearsal_"))
            archive = dev.rehearse(protocol, args.model, scratch, args.batch_size)
            print("\n".join(dev.device_import(archive, scratch / "imported", scratch / "logs")))
            print(f"rehearsal passed; its files are in {scratch}")
        elif args.command == "device-run":
            dev.device_run(
                protocol,
                [(m, s) for m in args.model for s in seeds],
                args.out or paths.work / "device_out",
                batch_size=args.batch_size or protocol.batch_size,
                minutes=args.minutes,
                eval_minutes=args.eval_minutes,
                started_at=args.started_at,
                workers=args.workers,
            )
        else:
            if args.archive is None:
                parser.error("device-import needs --archive <device_results.tar.gz>")
            logs = REPO / "outputs/learning_benchmark/device_logs"
            print("\n".join(dev.device_import(args.archive, paths.results.parent, logs)))
        return
    if args.command == "record":
        record(protocol, paths, threads=args.threads)
    elif args.command == "watch":
        watch_and_evaluate(protocol, paths, [(m, s) for m in args.model for s in seeds], threads=args.threads)
        return
    elif args.command == "time":
        print(measure_step_times(protocol, paths, args.model, threads=args.threads)["s_per_step"])
        return
    elif args.command == "heldout":
        record(protocol, paths, threads=args.threads, heldout=True)
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        for model in args.model:
            for seed in seeds:
                evaluate_heldout(protocol, paths, model, seed)
        return
    elif args.command == "report":
        print(write_learning_report(protocol, paths.results, args.doc))
    # Seed-major: every model gets a seed before any model gets the next, so a queue cut short by a
    # session's end leaves the models with equal seed counts for the across-seed comparison.
    for seed in seeds:
        for model in args.model:
            if args.command in ("train", "run"):
                train(protocol, paths, model, seed, threads=args.threads)
            if args.command in ("eval", "run"):
                evaluate_pending(protocol, paths, model, seed, threads=args.threads)
