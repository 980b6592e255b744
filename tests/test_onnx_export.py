"""ONNX export (python -m lerobot_hetero_act.export) and the onnxruntime runner (issue 10, item 2).

Parity through onnxruntime at two camera sizes, with a role-size resize in the graph, in every token
mode with view gating on; the
runner against LeRobot's PyTorch pipeline (preprocessor -> policy -> postprocessor); the errors for
a checkpoint that is not hetero_act and for a camera missing at the runner. Exports take ~10-30 s
each on 2 shared cores, so the module exports three graphs in all.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
import torch
from cli import OFFLINE_ENV, run_logged
from lerobot.policies.act.configuration_act import ACTConfig
from policy_factory import ACTION_DIM, CHUNK, STATE_DIM, make_config, make_policy

from lerobot_hetero_act import export as export_module
from lerobot_hetero_act.camera_roles import TOKEN_MODES
from lerobot_hetero_act.checkpoint_checks import CheckpointError
from lerobot_hetero_act.configuration_hetero_act import HeteroACTConfig
from lerobot_hetero_act.export import ExportError, export_onnx, load_policy, max_abs_difference
from lerobot_hetero_act.input_checks import ObservationError
from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy
from lerobot_hetero_act.onnx_runner import HeteroACTOnnxRunner
from lerobot_hetero_act.processor_hetero_act import make_hetero_act_pre_post_processors

REPO_ROOT = Path(__file__).resolve().parents[1]
# Two sizes (the wrists share one batched backbone pass); grids small enough for these tiny images.
CAMERAS = {"top": (96, 128), "left_wrist": (64, 80), "right_wrist": (64, 80)}
ROLES = {"top": "global_overview", "left_wrist": "wrist_detail", "right_wrist": "wrist_context"}
GRIDS = {"global_overview": [2, 2], "wrist_detail": [2, 2], "wrist_context": [1, 2]}
SMALL = {"camera_roles": ROLES, "role_grids": GRIDS, "view_gating": True}
ROLE_IMAGE_SIZES = {"global_overview": [64, 96]}  # top: 96x128 -> 64x96, still a 2x3 map for its 2x2 grid
DEFAULT_TOKEN_MODE = HeteroACTConfig.__dataclass_fields__["token_mode"].default
OTHER_TOKEN_MODES = [m for m in TOKEN_MODES if m != DEFAULT_TOKEN_MODE]
PARITY = re.compile(r"max \|onnxruntime - PyTorch\| = ([-+\d.eE]+|nan|inf)")


def stats(seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """Non-trivial normalisation statistics, so that a runner skipping a processor would be caught."""
    gen = torch.Generator().manual_seed(seed)
    out = {
        f"observation.images.{name}": {
            "mean": torch.rand(3, 1, 1, generator=gen),
            "std": 0.1 + torch.rand(3, 1, 1, generator=gen),
        }
        for name in CAMERAS
    }
    for key, dim in (("observation.state", STATE_DIM), ("action", ACTION_DIM)):
        out[key] = {"mean": torch.randn(dim, generator=gen), "std": 0.5 + torch.rand(dim, generator=gen)}
    return out


def save_checkpoint(folder: Path, **overrides) -> Path:
    """A pretrained_model folder as lerobot-train writes it: policy + both processors."""
    policy = make_policy(CAMERAS, **{**SMALL, **overrides})
    policy.save_pretrained(folder)
    preprocessor, postprocessor = make_hetero_act_pre_post_processors(policy.config, dataset_stats=stats())
    preprocessor.save_pretrained(folder)
    postprocessor.save_pretrained(folder)
    return folder


def raw_observation(batch_size: int, seed: int) -> dict[str, torch.Tensor]:
    """What the preprocessor takes: images in [0, 1] (channels first), state in robot units."""
    gen = torch.Generator().manual_seed(seed)
    obs = {"observation.state": 3 * torch.randn(batch_size, STATE_DIM, generator=gen)}
    for name, (h, w) in CAMERAS.items():
        obs[f"observation.images.{name}"] = torch.rand(batch_size, 3, h, w, generator=gen)
    return obs


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(checkpoint, onnx file, CLI log): the default token mode, view gating on, `top` resized to its
    role's size inside the graph (antialiased), exported by the CLI."""
    root = tmp_path_factory.mktemp("onnx_export")
    checkpoint = save_checkpoint(root / "pretrained_model", role_image_sizes=ROLE_IMAGE_SIZES)
    output = root / "policy.onnx"
    log = run_logged(
        [
            sys.executable,
            "-m",
            "lerobot_hetero_act.export",
            "--policy-path",
            str(checkpoint),
            "--output",
            str(output),
        ],
        cwd=REPO_ROOT,
        log_path=root / "export.log",
    )
    return checkpoint, output, log


