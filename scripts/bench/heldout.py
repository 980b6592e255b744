"""Held-out L1: a checkpoint's action-chunk error on scripted episodes it never trained on.

Closed-loop success decides the learning benchmark's verdicts; held-out L1 is the open-loop check
beside it, cheap and less noisy per episode. The policy runs as it acts (eval mode: ACT's VAE encoder
is off and its latent is zero) on LeRobot's own batches (the dataset with the config's action
chunking, the checkpoint's saved preprocessor), and the error is the mean absolute difference of the
normalised actions over each chunk's real (unpadded) steps, averaged per episode. Two checkpoints
scored on the same episodes are compared episode by episode.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path


def heldout_l1(checkpoint: Path, dataset_root: Path, repo_id: str, batch_size: int = 8) -> dict[int, float]:
    """Episode index -> mean L1 of the checkpoint's predicted chunks on that episode's frames."""
    import torch
    from lerobot.datasets.factory import resolve_delta_timestamps
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata
    from lerobot.utils.constants import ACTION

    from lerobot_hetero_act.checkpoint_checks import open_checkpoint

    opened = open_checkpoint(checkpoint, expected_type=None)  # ACT's checkpoints too
    policy, preprocessor = opened.policy, opened.preprocessor
    meta = LeRobotDatasetMetadata(repo_id, root=dataset_root)
    dataset = LeRobotDataset(
        repo_id,
        root=dataset_root,
        delta_timestamps=resolve_delta_timestamps(policy.config, meta),
        video_backend="pyav",
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    error_sum: dict[int, float] = defaultdict(float)
    frames: dict[int, int] = defaultdict(int)
    with torch.no_grad():
        for batch in loader:
            episodes = batch["episode_index"].tolist()
            batch = preprocessor(batch)
            predicted = policy.predict_action_chunk(batch)
            real = ~batch["action_is_pad"].unsqueeze(-1)  # (B, chunk, 1)
            error = ((predicted - batch[ACTION]).abs() * real).sum(dim=(1, 2))
            per_frame = error / (real.sum(dim=(1, 2)) * predicted.shape[-1])
            for episode, value in zip(episodes, per_frame.tolist(), strict=True):
                error_sum[episode] += value
                frames[episode] += 1
    return {episode: error_sum[episode] / frames[episode] for episode in sorted(frames)}
