"""python -m lerobot_hetero_act.async_server: LeRobot's policy server serving hetero_act (issue 10, item 3).

The loopback test starts the server as a subprocess on a free port and speaks LeRobot's client protocol
(Ready, SendPolicyInstructions, SendObservations, GetActions) with LeRobot's generated gRPC stubs and
its own dataclasses, as RobotClient does, to get an action chunk from a tiny hetero_act checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import torch
from cli import OFFLINE_ENV, log_tail
from lerobot.async_inference.configs import PolicyServerConfig
from lerobot.async_inference.helpers import RemotePolicyConfig, TimedAction, TimedObservation
from lerobot.transport import services_pb2, services_pb2_grpc
from lerobot.transport.utils import send_bytes_in_chunks
from lerobot.utils.feature_utils import hw_to_dataset_features
from policy_factory import ACTION_DIM, CHUNK, STATE_DIM, make_policy

from lerobot_hetero_act.async_server import HeteroACTPolicyServerConfig, parse_config
from lerobot_hetero_act.processor_hetero_act import make_hetero_act_pre_post_processors

REPO_ROOT = Path(__file__).resolve().parents[1]
CAMERAS = {"top": (96, 128), "left_wrist": (64, 80)}
ROLES = {"top": "global_overview", "left_wrist": "wrist_detail"}
GRIDS = {"global_overview": [2, 2], "wrist_detail": [2, 2], "wrist_context": [2, 2]}
MOTORS = [f"joint_{i}.pos" for i in range(STATE_DIM)]


def test_flags_are_lerobots_and_the_default_host_is_loopback():
    ours = [(f.name, f.type) for f in dataclasses.fields(HeteroACTPolicyServerConfig)]
    lerobots = [(f.name, f.type) for f in dataclasses.fields(PolicyServerConfig)]
    assert ours == lerobots
    cfg = parse_config(["--port=9123", "--fps=20"])
    assert type(cfg) is PolicyServerConfig  # what LeRobot's serve() uses as given
    assert (cfg.host, cfg.port, cfg.fps) == ("127.0.0.1", 9123, 20)
    assert parse_config(["--host=0.0.0.0"]).host == "0.0.0.0"


def python_path() -> str:
    """This tree first, so the server runs the code under test."""
    return os.pathsep.join(p for p in [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")] if p)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("async") / "pretrained_model"
    policy = make_policy(CAMERAS, camera_roles=ROLES, role_grids=GRIDS)
    policy.save_pretrained(folder)
    stats = {
        f"observation.images.{name}": {"mean": torch.full((3, 1, 1), 0.5), "std": torch.full((3, 1, 1), 0.2)}
        for name in CAMERAS
    }
    stats["observation.state"] = {"mean": torch.zeros(STATE_DIM), "std": torch.ones(STATE_DIM)}
    stats["action"] = {"mean": torch.full((ACTION_DIM,), 100.0), "std": torch.ones(ACTION_DIM)}
    pre, post = make_hetero_act_pre_post_processors(policy.config, dataset_stats=stats)
    pre.save_pretrained(folder)
    post.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """(channel address, log path) of a running server; killed with its process group afterwards."""
    workdir = tmp_path_factory.mktemp("server")  # LeRobot's server writes logs/ into its cwd
    port = free_port()
    log_path = workdir / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lerobot_hetero_act.async_server",
                f"--port={port}",
                "--obs_queue_timeout=30",
            ],
            cwd=workdir,
            env={**os.environ, **OFFLINE_ENV, "PYTHONPATH": python_path()},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    address = f"127.0.0.1:{port}"
    try:
        channel = grpc.insecure_channel(address)
        try:
            grpc.channel_ready_future(channel).result(timeout=180)
        except grpc.FutureTimeoutError:
            pytest.fail(f"server did not come up on {address}; log:\n{log_tail(log_path.read_text())}")
        finally:
            channel.close()
        yield address, log_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def policy_instructions(
    policy_type: str, path: Path, cameras: dict[str, tuple[int, int]] = CAMERAS, rename_map=None
) -> services_pb2.PolicySetup:
    hw = {motor: float for motor in MOTORS} | {name: (h, w, 3) for name, (h, w) in cameras.items()}
    features = hw_to_dataset_features(hw, "observation")
    spec = RemotePolicyConfig(
        policy_type, str(path), features, actions_per_chunk=CHUNK, device="cpu", rename_map=rename_map or {}
    )
    return services_pb2.PolicySetup(data=pickle.dumps(spec))


def observation(timestep: int, cameras: dict[str, tuple[int, int]] = CAMERAS) -> TimedObservation:
    """A robot's raw observation: one float per motor, HxWx3 uint8 camera frames."""
    rng = np.random.default_rng(timestep)
    raw = {motor: float(rng.normal()) for motor in MOTORS}
    raw |= {name: rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for name, (h, w) in cameras.items()}
    return TimedObservation(timestamp=time.time(), timestep=timestep, observation=raw, must_go=True)