def test_cli_export_matches_pytorch_with_named_inputs_and_dynamic_batch(exported):
    _, output, log = exported
    match = PARITY.search(log)
    assert match, log
    assert float(match[1]) <= 1e-4, log
    graph = onnx.load(str(output)).graph
    names = [i.name for i in graph.input]
    assert names == ["observation.state", *(f"observation.images.{c}" for c in CAMERAS)]
    assert [o.name for o in graph.output] == ["action"]
    out_dims = graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in out_dims[1:]] == [CHUNK, ACTION_DIM]
    for value in [*graph.input, *graph.output]:
        batch_dim = value.type.tensor_type.shape.dim[0]
        assert batch_dim.dim_param and not batch_dim.dim_value, f"{value.name}: batch axis is not dynamic"
    assert not list(output.parent.glob("*.data")), "weights must be inside the .onnx file"


@pytest.mark.parametrize("token_mode", OTHER_TOKEN_MODES)
def test_export_parity_in_every_other_token_mode_with_gating(tmp_path: Path, token_mode: str):
    policy = make_policy(CAMERAS, **SMALL, token_mode=token_mode).eval()
    path = export_onnx(policy, tmp_path / "policy.onnx")
    assert max_abs_difference(policy, path, batch_sizes=(1, 4)) <= 1e-4


def test_graph_without_a_missing_camera_uses_its_absent_token(tmp_path: Path):
    checkpoint = save_checkpoint(tmp_path / "pretrained_model", camera_dropout=0.2)
    policy = load_policy(str(checkpoint))
    path = export_onnx(policy, tmp_path / "no_right_wrist.onnx", missing_cameras=["right_wrist"])
    assert max_abs_difference(policy, path, missing_cameras=["right_wrist"]) <= 1e-4
    runner = HeteroACTOnnxRunner(path, checkpoint)
    assert "observation.images.right_wrist" not in runner.input_names
    obs = raw_observation(1, 3)
    del obs["observation.images.right_wrist"]
    assert runner.select_action(obs).shape == (1, ACTION_DIM)


def test_export_leaves_the_policy_untouched(exported):
    checkpoint, _, _ = exported
    policy = load_policy(str(checkpoint))
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    assert not policy.training
    # A missing camera is exported with its absent token; that needs camera dropout.
    with pytest.raises(ExportError, match=r"right_wrist.*without camera dropout"):
        export_onnx(policy, checkpoint.parent / "never.onnx", missing_cameras=["right_wrist"])
    assert all(torch.equal(before[k], v) for k, v in policy.state_dict().items())


def test_runner_gives_the_pytorch_pipelines_unnormalised_actions(exported):
    checkpoint, output, _ = exported
    from lerobot.policies.factory import make_pre_post_processors

    policy = HeteroACTPolicy.from_pretrained(checkpoint).eval()
    preprocessor, postprocessor = make_pre_post_processors(policy.config, pretrained_path=str(checkpoint))
    runner = HeteroACTOnnxRunner(output, checkpoint)
    for batch_size, seed in ((1, 5), (2, 6)):
        obs = raw_observation(batch_size, seed)
        expected = postprocessor(policy.predict_action_chunk(preprocessor(dict(obs))))
        got = runner.predict_action_chunk(obs)
        assert got.shape == (batch_size, CHUNK, ACTION_DIM)
        assert (got - expected).abs().max() <= 1e-4
    # Un-normalised: far from the network's N(0, 1) scale wherever the action statistics are.
    assert not torch.allclose(got, policy.predict_action_chunk(preprocessor(dict(obs))), atol=1e-2)

    # select_action: ACT's queue, one action per call, a new chunk every n_action_steps calls.
    policy.reset()
    runner.reset()
    single = {k: v[0] for k, v in raw_observation(1, 7).items()}  # unbatched, as a robot gives it
    single_np = {k: v.numpy() for k, v in single.items()}
    for _ in range(CHUNK + 2):
        want = postprocessor(policy.select_action(preprocessor(dict(single))))
        got = runner.select_action(single_np)
        assert got.shape == (1, ACTION_DIM)
        assert (got - want).abs().max() <= 1e-4


