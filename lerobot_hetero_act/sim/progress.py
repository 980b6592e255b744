"""Crash-safe bookkeeping for resumable recording: a JSON sidecar plus a two-phase episode commit.

LeRobot 0.6.1 updates `meta/info.json` as soon as an episode is saved but buffers the episode
index and leaves parquet footers unwritten until `finalize()`, so a dataset killed between the two
is unreadable. The recorder therefore finalizes after every episode and brackets
`save_episode` + `finalize` with `begin_commit` / `end_commit`: before writing, the list of files
and copies of the metadata files LeRobot rewrites in place are saved; if the process dies inside
that window, `rollback` on the next run deletes the new files and restores the copies.
Everything before `begin_commit` (simulation, rendering, temporary PNGs) is discarded on resume.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SIDECAR_NAME = "scripted_demos.json"
SUMMARY_NAME = "recording_summary.json"
"""Success-rate summary written at the end of each run (read by the demo, scripts/bench/demo.py)."""
BACKUP_DIR_NAME = ".commit_backup"
# Metadata files LeRobot rewrites in place when an episode is saved (all others are new files,
# because a resumed writer always starts new data / video / episode-index files).
_REWRITTEN_FILES = ("meta/info.json", "meta/stats.json", "meta/tasks.parquet")
_SCRATCH_DIRS = ("images",)  # LeRobot's temporary PNG frames of the episode being recorded


@dataclass
class Attempt:
    seed: int
    success: bool
    max_reward: float
    saved: bool


@dataclass
class Progress:
    """What has been tried and saved; persisted as `<root>/scripted_demos.json`."""

    settings: dict[str, Any]
    """Recording settings that must not change between a run and its resumption."""
    next_seed: int
    attempts: list[Attempt] = field(default_factory=list)
    pending: dict[str, Any] | None = None
    """Set between begin_commit and end_commit: {"seed": int, "files": [relative paths]}."""

    @property
    def saved_seeds(self) -> list[int]:
        return [a.seed for a in self.attempts if a.saved]

    @property
    def success_rate(self) -> float:
        return sum(a.success for a in self.attempts) / len(self.attempts) if self.attempts else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "attempted": len(self.attempts),
            "successful": sum(a.success for a in self.attempts),
            "saved": len(self.saved_seeds),
            "success_rate": self.success_rate,
            "failed_seeds": [a.seed for a in self.attempts if not a.success],
            "saved_seeds": self.saved_seeds,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.summary()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        return cls(
            settings=data["settings"],
            next_seed=int(data["next_seed"]),
            attempts=[Attempt(**a) for a in data.get("attempts", [])],
            pending=data.get("pending"),
        )


def atomic_write_json(path: Path, data: dict[str, Any]) -> None:
    """Write-then-rename, so a reader (or a crash) never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_progress(root: Path) -> Progress | None:
    path = root / SIDECAR_NAME
    return Progress.from_json(json.loads(path.read_text())) if path.exists() else None


def save_progress(root: Path, progress: Progress) -> None:
    atomic_write_json(root / SIDECAR_NAME, progress.to_json())


def _dataset_files(root: Path) -> list[str]:
    skip = {SIDECAR_NAME, SUMMARY_NAME, BACKUP_DIR_NAME, *_SCRATCH_DIRS}
    files = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        is_temp = rel.name.startswith(".") and rel.name.endswith(".tmp")  # atomic_write_json's
        if path.is_file() and rel.parts[0] not in skip and not is_temp:
            files.append(rel.as_posix())
    return sorted(files)


def begin_commit(root: Path, progress: Progress, seed: int) -> None:
    """Snapshot the dataset's file list and in-place-rewritten metadata before saving an episode."""
    backup = root / BACKUP_DIR_NAME
    shutil.rmtree(backup, ignore_errors=True)
    for rel in _REWRITTEN_FILES:
        if (root / rel).exists():
            (backup / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, backup / rel)
    progress.pending = {"seed": seed, "files": _dataset_files(root)}
    save_progress(root, progress)


def end_commit(root: Path, progress: Progress, attempt: Attempt) -> None:
    """Mark the episode saved (one atomic sidecar write), then drop the snapshot."""
    progress.pending = None
    progress.attempts.append(attempt)
    progress.next_seed = attempt.seed + 1
    save_progress(root, progress)
    shutil.rmtree(root / BACKUP_DIR_NAME, ignore_errors=True)


def clear_scratch(root: Path) -> None:
    """Remove temporary frames an interrupted episode may have left behind."""
    for name in _SCRATCH_DIRS:
        shutil.rmtree(root / name, ignore_errors=True)


def rollback(root: Path, progress: Progress) -> bool:
    """Undo an interrupted commit (files created after begin_commit, metadata rewritten in place).

    Returns True if there was something to undo.
    """
    clear_scratch(root)
    if progress.pending is None:
        return False
    before = set(progress.pending["files"])
    for rel in _dataset_files(root):
        if rel not in before:
            (root / rel).unlink()
    backup = root / BACKUP_DIR_NAME
    for rel in _REWRITTEN_FILES:
        if (backup / rel).exists():
            shutil.copy2(backup / rel, root / rel)
    progress.pending = None
    save_progress(root, progress)
    shutil.rmtree(backup, ignore_errors=True)
    return True
