"""Held-out L1 scores a real saved checkpoint on a real LeRobotDataset, per episode, over the real
(unpadded) steps of each predicted chunk."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from bench.heldout import heldout_l1
from conftest import SMALL_CAMERAS
from dataset_factory import write_tiny_dataset
from lerobot.configs.policies import PreTrainedConfig
from lerobot.datasets.factory import resolve_delta_timestamps
from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata
from lerobot.policies.factory import make_pre_post_processors

from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

REPO_ID = "local/tiny_heldout"


@pytest.fixture(scope="module")
def heldout_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 3 frames per episode and a chunk of 8: every chunk has padded steps, and a batch of 2 mixes episodes.
    root = tmp_path_factory.mktemp("heldout") / "data"
    return write_tiny_dataset(
        root, SMALL_CAMERAS, n_episodes=3, frames_per_episode=3, fps=10, repo_id=REPO_ID
    )


def frame_by_frame_l1(checkpoint: Path, root: Path) -> dict[int, float]:
    """The same score computed one frame at a time, averaging only the chunk's real steps."""
    config = PreTrainedConfig.from_pretrained(checkpoint)
    policy = HeteroACTPolicy.from_pretrained(checkpoint, config=config).eval()
    preprocessor, _ = make_pre_post_processors(policy.config, pretrained_path=str(checkpoint))
    meta = LeRobotDatasetMetadata(REPO_ID, root=root)
    dataset = LeRobotDataset(
        REPO_ID, root=root, delta_timestamps=resolve_delta_timestamps(policy.config, meta)
    )
    per_episode: dict[int, list[float]] = {}
    for batch in torch.utils.data.DataLoader(dataset, batch_size=1):
        episode = int(batch["episode_index"])
        batch = preprocessor(batch)
        with torch.no_grad():
            predicted = policy.predict_action_chunk(batch)[0]
        real = (~batch["action_is_pad"][0]).nonzero().flatten()
        per_episode.setdefault(episode, []).append(
            (predicted[real] - batch["action"][0, real]).abs().mean().item()
        )
    return {e: sum(v) / len(v) for e, v in per_episode.items()}


def test_heldout_l1_is_the_per_episode_mean_over_real_chunk_steps(
    pretrained_dir: Path, heldout_dataset: Path
):
    scores = heldout_l1(pretrained_dir, heldout_dataset, REPO_ID, batch_size=2)
    expected = frame_by_frame_l1(pretrained_dir, heldout_dataset)
    assert set(scores) == {0, 1, 2}
    for episode, value in expected.items():
        assert scores[episode] == pytest.approx(value, rel=1e-5), episode
    assert len(set(round(v, 6) for v in scores.values())) == 3  # episodes differ, so mixing would show