def test_runner_names_a_missing_camera(exported):
    checkpoint, output, _ = exported
    runner = HeteroACTOnnxRunner(output, checkpoint)
    obs = raw_observation(1, 0)
    del obs["observation.images.left_wrist"]
    with pytest.raises(
        ObservationError, match=r"'observation\.images\.left_wrist' missing from the observation"
    ):
        runner.select_action(obs)


def run_export_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lerobot_hetero_act.export", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **OFFLINE_ENV},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_export_of_a_non_hetero_act_checkpoint_names_the_path_and_type(tmp_path: Path):
    act_dir = tmp_path / "act_checkpoint"
    act_dir.mkdir()
    make_config(CAMERAS, config_cls=ACTConfig)._save_pretrained(act_dir)
    assert json.loads((act_dir / "config.json").read_text())["type"] == "act"
    proc = run_export_cli("--policy-path", str(act_dir), "--output", str(tmp_path / "x.onnx"))
    assert proc.returncode != 0
    assert f"{act_dir}: not a hetero_act checkpoint: its config.json has type 'act'" in proc.stderr, (
        proc.stderr
    )
    assert not (tmp_path / "x.onnx").exists()

    empty = tmp_path / "not_a_checkpoint"
    empty.mkdir()
    proc = run_export_cli("--policy-path", str(empty), "--output", str(tmp_path / "x.onnx"))
    assert proc.returncode != 0
    assert f"{empty}: not a policy checkpoint: it has no config.json" in proc.stderr, proc.stderr


def test_runner_refuses_a_non_hetero_act_checkpoint(tmp_path: Path, exported):
    _, output, _ = exported
    act_dir = tmp_path / "act_checkpoint"
    act_dir.mkdir()
    make_config(CAMERAS, config_cls=ACTConfig)._save_pretrained(act_dir)
    with pytest.raises(CheckpointError, match=r"act_checkpoint: not a hetero_act checkpoint.*type 'act'"):
        HeteroACTOnnxRunner(output, act_dir)


def test_cli_fails_when_onnxruntime_differs_beyond_tolerance(monkeypatch, exported, capsys):
    checkpoint, output, _ = exported
    monkeypatch.setattr(export_module, "export_onnx", lambda *a, **k: output)  # reuse the exported file
    monkeypatch.setattr(export_module, "max_abs_difference", lambda *a, **k: 3e-3)
    code = export_module.main(["--policy-path", str(checkpoint), "--output", str(output)])
    assert code == 1
    err = capsys.readouterr().err
    assert "differs from PyTorch by 0.003 > 0.0001" in err and str(output) in err


def test_runner_checks_the_raw_observation_like_select_action(exported):
    """The runner's preprocessor carries the observation check: an extra camera, a wrong state size and
    a grayscale frame are ObservationErrors naming the key, never a silent action or a bare size error."""
    checkpoint, output, _ = exported
    runner = HeteroACTOnnxRunner(output, checkpoint)
    obs = raw_observation(1, 0)
    with pytest.raises(ObservationError, match=r"'observation\.images\.angle'.*not trained with"):
        runner.select_action({**obs, "observation.images.angle": torch.rand(1, 3, 96, 128)})
    with pytest.raises(
        ObservationError, match=r"'observation\.state': expected shape \(batch, 14\), got \(1, 13\)"
    ):
        runner.predict_action_chunk({**obs, "observation.state": torch.zeros(1, STATE_DIM - 1)})
    with pytest.raises(ObservationError, match=r"'observation\.images\.top'.*expected 3 channels.*grayscale"):
        runner.predict_action_chunk({**obs, "observation.images.top": torch.rand(1, 1, 96, 128)})


def test_runner_refuses_more_action_steps_than_the_chunk_holds(exported):
    checkpoint, output, _ = exported
    with pytest.raises(ValueError, match=rf"n_action_steps={CHUNK + 1}: each chunk holds {CHUNK} actions"):
        HeteroACTOnnxRunner(output, checkpoint, n_action_steps=CHUNK + 1)
    assert HeteroACTOnnxRunner(output, checkpoint, n_action_steps=CHUNK).n_action_steps == CHUNK
