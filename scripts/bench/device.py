"""The learning benchmark on a lent CUDA machine that has PyTorch but not LeRobot, MuJoCo or PyAV,
and reaches no package index (this workplace's H200). Two machines, three steps:

    python scripts/learning_benchmark.py device-pack            # here: .device/ (packages, GL, manifest)
    bash scripts/device_benchmark.sh --detach 560 --model act hetero_cell_keys --seed 1000 --batch-size 32
    bash scripts/device_benchmark.sh --collect 150              # there: two calls, .device carried
    python scripts/learning_benchmark.py device-import --archive <folder>/device_results.tar.gz  # here

`device-run` (what the shell script starts there) is the CPU benchmark's own code with the device set
to CUDA: the protocol's demos are recorded from the same seeds, in parallel shards merged by LeRobot's
`aggregate_datasets`; the runs train side by side with the real `lerobot-train`, and their
checkpoints are rolled out with the real `lerobot-eval` (parallel environments, same eval seeds). One
deadline bounds the whole call, so it always returns what finished: trainings stop at
`deadline - eval reserve` keeping their checkpoints, evaluations stop at the deadline. The small
results (eval summaries, training timelines, commands, logs) come back as one archive; checkpoints
stay there. Every summary names its machine.

The data is the protocol's own (MP4 videos decoded by PyAV; PNG frames would decode about 100x slower
per sample in LeRobot 0.6.1), so runs at the protocol's batch are more seeds of it and join the CPU
runs' results; four times the batch (the "4x samples" point) goes to `<protocol>_4x_samples`. The CPU
cores not running a training's main process load its data (`workers_per_run`).
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .learning import (
    BenchmarkPaths,
    LearningProtocol,
    completed_steps,
    cpu_cores,
    dataset_repo_id,
    evaluate_checkpoint,
    evaluation_order,
    finished_checkpoint_steps,
    machine_description,
    train,
)
from .offline_run import REPO

PACK = REPO / ".device"
"""What `device-pack` builds and the device call carries (ignored by git)."""
CARRIED_DISTRIBUTIONS = (
    "lerobot",
    "datasets",
    "multiprocess",
    "dill",
    "av",
    "draccus",
    "mergedeep",
    "termcolor",
    "pytz",
    "gymnasium",
    "Farama-Notifications",
    "gym-aloha",
    "mujoco",
    "dm_control",
    "dm-env",
    "dm-tree",
    "PyOpenGL",
)
"""Distributions that lerobot-train, lerobot-eval and the sim import and the device's image lacks (its
package list of 2026-11-17: it has torch 2.11, numpy, pandas, pyarrow, huggingface_hub 1.33, ...)."""
TRIMMED = ("dm_control/locomotion/", "dm_control/blender/")
"""Parts of dm_control the ALOHA sim never imports (about 84 MB), left out to fit the carry limit."""
GL_PACKAGES = ("libegl1", "libglvnd0", "libopengl0", "libgl1", "libglx0", "libgles2")
"""Debian's GL dispatch libraries, which the device image lacks; MuJoCo renders through EGL with them."""
CARRY_LIMIT_BYTES = 64 * 2**20
"""The device tool's limit on everything that travels (working tree plus carried folders)."""
EVAL_ENVS = 10
"""Parallel environments per lerobot-eval (episode seeds are the same as one at a time)."""
SECONDS_FOR_PACKING = 30
MIN_TRAINING_S = 60
"""Less training time than this left after recording: the runs are not started (the call ran late)."""
DEVICE_IMAGE_PACKAGES = Path(__file__).with_name("device_image_packages.txt")