def get_chunk(stub, timestep: int, obs: TimedObservation | None = None) -> list[TimedAction]:
    obs = obs or observation(timestep)
    stub.SendObservations(send_bytes_in_chunks(pickle.dumps(obs), services_pb2.Observation))
    reply = stub.GetActions(services_pb2.Empty(), timeout=120)
    assert reply.data, "GetActions returned Empty (no action chunk)"
    return pickle.loads(reply.data)


def test_loopback_serves_hetero_act_and_survives_an_unknown_policy_type(server, checkpoint):
    address, log_path = server
    with grpc.insecure_channel(address) as channel:
        stub = services_pb2_grpc.AsyncInferenceStub(channel)
        stub.Ready(services_pb2.Empty(), timeout=30)

        # An unknown type: a clear error naming it, and the server goes on serving.
        with pytest.raises(grpc.RpcError) as bad:
            stub.SendPolicyInstructions(policy_instructions("no_such_policy", checkpoint), timeout=60)
        assert "Policy type no_such_policy not supported" in bad.value.details()
        assert "hetero_act" in bad.value.details()  # the list it prints includes the plugin

        stub.Ready(services_pb2.Empty(), timeout=30)
        stub.SendPolicyInstructions(policy_instructions("hetero_act", checkpoint), timeout=180)
        chunk = get_chunk(stub, timestep=0)
    assert len(chunk) == CHUNK, log_tail(log_path.read_text())
    assert [a.get_timestep() for a in chunk] == list(range(CHUNK))
    actions = torch.stack([a.get_action() for a in chunk])
    assert actions.shape == (CHUNK, ACTION_DIM)
    assert torch.isfinite(actions).all()
    assert (actions - 100.0).abs().max() < 50  # un-normalised by the checkpoint's postprocessor
    log = log_path.read_text()
    assert f"PolicyServer started on 127.0.0.1:{address.rsplit(':', 1)[1]}" in log


# A robot whose cameras are named otherwise than the policy's (top, left_wrist).
ROBOT_CAMERAS = {"front": CAMERAS["top"], "wrist": CAMERAS["left_wrist"]}
ROBOT_TO_POLICY = {
    "observation.images.front": "observation.images.top",
    "observation.images.wrist": "observation.images.left_wrist",
}


def test_mismatched_cameras_are_refused_at_policy_instructions_and_a_rename_map_fixes_them(
    server, checkpoint
):
    """LeRobot's server accepts such instructions, then logs a bare KeyError on the first observation and
    replies empty forever: the robot silently gets no actions."""
    address, log_path = server
    with grpc.insecure_channel(address) as channel:
        stub = services_pb2_grpc.AsyncInferenceStub(channel)
        stub.Ready(services_pb2.Empty(), timeout=30)
        with pytest.raises(grpc.RpcError) as refused:
            stub.SendPolicyInstructions(
                policy_instructions("hetero_act", checkpoint, ROBOT_CAMERAS), timeout=60
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        details = refused.value.details()
        assert "observation.images.top" in details and "observation.images.front" in details
        assert "rename_map" in details

        hw13 = {motor: float for motor in MOTORS[:-1]} | {n: (h, w, 3) for n, (h, w) in CAMERAS.items()}
        spec = RemotePolicyConfig(
            "hetero_act", str(checkpoint), hw_to_dataset_features(hw13, "observation"), CHUNK, "cpu"
        )
        with pytest.raises(grpc.RpcError) as short_state:
            stub.SendPolicyInstructions(services_pb2.PolicySetup(data=pickle.dumps(spec)), timeout=60)
        assert (
            "the robot's state has 13 values, the policy's observation.state 14"
            in short_state.value.details()
        )

        # The server goes on serving; with the client's rename map the same robot gets actions.
        stub.Ready(services_pb2.Empty(), timeout=30)
        setup = policy_instructions("hetero_act", checkpoint, ROBOT_CAMERAS, rename_map=ROBOT_TO_POLICY)
        stub.SendPolicyInstructions(setup, timeout=180)
        chunk = get_chunk(stub, timestep=0, obs=observation(0, ROBOT_CAMERAS))
    assert len(chunk) == CHUNK, log_tail(log_path.read_text())


def test_a_bad_observation_is_an_error_reply_not_an_empty_one(server, checkpoint):
    address, log_path = server
    with grpc.insecure_channel(address) as channel:
        stub = services_pb2_grpc.AsyncInferenceStub(channel)
        stub.Ready(services_pb2.Empty(), timeout=30)
        stub.SendPolicyInstructions(policy_instructions("hetero_act", checkpoint), timeout=180)
        bad = observation(1)
        bad.observation[MOTORS[3]] = float("nan")
        stub.SendObservations(send_bytes_in_chunks(pickle.dumps(bad), services_pb2.Observation))
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetActions(services_pb2.Empty(), timeout=120)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, log_tail(log_path.read_text())
        assert "'observation.state' contains 1 NaN/inf" in refused.value.details()
        # ... and the next good observation is served.
        assert len(get_chunk(stub, timestep=2)) == CHUNK
