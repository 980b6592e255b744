"""`scripts/attention_maps.py` (over bench.attention_maps) on tiny checkpoints trained for 2 steps on a real LeRobotDataset.

The checkpoints are trained in-process (real HeteroACTPolicy, real ACT processors fitted to the
dataset's stats, 2 AdamW steps) and saved exactly as lerobot-train saves them (policy + pre/post-
processors), so the script runs its real loading path. Checked: the PNGs (names, sizes), the raw
weights in attention.npz (shapes from the role grids, rows summing to 1, the gate), and clear errors.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch
from cli import cli_env
from dataset_factory import ALOHA_CAMERAS_REPO_ID
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from lerobot.policies.factory import make_pre_post_processors
from lerobot.utils.feature_utils import dataset_to_policy_features
from policy_factory import ALOHA_CAMERAS, CHUNK, TINY, TINY_ROLE_GRIDS

from lerobot_hetero_act.camera_roles import camera_key
from lerobot_hetero_act.configuration_hetero_act import HeteroACTConfig
from lerobot_hetero_act.hetero_camera_fusion import edge_module_key
from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy
from lerobot_hetero_act.sim.cameras import ALOHA_CAMERA_ROLES

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "attention_maps.py"
FRAMES = (0, 5, 11)
# Every grid cell of a role is a key (cell modes) and, in spatial mode, also a query token.
CELLS = {role: math.prod(grid) for role, grid in TINY_ROLE_GRIDS.items()}
# Edge module key -> (query role, key role), in the config's (default) edge order.
EDGES = {
    edge_module_key(q, k): (q, k)
    for q, k in [
        ("wrist_detail", "global_overview"),
        ("wrist_detail", "wrist_context"),
        ("wrist_context", "global_overview"),
        ("wrist_context", "wrist_detail"),
        ("global_overview", "wrist_detail"),
        ("global_overview", "wrist_context"),
    ]
}
MAX_PNG_BYTES = 150 * 1024

sys.path.insert(0, str(SCRIPT.parent))
import attention_maps  # noqa: E402

sys.path.remove(str(SCRIPT.parent))


def train_checkpoint(dataset_root: Path, out: Path, **options) -> Path:
    """2 training steps of a tiny hetero_act on the dataset, saved as a pretrained_model directory."""
    dataset_meta = LeRobotDataset(ALOHA_CAMERAS_REPO_ID, root=dataset_root).meta
    features = dataset_to_policy_features(dataset_meta.features)
    config = HeteroACTConfig(
        input_features={k: v for k, v in features.items() if k != "action"},
        output_features={"action": features["action"]},
        camera_roles=dict(ALOHA_CAMERA_ROLES),
        **{"role_grids": TINY_ROLE_GRIDS, **TINY, **options},
    )
    torch.manual_seed(0)
    policy = HeteroACTPolicy(config)
    preprocessor, postprocessor = make_pre_post_processors(config, dataset_stats=dataset_meta.stats)
    dataset = LeRobotDataset(
        ALOHA_CAMERAS_REPO_ID,
        root=dataset_root,
        delta_timestamps={"action": [i / dataset_meta.fps for i in range(CHUNK)]},
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, shuffle=True)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-4)
    policy.train()
    for _, raw in zip(range(2), loader, strict=False):
        loss, _ = policy.forward(preprocessor(raw))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for part in (policy, preprocessor, postprocessor):
        part.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def spatial_gated(aloha_cameras_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_checkpoint(
        aloha_cameras_dataset, tmp_path_factory.mktemp("spatial"), token_mode="spatial", view_gating=True
    )


@pytest.fixture(scope="module")
def spatial_run(
    spatial_gated: Path, aloha_cameras_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """The script as a user runs it (subprocess, real CLI); returns (out dir, stdout)."""
    out = tmp_path_factory.mktemp("maps")
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            f"--policy-path={spatial_gated}",
            f"--dataset-root={aloha_cameras_dataset}",
            f"--repo-id={ALOHA_CAMERAS_REPO_ID}",
            "--episode=0",
            f"--frames={','.join(map(str, FRAMES))}",
            f"--out-dir={out}",
        ],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "attention maps" in proc.stderr  # progress bar
    return out, proc.stdout


def test_spatial_pngs_are_written_with_expected_names_and_sizes(spatial_run: tuple[Path, str]) -> None:
    out, stdout = spatial_run
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == [f"episode0_frame{f:04d}.png" for f in FRAMES]
    for name in pngs:
        path = out / name
        assert 5_000 < path.stat().st_size <= MAX_PNG_BYTES, (name, path.stat().st_size)
        height, width, _ = matplotlib.image.imread(path).shape
        assert width > 400 and height > 300
        assert str(path) in stdout


def test_spatial_attention_rows_sum_to_one_with_role_grid_shapes(spatial_run: tuple[Path, str]) -> None:
    out, _ = spatial_run
    meta = json.loads((out / "attention_meta.json").read_text())
    assert meta["token_mode"] == "spatial" and meta["view_gating"] is True
    assert meta["edges"] == list(EDGES)
    assert meta["role_cameras"] == {
        role: [camera_key(cam)] for cam, role in ALOHA_CAMERA_ROLES.items() if cam in ALOHA_CAMERAS
    }
    arrays = np.load(out / "attention.npz")
    assert sorted(arrays.files) == sorted(
        [f"episode0_frame{f:04d}__{e}" for f in FRAMES for e in EDGES]
        + [f"episode0_frame{f:04d}__gate" for f in FRAMES]
    )
    for frame in FRAMES:
        tag = f"episode0_frame{frame:04d}"
        for edge, (query_role, key_role) in EDGES.items():
            weights = arrays[f"{tag}__{edge}"]
            assert weights.shape == (CELLS[query_role], CELLS[key_role])
            assert (weights >= 0).all()
            np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
        gate = arrays[f"{tag}__gate"]
        assert gate.shape == (3,) and (gate > 0).all()
        np.testing.assert_allclose(gate.sum(), 3.0, atol=1e-5)  # mean 1 over the 3 cameras


def test_default_cell_keys_mode_draws_one_query_over_the_key_cells(
    aloha_cameras_dataset: Path, tmp_path: Path
) -> None:
    """The default token mode: each camera has one query token, which attends over every grid cell of
    the key role, so a weight row per edge spans the key role's cells and sums to 1."""
    checkpoint = train_checkpoint(aloha_cameras_dataset, tmp_path / "cell_keys")
    out = tmp_path / "maps"
    args = [
        f"--policy-path={checkpoint}",
        f"--dataset-root={aloha_cameras_dataset}",
        f"--repo-id={ALOHA_CAMERAS_REPO_ID}",
    ]
    assert attention_maps.main([*args, "--frames=0", f"--out-dir={out}"]) == 0
    assert json.loads((out / "attention_meta.json").read_text())["token_mode"] == "cell_keys"
    assert 5_000 < (out / "episode0_frame0000.png").stat().st_size <= MAX_PNG_BYTES
    arrays = np.load(out / "attention.npz")
    assert sorted(arrays.files) == sorted(f"episode0_frame0000__{e}" for e in EDGES)  # no gate
    for edge, (_, key_role) in EDGES.items():
        weights = arrays[f"episode0_frame0000__{edge}"]
        assert weights.shape == (1, CELLS[key_role])
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.sim
def test_pooled_mode_in_an_aloha_multicam_rollout(aloha_cameras_dataset: Path, tmp_path: Path) -> None:
    """Rollout mode (closed loop in the multi-camera ALOHA sim), pooled tokens, one camera per role:
    each query has exactly one key, so every attention weight is 1 (the softmax over one key)."""
    checkpoint = train_checkpoint(aloha_cameras_dataset, tmp_path / "pooled", token_mode="pooled")
    out = tmp_path / "maps"
    code = attention_maps.main(
        [
            f"--policy-path={checkpoint}",
            "--env=aloha_multicam",
            "--seed=3",
            "--frames=0,2",
            f"--out-dir={out}",
        ]
    )
    assert code == 0
    names = ["rollout_seed3_step0000.png", "rollout_seed3_step0002.png"]
    assert sorted(p.name for p in out.glob("*.png")) == names
    for name in names:
        assert 5_000 < (out / name).stat().st_size <= MAX_PNG_BYTES
    arrays = np.load(out / "attention.npz")
    tags = ("rollout_seed3_step0000", "rollout_seed3_step0002")
    assert sorted(arrays.files) == sorted(f"{t}__{e}" for t in tags for e in EDGES)  # no gate
    for name in arrays.files:
        np.testing.assert_allclose(arrays[name], np.ones((1, 1)), atol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--episode=3"], "--episode 3: the dataset has episodes 0..0"),
        (["--frames=0,12"], "--frames [12]: episode 0 has frames 0..11"),
        (["--frames=a,b"], "--frames 'a,b': expected comma-separated integers"),
    ],
)
def test_bad_episode_or_frame_is_a_clear_error(
    spatial_gated: Path,
    aloha_cameras_dataset: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    args: list[str],
    message: str,
) -> None:
    base = [
        f"--policy-path={spatial_gated}",
        f"--dataset-root={aloha_cameras_dataset}",
        f"--repo-id={ALOHA_CAMERAS_REPO_ID}",
        f"--out-dir={tmp_path}",
    ]
    assert attention_maps.main(base + args) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.png"))


def test_bad_paths_are_clear_errors(
    spatial_gated: Path, aloha_cameras_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    missing = tmp_path / "no_checkpoint"
    assert (
        attention_maps.main(
            [
                f"--policy-path={missing}",
                f"--dataset-root={aloha_cameras_dataset}",
                f"--repo-id={ALOHA_CAMERAS_REPO_ID}",
            ]
        )
        == 2
    )
    assert (
        f"--policy-path {missing}: neither a local checkpoint folder nor a Hub model"
        in capsys.readouterr().err
    )
    not_a_dataset = tmp_path / "not_a_dataset"
    not_a_dataset.mkdir()
    args = [
        f"--policy-path={spatial_gated}",
        f"--dataset-root={not_a_dataset}",
        f"--repo-id={ALOHA_CAMERAS_REPO_ID}",
    ]
    assert attention_maps.main([*args, f"--out-dir={tmp_path / 'maps'}"]) == 2
    assert f"--dataset-root {not_a_dataset}: no meta/info.json" in capsys.readouterr().err