def pack(dest: Path = PACK) -> dict[str, Any]:
    """Build `dest` (site.tar.xz, gl/*.deb, manifest.json) from this environment, replacing those files
    if present; returns the manifest. Raises RuntimeError when the working tree and the pack together
    exceed CARRY_LIMIT_BYTES.
    """
    (dest / "gl").mkdir(parents=True, exist_ok=True)
    versions = {name: importlib.metadata.version(name) for name in CARRIED_DISTRIBUTIONS}
    with tarfile.open(dest / "site.tar.xz", "w:xz", preset=6) as tar:
        for name in CARRIED_DISTRIBUTIONS:
            dist = importlib.metadata.distribution(name)
            for file in dist.files or []:
                path = Path(dist.locate_file(file))
                text = file.as_posix()
                if text.startswith("..") or "__pycache__" in text or text.startswith(TRIMMED):
                    continue
                if path.is_file():
                    tar.add(path, arcname=text)
        # LeRobot finds policy plugins among installed distributions: declare this checkout as one.
        metadata = f"Metadata-Version: 2.1\nName: lerobot_policy_hetero_act\nVersion: {_project_version()}\n"
        info = tarfile.TarInfo("lerobot_policy_hetero_act-0.dist-info/METADATA")
        info.size = len(metadata)
        tar.addfile(info, io.BytesIO(metadata.encode()))
    apt = [
        "-oAPT::Architecture=amd64",
        "-oAPT::Architectures=amd64",
        "-oDir::State::Lists=/tmp/hetero_act_apt",
    ]
    Path("/tmp/hetero_act_apt/partial").mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", *apt, "update"], check=True, capture_output=True)
    subprocess.run(
        ["apt-get", *apt, "download", *GL_PACKAGES], check=True, capture_output=True, cwd=dest / "gl"
    )
    tree = sum(
        (REPO / f).stat().st_size
        for f in subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        if (REPO / f).is_file()
    )
    packed = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    manifest = {
        "commit": _git("rev-parse", "HEAD"),
        "built": time.strftime("%Y-%m-%d %H:%M"),
        "versions": versions,
        "pack_bytes": packed,
        "working_tree_bytes": tree,
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=1))
    if tree + packed > CARRY_LIMIT_BYTES:
        raise RuntimeError(
            f"working tree ({tree / 2**20:.1f} MiB) + {dest.name} ({packed / 2**20:.1f} MiB) exceed the "
            f"device's {CARRY_LIMIT_BYTES / 2**20:.0f} MiB carry limit; trim CARRIED_DISTRIBUTIONS or TRIMMED"
        )
    return manifest


def _project_version() -> str:
    return importlib.metadata.version("lerobot_policy_hetero_act")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


def results_name(protocol: LearningProtocol, batch_size: int) -> str:
    """Results folder of a device run: the protocol's own at its batch (the runs are more seeds of
    it), `<protocol>_4x_samples` at four times its batch (the report's 4x-samples point)."""
    if batch_size == protocol.batch_size:
        return protocol.name
    if batch_size == 4 * protocol.batch_size:
        return f"{protocol.name}_4x_samples"
    raise ValueError(
        f"--batch-size: {batch_size} is neither the protocol's {protocol.batch_size} nor the report's 4x "
        f"samples point ({4 * protocol.batch_size})"
    )


