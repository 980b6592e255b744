"""Multi-process (DDP) training with `accelerate launch`, on CPU with the gloo backend.

Why it matters: under DistributedDataParallel every parameter must receive a gradient in every step,
or DDP has to search the graph for unused ones (LeRobot sets find_unused_parameters=True, which
costs a graph traversal per step, and hides the symptom). hetero_act builds no edge whose roles lack
cameras, so with two cameras (two roles, 4 of the 6 default edges dropped) nothing is unused:
torch's reducer then warns that it "did not find any unused parameters", on every rank.

`accelerate launch --cpu` would run a single process (its simple launcher); `--multi_gpu` starts
torchrun, and LeRobot's Accelerator(cpu=True) (from --policy.device=cpu) then uses gloo on CPU.
On GPUs the same command with --policy.device=cuda trains on N GPUs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest
import torch
from cli import BIN_DIR, cli_env, tiny_policy_args
from dataset_factory import write_tiny_dataset
from lerobot.policies.factory import make_pre_post_processors
from policy_factory import ONE_CELL_ROLE_GRIDS, make_batch, make_policy

from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

CAMERAS = {"top": (32, 40), "wrist": (24, 32)}
CHUNK = 4
NO_UNUSED = "find_unused_parameters=True was specified in DDP constructor, but did not find any unused"


def free_port() -> int:
    """A port nobody listens on now, for the rendezvous (a fixed 29500 collides with stray runs)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_in_own_group(
    cmd: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[int | None, str]:
    """Run `cmd` in its own process group; on timeout kill the whole group (ranks included) and
    return (None, output so far), so a hung rank neither lingers nor hides its log."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out


def accelerate_train_command(dataset: Path, output_dir: Path, steps: int) -> list[str]:
    """2-process accelerate launch of LeRobot's own training module with a tiny hetero_act."""
    return [
        str(BIN_DIR / "accelerate"),
        "launch",
        "--multi_gpu",
        "--num_processes=2",
        "--num_machines=1",
        f"--main_process_port={free_port()}",
        "--mixed_precision=no",
        "--dynamo_backend=no",
        "-m",
        "lerobot.scripts.lerobot_train",
        *tiny_policy_args(
            role_grids=ONE_CELL_ROLE_GRIDS, dim_model=16, dim_feedforward=32, n_heads=2, chunk_size=CHUNK
        ),
        "--dataset.repo_id=local/tiny_multicam",
        f"--dataset.root={dataset}",
        f"--output_dir={output_dir}",
        "--wandb.enable=false",
        "--num_workers=0",
        "--batch_size=2",
        "--log_freq=1",
        f"--steps={steps}",
        f"--save_freq={steps}",
    ]


@pytest.mark.e2e
def test_two_process_ddp_training_writes_loadable_checkpoint(tmp_path: Path) -> None:
    """Two ranks train 3 steps (effective batch 2x2), all parameters are used, and rank 0's
    checkpoint loads with from_pretrained and predicts finite action chunks."""
    dataset = write_tiny_dataset(tmp_path / "ds", CAMERAS, n_episodes=2, frames_per_episode=16, fps=10)
    output_dir = tmp_path / "run"
    env = cli_env({"OMP_NUM_THREADS": "1"})  # two ranks on two cores
    returncode, log = run_in_own_group(
        accelerate_train_command(dataset, output_dir, steps=3), tmp_path, env, 300
    )
    (tmp_path / "train.log").write_text(log)
    tail = "\n".join(line for line in log.splitlines() if "torchcodec" not in line)[-4000:]
    assert returncode is not None, f"2-process training hung for 300 s; log tail:\n{tail}"
    assert returncode == 0, tail

    assert "Effective batch size: 2 x 2 = 4" in log, tail
    ranks_without_unused = set(re.findall(r"\[rank(\d)\]:.*" + re.escape(NO_UNUSED), log))
    assert ranks_without_unused == {"0", "1"}, tail
    assert sorted(int(s) for s in re.findall(r"step:(\d+) ", log)) == [1, 2, 3], tail

    checkpoint = output_dir / "checkpoints" / "000003"
    step_info = json.loads((checkpoint / "training_state" / "training_step.json").read_text())
    assert (step_info["step"], step_info["batch_size"]) == (3, 2)
    assert step_info.get("num_processes", step_info.get("dp_world_size")) == 2  # 0.6.1 / LeRobot main
    pretrained = checkpoint / "pretrained_model"
    policy = HeteroACTPolicy.from_pretrained(pretrained)
    assert policy.config.camera_roles == {
        "observation.images.top": "global_overview",
        "observation.images.wrist": "wrist_detail",
    }
    preprocessor, postprocessor = make_pre_post_processors(policy.config, pretrained_path=str(pretrained))
    batch = {k: v[0] for k, v in make_batch(CAMERAS, batch_size=1, with_action=False).items()}
    with torch.no_grad():
        chunk = postprocessor(policy.predict_action_chunk(preprocessor(batch)))
    assert chunk.shape == (1, CHUNK, 14)
    assert torch.isfinite(chunk).all()


def test_every_parameter_gets_a_gradient_when_roles_lack_cameras() -> None:
    """The in-process version of DDP's check: one training forward/backward with two of three roles
    present leaves no trainable parameter without a gradient (no DDP 'unused parameter' error)."""
    cameras = {"top": (32, 40), "wrist": (24, 32)}
    policy = make_policy(cameras, role_grids=ONE_CELL_ROLE_GRIDS)
    policy.train()
    loss, _ = policy.forward(make_batch(cameras))
    loss.backward()
    unused = [n for n, p in policy.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, unused
    built = [k for k in policy.model.camera_fusion.cross_attention]
    assert len(built) == 2, built  # wrist_detail<->global_overview only; wrist_context has no camera
