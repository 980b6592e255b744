"""Pushing an existing hetero_act `pretrained_model/` folder to the Hugging Face Hub.

`lerobot-train --policy.push_to_hub=true` pushes at the end of training (LeRobot 0.6.1's
`push_model_to_hub`, LeRobot main's `publish_trained_model`; with this package's card on both). For
a run trained without pushing, or an intermediate checkpoint, `push_pretrained_dir` checks the folder
and uploads its files plus a generated card in one `HfApi.create_commit` (scripts/push_to_hub.py).
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.utils import filter_repo_objects
from lerobot.configs.train import TRAIN_CONFIG_NAME
from lerobot.utils.constants import CHECKPOINTS_DIR, PRETRAINED_MODEL_DIR

from .checkpoint_checks import CheckpointError, read_json_file, verify_pretrained_dir
from .model_card import hetero_act_model_card

CARD_FILE = "README.md"
# The files LeRobot's training push uploads (weights, configs, processors, card).
UPLOAD_PATTERNS = ["*.safetensors", "*.json", "*.yaml", "*.md"]
IGNORE_PATTERNS = ["*.tmp", "*.log"]


def check_pushable_dir(folder: str | Path) -> Path:
    """A pretrained_model folder that can be pushed: hetero_act config, weights and both processors.

    The staged upload therefore always holds config, weights, both processors and (generated if
    absent) the card.
    """
    folder = Path(folder)
    if not folder.exists():
        raise CheckpointError(folder, "does not exist.")
    if (folder / CHECKPOINTS_DIR).is_dir() or (folder / PRETRAINED_MODEL_DIR).is_dir():
        inner = f"{CHECKPOINTS_DIR}/last/" if (folder / CHECKPOINTS_DIR).is_dir() else ""
        raise CheckpointError(
            folder,
            f"this is a training run or checkpoint directory; pass its {inner}{PRETRAINED_MODEL_DIR} folder instead.",
        )
    verify_pretrained_dir(folder, require_processors=True)
    return folder


def upload_operations(
    folder: str | Path, repo_id: str, dataset_repo_id: str | None = None
) -> list[CommitOperationAdd]:
    """One commit operation per uploadable file of `folder`, plus a generated model card if it has none."""
    from lerobot.configs.policies import PreTrainedConfig

    folder = check_pushable_dir(folder)
    names = [p.name for p in folder.iterdir() if p.is_file()]
    names = filter_repo_objects(names, allow_patterns=UPLOAD_PATTERNS, ignore_patterns=IGNORE_PATTERNS)
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(folder / name)) for name in names]
    if not (folder / CARD_FILE).is_file():
        has_train_config = (folder / TRAIN_CONFIG_NAME).is_file()
        train_config = read_json_file(folder / TRAIN_CONFIG_NAME) if has_train_config else None
        if dataset_repo_id is None and train_config is not None:
            dataset_repo_id = (train_config.get("dataset") or {}).get("repo_id")
        config = PreTrainedConfig.from_pretrained(folder)
        card = hetero_act_model_card(config, dataset_repo_id, repo_id=repo_id, train_config=train_config)
        operations.append(CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=str(card).encode()))
    return sorted(operations, key=lambda op: op.path_in_repo)


def push_pretrained_dir(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    dry_run: bool = False,
    dataset_repo_id: str | None = None,
    commit_message: str = "Upload hetero_act policy (weights, config, processors, model card)",
    api: HfApi | None = None,
) -> list[str]:
    """Upload a pretrained_model folder (plus generated card) to `repo_id`; return the file names.

    With `dry_run`, check everything and build the card but contact nobody.
    """
    if repo_id.count("/") != 1:
        raise ValueError(f"--repo-id must look like <user>/<name>, got {repo_id!r}")
    operations = upload_operations(folder, repo_id, dataset_repo_id)
    if not dry_run:
        api = api or HfApi()
        repo_id = api.create_repo(repo_id=repo_id, private=private, exist_ok=True).repo_id
        api.create_commit(repo_id, operations, commit_message=commit_message, repo_type="model")
    return [op.path_in_repo for op in operations]