def shard_seeds(first_seed: int, episodes: int, shards: int) -> list[tuple[int, int]]:
    """(first seed, episodes) per shard: consecutive seed ranges covering `episodes` seeds."""
    shards = max(1, min(shards, episodes))
    sizes = [episodes // shards + (i < episodes % shards) for i in range(shards)]
    starts = [first_seed + sum(sizes[:i]) for i in range(shards)]
    return list(zip(starts, sizes, strict=True))


def _record_shard(
    task: str, root: Path, cameras: dict[str, Any], repo_id: str, seed: int, n: int, max_attempts: int | None
) -> list[int]:
    from lerobot_hetero_act.sim.record import RecordConfig, record_demos

    cfg = RecordConfig(
        task=task,
        root=root,
        episodes=n,
        camera_sizes=cameras,
        repo_id=repo_id,
        seed=seed,
        max_attempts=max_attempts,
    )
    return record_demos(cfg, show_progress=False).saved_seeds


def record_parallel(protocol: LearningProtocol, paths: BenchmarkPaths, processes: int) -> list[int]:
    """Record the protocol's demos into `paths.dataset` with `processes` recorders at once; returns the
    saved seeds (the CPU recorder's: the first `episodes` seeds whose scripted replay succeeds).

    Each shard tries only its own seeds; a shortfall (a failed seed) is recorded afterwards from the
    seeds after the last shard's, as the sequential recorder would continue.
    """
    if (paths.dataset / "recording_summary.json").is_file():  # written last: the dataset is whole
        return json.loads((paths.dataset / "recording_summary.json").read_text())["saved_seeds"]
    shards_root = paths.work / "record_shards"
    repo_id = dataset_repo_id(protocol)
    jobs = [(s, n, n) for s, n in shard_seeds(protocol.record_seed, protocol.episodes, processes)]
    roots: list[Path] = []
    saved: list[int] = []
    context = get_context("spawn")  # MuJoCo's GL context must not be forked
    for _ in range(2):
        with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
            futures = []
            for seed, n, attempts in jobs:
                roots.append(shards_root / f"from_seed{seed:06d}")
                args = (
                    protocol.task,
                    roots[-1],
                    protocol.camera_sizes,
                    repo_id,
                    seed,
                    n,
                    attempts,
                )
                futures.append(pool.submit(_record_shard, *args))
            saved += [seed for f in futures for seed in f.result()]
        missing = protocol.episodes - len(saved)
        jobs = [(protocol.record_seed + protocol.episodes, missing, None)]
        if missing <= 0:
            break
    if missing > 0:
        raise RuntimeError(f"recorded only {len(saved)} of {protocol.episodes} episodes in {shards_root}")
    from lerobot.datasets.aggregate import aggregate_datasets

    used = [r for r in roots if (r / "meta/info.json").is_file()]
    aggregate_datasets([repo_id] * len(used), repo_id, roots=used, aggr_root=paths.dataset)
    summary = {"saved_seeds": sorted(saved), "shards": [r.name for r in used]}
    (paths.dataset / "recording_summary.json").write_text(json.dumps(summary, indent=1))
    return summary["saved_seeds"]


def workers_per_run(runs: int) -> int:
    """Data-loading processes per training: the cores that no training's main process uses, shared."""
    return max(1, (cpu_cores() - runs) // runs)


def _train_then_evaluate(
    protocol: LearningProtocol,
    paths: BenchmarkPaths,
    model: str,
    seed: int,
    train_until: float,
    deadline: float,
) -> str:
    """One run's thread: train until `train_until`, then evaluate its checkpoints until `deadline`:
    a finished run's scored checkpoints first, a stopped run's newest first. Returns "finished" or
    what stopped it (every failure is caught, so one run's never hides the others' notes)."""
    notes = []
    try:
        train(protocol, paths, model, seed, deadline=train_until)
    except Exception as err:
        notes.append(f"training stopped: {str(err).splitlines()[0]}")
    try:
        train_dir = paths.train_dir(model, seed)
        steps = finished_checkpoint_steps(train_dir)
        if completed_steps(train_dir) >= protocol.steps:
            steps = evaluation_order(steps, protocol.steps, protocol.score_steps)
        else:
            steps.reverse()
        for step in steps:
            evaluate_checkpoint(protocol, paths, model, seed, step, deadline=deadline)
    except Exception as err:
        notes.append(f"evaluation stopped: {str(err).splitlines()[0]}")
    return "; ".join(notes) or "finished"


def device_run(
    protocol: LearningProtocol,
    runs: list[tuple[str, int]],
    out: Path,
    *,
    batch_size: int,
    minutes: float,
    eval_minutes: float,
    started_at: float | None = None,
    workers: int | None = None,
    results_root: Path = REPO / "docs/benchmark_results",
    work: Path | None = None,
) -> Path:
    """Record, train `runs` side by side and evaluate them on this machine's GPU within `minutes` of
    `started_at` (a Unix time; default now); returns the results archive written under `out`.
    `results_root` holds the committed results: a run with results there is refused (a device run's
    checkpoints do not come back, so a stopped one cannot be resumed; choose another seed). `work`
    (default: a new temporary folder) receives the dataset, checkpoints and logs.
    Raises RuntimeError after writing the archive when something failed or a run did not finish."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    start = time.monotonic() - (time.time() - (started_at or time.time()))
    deadline = start + 60 * minutes - SECONDS_FOR_PACKING
    name = results_name(protocol, batch_size)
    workers = workers if workers is not None else workers_per_run(len(runs))
    taken = [f"{m}_seed{s}" for m, s in runs if (results_root / name / f"{m}_seed{s}").exists()]
    if taken:
        raise ValueError(
            f"{', '.join(taken)} already have results in {results_root / name}; choose other seeds (--seed)"
        )
    work = work or Path(tempfile.mkdtemp(prefix="hetero_act_device_"))
    paths = BenchmarkPaths(work=work, results=work / "results" / name)
    protocol = replace(
        protocol, device=device, batch_size=batch_size, num_workers=workers, eval_batch_size=EVAL_ENVS
    )
    report: dict[str, Any] = {
        "machine": machine_description(device),
        "results": name,
        "workers_per_run": workers,
        "batch_size": batch_size,
        "runs": {},
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    try:
        began = time.monotonic()
        report["saved_seeds"] = record_parallel(protocol, paths, cpu_cores())
        report["record_s"] = time.monotonic() - began
        train_until = deadline - 60 * eval_minutes
        if train_until - time.monotonic() < MIN_TRAINING_S:
            left = train_until - time.monotonic()
            raise RuntimeError(f"recording left {left:.0f} s for training; raise --minutes")
        with ThreadPoolExecutor(len(runs)) as pool:
            futures = {
                f"{m}_seed{s}": pool.submit(
                    _train_then_evaluate, protocol, paths, m, s, train_until, deadline
                )
                for m, s in runs
            }
            report["runs"] = {run: f.result() for run, f in futures.items()}
    except Exception as err:  # the archive below still brings back what finished
        report["error"] = repr(err)
    report["wall_s"] = time.monotonic() - start
    device_log = paths.results / "device_runs" / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    device_log.parent.mkdir(parents=True, exist_ok=True)
    device_log.write_text(json.dumps(report, indent=1))
    out.mkdir(parents=True, exist_ok=True)
    archive = out / "device_results.tar.gz"
    partial = archive.with_name(
        archive.name + ".partial"
    )  # renamed when whole: a waiting call sees all or nothing
    with tarfile.open(partial, "w:gz") as tar:
        tar.add(paths.results, arcname=f"results/{name}")
        if (work / "logs").is_dir():
            tar.add(work / "logs", arcname=f"logs/{name}")
    partial.replace(archive)
    print(json.dumps(report, indent=1))
    if "error" in report or any(note != "finished" for note in report["runs"].values()):
        raise RuntimeError(f"the device run did not finish everything (see above); what did is in {archive}")
    return archive


def device_import(archive: Path, results_root: Path, logs_root: Path) -> list[str]:
    """Unpack a device archive: results/<name>/<run>/... into `results_root`, logs/ into `logs_root`.

    A run that already has a folder here keeps it (the archive's copy is skipped: results of two
    trainings never mix); new runs are written. Returns one line per folder of the archive saying
    which happened.
    """
    notes: dict[str, str] = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            top, _, rest = member.name.partition("/")
            parts = Path(rest).parts
            if not member.isfile() or top not in ("results", "logs") or len(parts) < 2 or ".." in parts:
                continue
            if top == "results":
                run = "/".join(parts[:2])
                kept = parts[1] != "device_runs" and (results_root / run).exists()
                note = notes.setdefault(
                    run, "kept (this run has results here already)" if kept else "imported"
                )
                if note != "imported":
                    continue
            target = (results_root if top == "results" else logs_root) / rest
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
    return [f"{run}: {note}" for run, note in sorted(notes.items())]


def rehearse(
    protocol: LearningProtocol,
    models: list[str],
    scratch: Path,
    batch_size: int | None = None,
) -> Path:
    """Run scripts/device_benchmark.sh here, on CPU, as the device would: in a fresh venv that sees
    only the device image's distributions (DEVICE_IMAGE_PACKAGES) installed here, with a tiny version
    of `protocol` (2 episodes, 2 steps, 1 eval episode), through the same two calls (detach, collect).
    Shows before any GPU time is spent that the carried packages are complete and the whole call runs;
    returns the archive. Raises RuntimeError unless every run finished. Needs `pack()` first.
    """
    import sys

    if not (PACK / "site.tar.xz").is_file():
        raise FileNotFoundError(
            f"{PACK}/site.tar.xz is missing: run `learning_benchmark.py device-pack` first"
        )
    venv = scratch / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    image = scratch / "device_image_packages"
    image.mkdir()
    for entry in sorted(device_image_entries()):
        (image / entry.name).symlink_to(entry)
    (next(venv.glob("lib/python*/site-packages")) / "device_image.pth").write_text(f"{image}\n")
    tiny = tiny_protocol(protocol, "device_rehearsal")
    tiny_path = scratch / "protocol.json"
    tiny_path.write_text(json.dumps(asdict(tiny), indent=1))
    out = scratch / "out"
    out.mkdir()
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "OUT": str(out), "PYTHONPATH": ""}
    env["HETERO_ACT_DETACHED_DIR"] = str(scratch / "detached")
    script = ["bash", str(REPO / "scripts/device_benchmark.sh")]
    flags = ["--protocol", str(tiny_path), "--model", *models, "--minutes", "30", "--eval-minutes", "10"]
    flags += ["--batch-size", str(batch_size)] if batch_size else []
    started = subprocess.run([*script, "--detach", "30", *flags], env=env)
    if started.returncode not in (0, 3):  # 3: still running, as a full run is after call 1
        raise RuntimeError(f"the detaching call failed ({started.returncode}); see {out}")
    collected = subprocess.run([*script, "--collect", "1800"], env=env)
    archive = out / "device_results.tar.gz"
    if collected.returncode != 0 or not archive.is_file():
        raise RuntimeError(
            f"the device run failed ({collected.returncode}); its log: {out / 'device_run.log'}"
        )
    return archive


def tiny_protocol(protocol: LearningProtocol, name: str) -> LearningProtocol:
    """`protocol` cut to a smoke run: 2 episodes, 2 training steps, one checkpoint, 1 eval episode."""
    return replace(
        protocol,
        name=name,
        episodes=2,
        steps=2,
        save_freq=2,
        log_freq=1,
        eval_episodes=1,
        final_eval_episodes=1,
        scored_steps=[],
    )


def device_image_entries() -> set[Path]:
    """site-packages entries (package folders, modules, .dist-info) of this environment's distributions
    that the device image has too; NVIDIA's CUDA libraries count as the image's under any name."""
    lines = DEVICE_IMAGE_PACKAGES.read_text().splitlines()
    allowed = {_normalized(n) for n in lines if n.strip() and not n.startswith("#")}
    entries = set()
    for dist in importlib.metadata.distributions():
        name = _normalized(dist.metadata["Name"])
        if name in allowed or name.startswith("nvidia-"):
            for file in dist.files or []:
                if not file.as_posix().startswith(".."):
                    entries.add(Path(dist.locate_file(file.parts[0])))
    return entries


def _normalized(name: str) -> str:
    """A distribution name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()
