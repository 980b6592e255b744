"""The learning benchmark's CUDA-machine path (bench/device.py), run here on CPU: parallel recording
from the protocol's seeds, side-by-side training and evaluation under one deadline, the results
archive, and an import that never overwrites a run finished here. (The package carry is rehearsed by
`learning_benchmark.py device-rehearse`, which takes minutes of compression; see docs/gpu.md.)"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bench.device import (
    CARRIED_DISTRIBUTIONS,
    TRIMMED,
    device_import,
    device_run,
    results_name,
    shard_seeds,
    tiny_protocol,
)
from bench.learning import DEFAULT_PROTOCOL, LearningProtocol
from bench.offline_run import StageFailedError, run_logged

from lerobot_hetero_act.sim.record import RecordConfig, record_demos

PROTOCOL = LearningProtocol.from_file(DEFAULT_PROTOCOL)


def _column(dataset_root: Path, column: str) -> np.ndarray:
    frames = pd.concat(pd.read_parquet(f) for f in sorted(dataset_root.glob("data/*/*.parquet")))
    return np.stack(frames[column].to_numpy())


def test_shards_cover_exactly_the_protocols_seeds_in_order():
    shards = shard_seeds(0, 50, 16)
    seeds = [seed for start, n in shards for seed in range(start, start + n)]
    assert seeds == list(range(50)) and len(shards) == 16
    assert shard_seeds(7, 2, 16) == [(7, 1), (8, 1)]  # never an empty shard


def test_results_join_the_protocol_at_its_batch_and_the_4x_point_at_four_times_it():
    assert results_name(PROTOCOL, 8) == "transfer_cube_v1"  # more seeds of the same protocol
    assert results_name(PROTOCOL, 32) == "transfer_cube_v1_4x_samples"
    with pytest.raises(ValueError, match="neither the protocol's 8 nor"):
        results_name(PROTOCOL, 16)  # a point the report would not show


def test_a_command_stopped_at_its_deadline_takes_the_processes_it_started_with_it(tmp_path: Path):
    marker = tmp_path / "survivor"
    child = f"sleep 5 && touch {marker}"  # a data-loader-like grandchild that outlives its parent's exit
    started = time.monotonic()
    with pytest.raises(StageFailedError):
        run_logged(["bash", "-c", f"({child}) & sleep 60"], tmp_path / "log", deadline=time.monotonic() + 1)
    assert time.monotonic() - started < 5  # returned at the deadline, not when the children ended
    time.sleep(max(0.0, 6 - (time.monotonic() - started)))
    assert not marker.exists()


def test_every_carried_distribution_is_installed_and_the_trimmed_parts_are_never_imported():
    for name in CARRIED_DISTRIBUTIONS:  # a renamed distribution would silently leave the device without it
        assert importlib.metadata.distribution(name).files, name
    code = (
        "import sys, lerobot_hetero_act.sim.aloha_env, lerobot_hetero_act.sim.record, gym_aloha;"
        "print([m for m in sys.modules if m.startswith(('dm_control.locomotion', 'dm_control.blender'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]" and all(t.startswith("dm_control/") for t in TRIMMED)


@pytest.mark.e2e
def test_device_run_brings_back_evaluated_runs_and_import_keeps_finished_ones(tmp_path: Path):
    tiny = tiny_protocol(PROTOCOL, "device_tiny")
    committed = tmp_path / "committed"
    run_hetero = functools.partial(
        device_run,
        tiny,
        [("hetero_cell_keys", 1000)],
        batch_size=32,
        minutes=30,
        eval_minutes=10,
        results_root=committed,
    )
    archive = run_hetero(tmp_path / "out", work=tmp_path / "work")
    dataset_info = json.loads((tmp_path / "work/dataset/meta/info.json").read_text())
    assert dataset_info["total_episodes"] == 2
    assert dataset_info["features"]["observation.images.top"]["dtype"] == "video"  # the protocol's data
    recorded = json.loads((tmp_path / "work/dataset/recording_summary.json").read_text())
    assert recorded["saved_seeds"] == [0, 1]  # the protocol's seeds, recorded by two shards
    # ... and the same episodes, in the same order, as the CPU benchmark's sequential recorder makes.
    sequential = record_demos(
        RecordConfig(
            task=tiny.task, root=tmp_path / "sequential", episodes=2, camera_sizes=tiny.camera_sizes
        ),
        show_progress=False,
    )
    assert sequential.saved_seeds == [0, 1]
    for column in ("action", "observation.state", "episode_index", "frame_index"):
        merged, reference = (
            _column(root, column) for root in (tmp_path / "work/dataset", tmp_path / "sequential")
        )
        np.testing.assert_array_equal(merged, reference)

    with tarfile.open(archive) as tar:
        names = tar.getnames()
    run = "results/device_tiny_4x_samples/hetero_cell_keys_seed1000"
    assert {f"{run}/eval_step000002.json", f"{run}/training.json", f"{run}/command.txt"} <= set(names)

    notes = device_import(archive, committed, tmp_path / "logs")
    assert "device_tiny_4x_samples/hetero_cell_keys_seed1000: imported" in notes
    summary_path = committed / "device_tiny_4x_samples/hetero_cell_keys_seed1000/eval_step000002.json"
    summary = json.loads(summary_path.read_text())
    assert summary["machine"].startswith("CPU only") and summary["samples"] == 2 * 32
    assert "--policy.device=cpu" in summary["command"]
    assert any((tmp_path / "logs/device_tiny_4x_samples").glob("train_*.log"))

    # Imported again, a run that has results here keeps them; a device run of it is refused up front.
    summary_path.write_text(json.dumps({**summary, "edited_here": True}))
    notes = device_import(archive, committed, tmp_path / "logs")
    assert (
        "device_tiny_4x_samples/hetero_cell_keys_seed1000: kept (this run has results here already)" in notes
    )
    assert json.loads(summary_path.read_text())["edited_here"]
    with pytest.raises(ValueError, match="already have results"):
        run_hetero(tmp_path / "out2")
