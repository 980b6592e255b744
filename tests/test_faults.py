"""Faults: a training run killed with SIGKILL, half-written checkpoints, damaged or foreign files.

What LeRobot 0.6.1 does (read from lerobot/common/train_utils.py): `save_checkpoint` writes
pretrained_model/ (config, weights, train config, processors) and then training_state/, with plain
non-atomic writes, and only afterwards `update_last_checkpoint` repoints `checkpoints/last` by
unlink + symlink. So a SIGKILL leaves `last` on a complete checkpoint -- except inside that
unlink/symlink window, where `last` vanishes and `--config_path=.../last/...` fails with a bare
FileNotFoundError -- and can leave a step directory without training_state/ or with a truncated file.
`lerobot_hetero_act.run_recovery` finds the last complete checkpoint and names what is missing;
`lerobot_hetero_act.checkpoint_checks` names the damaged file when a checkpoint is loaded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from cli import BIN_DIR, cli_env, tiny_policy_args
from dataset_factory import write_tiny_dataset
from policy_factory import ONE_CELL_ROLE_GRIDS
from safetensors.torch import load_file

from lerobot_hetero_act import run_recovery
from lerobot_hetero_act.checkpoint_checks import CheckpointError
from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy
from lerobot_hetero_act.run_recovery import (
    check_resume_checkpoint,
    checkpoint_problems,
    find_last_complete_checkpoint,
)
from lerobot_hetero_act.video_backend import video_backend_args

CAMERAS = {"top": (32, 40), "wrist": (24, 32)}
TRAIN_ARGS = [
    *tiny_policy_args(
        role_grids=ONE_CELL_ROLE_GRIDS, dim_model=16, dim_feedforward=32, n_heads=2, chunk_size=4
    ),
    "--wandb.enable=false",
    "--num_workers=0",
    "--batch_size=2",
    "--log_freq=1",
    *video_backend_args(),
]


def train_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN_DIR / "lerobot-train"), *args],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )


def clean_tail(log: str, n: int = 40) -> str:
    return "\n".join([line for line in log.splitlines() if "torchcodec" not in line][-n:])


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lerobot-train (6 steps, a checkpoint every 2) SIGKILLed right after a complete checkpoint."""
    work = tmp_path_factory.mktemp("killed")
    dataset = write_tiny_dataset(work / "ds", CAMERAS, n_episodes=2, frames_per_episode=16, fps=10)
    output_dir = work / "run"
    log_file = (work / "train.log").open("w")
    proc = subprocess.Popen(
        [
            str(BIN_DIR / "lerobot-train"),
            *TRAIN_ARGS,
            "--dataset.repo_id=local/tiny_multicam",
            f"--dataset.root={dataset}",
            f"--output_dir={output_dir}",
            "--steps=6",
            "--save_freq=2",
        ],
        cwd=work,
        env=cli_env(),
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    last = output_dir / "checkpoints" / "last"
    deadline = time.monotonic() + 300
    killed_at = None
    while proc.poll() is None and time.monotonic() < deadline:
        # `last` is repointed only after the checkpoint is fully written.
        if last.is_symlink() and os.readlink(last) in ("000002", "000004"):
            killed_at = os.readlink(last)
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait(timeout=60)
    log_file.close()
    log = (work / "train.log").read_text()
    assert killed_at is not None, (
        f"run ended (rc={proc.returncode}) before it could be killed:\n{clean_tail(log)}"
    )
    assert proc.returncode == -signal.SIGKILL
    assert not (output_dir / "checkpoints" / "000006").exists(), "the run must not have finished"
    return output_dir


@pytest.mark.e2e
def test_kill_leaves_last_on_a_complete_checkpoint(killed_run: Path) -> None:
    """After SIGKILL, `last` points at a complete checkpoint and the helper finds the same one;
    any later step directory is incomplete and reported as such."""
    last = (killed_run / "checkpoints" / "last").resolve()
    assert checkpoint_problems(last) == []
    assert find_last_complete_checkpoint(killed_run) == last
    for later in run_recovery.step_checkpoints(killed_run):
        if int(later.name) > int(last.name):  # killed while saving it
            assert checkpoint_problems(later), later


@pytest.mark.e2e
def test_resume_after_kill_reaches_final_step(killed_run: Path, tmp_path: Path) -> None:
    """--resume=true from the last complete checkpoint continues and ends at step 6 like an unkilled run."""
    resume_from = find_last_complete_checkpoint(killed_run)
    resumed_step = int(resume_from.name)
    proc = train_cli(
        [f"--config_path={resume_from / 'pretrained_model' / 'train_config.json'}", "--resume=true"],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, clean_tail(proc.stdout)
    final = killed_run / "checkpoints" / "000006"
    assert checkpoint_problems(final) == []
    assert json.loads((final / "training_state" / "training_step.json").read_text())["step"] == 6
    assert (killed_run / "checkpoints" / "last").resolve() == final.resolve()
    steps = [int(line.split("step:")[1].split()[0]) for line in proc.stdout.splitlines() if " step:" in line]
    assert steps == list(range(resumed_step + 1, 7)), clean_tail(proc.stdout)

    # ... and those steps trained: the weights moved away from the checkpoint it resumed from.
    resumed_weights = load_file(final / "pretrained_model" / "model.safetensors")
    start = load_file(resume_from / "pretrained_model" / "model.safetensors")
    assert any(not torch.equal(start[k], resumed_weights[k]) for k in start), "resuming trained nothing"
    assert HeteroACTPolicy.from_pretrained(final / "pretrained_model").config.type == "hetero_act"


@pytest.fixture
def half_written_run(killed_run: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A run as a kill inside save_checkpoint + update_last_checkpoint leaves it: a complete
    checkpoint, a next step with a truncated model and no training_state/, and no `last` link."""
    complete = find_last_complete_checkpoint(killed_run)
    run = tmp_path / "run"
    shutil.copytree(complete, run / "checkpoints" / complete.name, symlinks=True)
    partial = run / "checkpoints" / f"{int(complete.name) + 2:06d}"
    shutil.copytree(complete / "pretrained_model", partial / "pretrained_model")
    model = partial / "pretrained_model" / "model.safetensors"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 3])
    return run, run / "checkpoints" / complete.name, partial


@pytest.mark.e2e
def test_half_written_checkpoint_is_detected_and_last_repaired(
    half_written_run: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """LeRobot cannot resume through a missing `last`; the helper names the broken files, points at
    the complete checkpoint and repairs `last`, after which the documented resume path exists."""
    run, complete, partial = half_written_run
    via_last = run / "checkpoints" / "last" / "pretrained_model" / "train_config.json"
    proc = train_cli([f"--config_path={via_last}", "--resume=true"], cwd=tmp_path)
    assert proc.returncode != 0, "LeRobot resumed through a missing `last` link?"
    assert f"No such file or directory: '{via_last}'" in proc.stdout, clean_tail(proc.stdout)

    with pytest.raises(CheckpointError) as error:
        check_resume_checkpoint(partial)
    message = str(error.value)
    assert f"{partial / 'pretrained_model' / 'model.safetensors'}: truncated safetensors file" in message
    assert f"{partial / 'training_state' / 'training_step.json'}: missing" in message
    assert f"The last complete checkpoint is {complete}" in message
    assert find_last_complete_checkpoint(run) == complete

    assert run_recovery.main([str(run), "--fix-last"]) == 0
    out = capsys.readouterr().out
    assert f"incomplete: {partial}" in out
    assert (
        f"resume with: lerobot-train --config_path={complete / 'pretrained_model' / 'train_config.json'}"
        in out
    )
    assert via_last.is_file() and (run / "checkpoints" / "last").resolve() == complete.resolve()


@pytest.mark.e2e
def test_no_complete_checkpoint_is_a_clear_error(half_written_run: tuple[Path, Path, Path]) -> None:
    run, complete, _ = half_written_run
    shutil.rmtree(complete / "training_state")
    with pytest.raises(CheckpointError, match="no complete checkpoint to resume from"):
        find_last_complete_checkpoint(run)


# --------------------------------------------------------------------------- damaged files


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path: Path) -> None:
    path.write_bytes(b"\x13\x00\x00\x00\x00\x00\x00\x00{not a header" + b"\x00" * 64)


def _edit_config(change: dict[str, object], drop: str | None = None):
    def mutate(path: Path) -> None:
        config = json.loads(path.read_text())
        config.update(change)
        if drop:
            config.pop(drop)
        path.write_text(json.dumps(config))

    return mutate


FAULTS = {
    "truncated_model": ("model.safetensors", _truncate, "truncated safetensors file"),
    "corrupted_model": ("model.safetensors", _garble, "corrupted safetensors file"),
    "missing_model": ("model.safetensors", Path.unlink, "file is missing"),
    "truncated_config": ("config.json", _truncate, "not valid JSON"),
    "unknown_field": (
        "config.json",
        _edit_config({"future_field": 1}),
        r"The fields `future_field` are not valid.*different \(probably newer\) version",
    ),
    "wrong_type": ("config.json", _edit_config({"dim_model": "big"}), "`dim_model`: Couldn't parse 'big'"),
    "missing_type": ("config.json", _edit_config({}, drop="type"), "no 'type' field"),
    "other_policy": ("config.json", _edit_config({"type": "act"}), "policy type 'act', not 'hetero_act'"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_damaged_checkpoint_error_names_the_file(pretrained_dir: Path, tmp_path: Path, fault: str) -> None:
    """HeteroACTPolicy.from_pretrained on a damaged/foreign checkpoint raises CheckpointError whose
    message starts with the bad file's path and says what is wrong."""
    filename, damage, problem = FAULTS[fault]
    folder = pretrained_dir
    damage(folder / filename)
    with pytest.raises(CheckpointError, match=rf"^{re.escape(str(folder / filename))}: .*{problem}"):
        HeteroACTPolicy.from_pretrained(folder)


def test_damaged_hub_cache_file_is_named(
    pretrained_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build_hf_cache: Callable[..., Path]
) -> None:
    """Loading by Hub id, a truncated cached model.safetensors is named by its cache path."""
    from huggingface_hub import constants

    files = {p.name: p for p in pretrained_dir.iterdir()}
    snapshot = build_hf_cache(tmp_path / "cache", "user/damaged", files)
    blob = (snapshot / "model.safetensors").resolve()
    _truncate(blob)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(
        CheckpointError, match=rf"^{re.escape(str(snapshot / 'model.safetensors'))}: truncated safetensors"
    ):
        HeteroACTPolicy.from_pretrained("user/damaged")
