"""Publishing hetero_act checkpoints on the Hugging Face Hub: the model card and a folder pusher.

Why not LeRobot's card as is: its template describes a `hetero_act` policy as "a hetero_act policy
trained with LeRobot" and nothing more, while a user of the checkpoint must know which camera had
which role, which cross-attention edges exist and the token mode (the camera names must match at
inference), that the plugin must be installed, and how to evaluate it. And its
`generate_model_card` ends with `card.validate()`, an HTTP call that raises offline.

`hetero_act_model_card` renders LeRobot's own template (so the inputs/outputs, dataset and training
tables stay LeRobot's) and inserts a hetero_act section; `HeteroACTPolicy.generate_model_card` calls
it, which `lerobot-train --policy.push_to_hub=true` uses. `push_pretrained_dir` uploads an existing
`pretrained_model/` folder (scripts/push_to_hub.py).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import HfApi, ModelCard, ModelCardData
from huggingface_hub.constants import is_offline_mode

from .camera_roles import camera_short_name, resolve_camera_roles
from .checkpoint_checks import (
    CONFIG_FILE,
    MODEL_FILE,
    POSTPROCESSOR_FILE,
    PREPROCESSOR_FILE,
    TRAIN_CONFIG_FILE,
    CheckpointError,
    verify_pretrained_dir,
)

if TYPE_CHECKING:
    from lerobot.configs.train import TrainPipelineConfig
    from lerobot.datasets.dataset_metadata import LeRobotDatasetMetadata

    from .configuration_hetero_act import HeteroACTConfig

PACKAGE = "lerobot_policy_hetero_act"
CARD_FILE = "README.md"
# The files LeRobot's push_model_to_hub uploads (weights, configs, processors, card).
UPLOAD_PATTERNS = ["*.safetensors", "*.json", "*.yaml", "*.md"]
IGNORE_PATTERNS = ["*.tmp", "*.log"]
HETERO_SECTION_TITLE = "## hetero_act: heterogeneous camera fusion"


def camera_roles_of(config: HeteroACTConfig) -> dict[str, str]:
    """camera key -> role as the policy uses it (the config's record, or the name-based default)."""
    if config.camera_roles and set(config.camera_roles) >= set(config.image_features):
        return {key: config.camera_roles[key] for key in config.image_features}
    return resolve_camera_roles(config.camera_roles, list(config.image_features), config.role_grids)


def active_edges(config: HeteroACTConfig) -> list[tuple[str, str]]:
    """The configured edges the network actually builds: both roles must have a camera."""
    roles = set(camera_roles_of(config).values())
    return [(q, k) for q, k in config.parsed_attention_edges if q in roles and k in roles]


def _state_dim(config: HeteroACTConfig) -> int | None:
    feature = config.robot_state_feature
    return feature.shape[0] if feature is not None else None


def sim_eval_env_args(config: HeteroACTConfig, env_task: str | None = None) -> list[str] | None:
    """`lerobot-eval` env flags for a simulation that renders exactly the policy's cameras, or None.

    LeRobot's `aloha` env renders only `top` at 480x640; any other camera set (any of the scene's
    cameras, any sizes) needs this package's `aloha_multicam` with the cameras and their sizes.
    None when the policy is not an ALOHA policy (14-D state and action, scene camera names).
    """
    from .sim.cameras import CAMERAS, format_camera_sizes
    from .sim.features import STATE_DIM

    sizes = {camera_short_name(k): tuple(f.shape[1:]) for k, f in config.image_features.items()}
    action = config.action_feature
    if (
        not sizes
        or not set(sizes) <= set(CAMERAS)
        or _state_dim(config) != STATE_DIM
        or action is None
        or action.shape[0] != STATE_DIM
    ):
        return None
    task = f"--env.task={env_task or 'AlohaTransferCube-v0'}"
    if sizes == {"top": (480, 640)}:
        return ["--env.type=aloha", task]
    height, width = next(iter(sizes.values()))
    args = [
        "--env.type=aloha_multicam",
        task,
        f"--env.cameras=[{','.join(sizes)}]",
        f"--env.observation_height={height}",
        f"--env.observation_width={width}",
    ]
    others = {name: size for name, size in sizes.items() if size != (height, width)}
    if others:
        args.append(f"--env.camera_sizes={format_camera_sizes(others)}")
    return args


def eval_env_args(config: HeteroACTConfig, env_type: str | None, env_task: str | None) -> list[str]:
    """Env flags of the card's eval command: the training env, with the cameras the policy needs."""
    if env_type in ("aloha", "aloha_multicam"):
        sim = sim_eval_env_args(config, env_task)
        if sim is not None:
            return sim
    if env_type:
        return [f"--env.type={env_type}"] + ([f"--env.task={env_task}"] if env_task else [])
    return ["--env.type=<env_type>", "--env.task=<task>"]


def eval_command(repo_id: str | None, env_args: list[str]) -> str:
    """A `lerobot-eval` invocation for the pushed policy."""
    lines = [
        "lerobot-eval",
        f"--policy.path={repo_id or '<hf_user>/<policy_repo_id>'}",
        " ".join(env_args),
        "--eval.n_episodes=10",
        "--eval.batch_size=1",
        "--policy.device=cuda",
    ]
    return " \\\n  ".join(lines)


def hetero_act_section(
    config: HeteroACTConfig,
    repo_id: str | None,
    dataset_repo_id: str | None,
    env_type: str | None = None,
    env_task: str | None = None,
) -> str:
    """The card's hetero_act section: roles, grids, edges, token mode, dataset, install and eval."""
    roles = camera_roles_of(config)
    env_args = eval_env_args(config, env_type, env_task)
    lines = [
        HETERO_SECTION_TITLE,
        "",
        "This is a **hetero_act** policy (policy type `hetero_act`): LeRobot's ACT whose image tokens come "
        "from heterogeneous camera cross-attention. One shared ResNet backbone encodes every camera; each "
        "camera is pooled on the grid of its *role*, roles attend to each other along directed edges, "
        "and the fused camera tokens enter ACT's transformer.",
        "",
        "| Camera | Feature | Role | Pooling grid |",
        "| --- | --- | --- | --- |",
    ]
    for key, role in roles.items():
        rows, cols = config.role_grids[role]
        lines.append(f"| `{camera_short_name(key)}` | `{key}` | `{role}` | {rows}x{cols} |")
    edges = active_edges(config)
    lines += [
        "",
        f"- **Token mode:** `{config.token_mode}`",
        "- **Cross-attention edges (query <- key):** "
        + (", ".join(f"`{q}<-{k}`" for q, k in edges) if edges else "none (a single role)"),
    ]
    unbuilt = [
        raw
        for raw, edge in zip(config.attention_edges, config.parsed_attention_edges, strict=True)
        if edge not in edges
    ]
    if unbuilt:
        lines.append(
            "- **Configured but not built (a role without camera):** " + ", ".join(f"`{e}`" for e in unbuilt)
        )
    for field_name, label in (("view_gating", "View gating"), ("camera_dropout", "Camera dropout")):
        if hasattr(config, field_name):
            lines.append(f"- **{label}:** `{getattr(config, field_name)}`")
    lines += [
        f"- **Backbone:** `{config.vision_backbone}`",
        f"- **Training dataset:** `{dataset_repo_id or 'unknown'}`",
        "",
        "Camera names must match at inference: roles are looked up by name "
        "(`observation.images.<name>`), never by position.",
        "",
        "### Install",
        "",
        "The policy type is provided by a LeRobot plugin; install it next to LeRobot so that "
        "`lerobot-eval` / `lerobot-train` can load this checkpoint:",
        "",
        "```bash",
        f"pip install {PACKAGE}    # once it is published on PyPI; until then, from a clone of the plugin:",
        "pip install -e .                     # or a wheel built there with `pip wheel --no-deps .`",
        "```",
        "",
        "### Evaluate",
        "",
        "```bash",
        eval_command(repo_id, env_args),
        "```",
    ]
    sim = sim_eval_env_args(config, env_task)
    if env_args[0] == "--env.type=<env_type>" and sim is not None:
        lines += [
            "",
            f"For example, in the ALOHA simulation (the policy's cameras and sizes): `{' '.join(sim)}`.",
        ]
    if any(arg == "--env.type=aloha_multicam" for arg in env_args + (sim or [])):
        lines += [
            "",
            "`aloha_multicam` is this package's multi-camera ALOHA sim (LeRobot's `aloha` env renders only "
            "`top`); add `--env.antialias=true` if the training data was recorded with anti-aliasing.",
        ]
    lines += [
        "",
        "### Load in Python",
        "",
        "```python",
        "from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy",
        "",
        f'policy = HeteroACTPolicy.from_pretrained("{repo_id or "<hf_user>/<policy_repo_id>"}")',
        "```",
        "",
    ]
    return "\n".join(lines)


def _training_from_train_config(train_config: dict[str, Any]) -> dict[str, Any]:
    """The card template's `training` context from a train_config.json (LeRobot's keys)."""
    from lerobot.__version__ import __version__

    optimizer = train_config.get("optimizer") or {}
    return {
        "steps": train_config.get("steps"),
        "batch_size": train_config.get("batch_size"),
        "seed": train_config.get("seed"),
        "optimizer": optimizer.get("type"),
        "lr": optimizer.get("lr"),
        "lerobot_version": __version__,
    }


def hetero_act_model_card(
    config: HeteroACTConfig,
    dataset_repo_id: str | None,
    *,
    repo_id: str | None = None,
    license: str | None = None,
    tags: Sequence[str] | None = None,
    cfg: TrainPipelineConfig | None = None,
    dataset_meta: LeRobotDatasetMetadata | None = None,
    train_config: dict[str, Any] | None = None,
    validate: bool = True,
) -> ModelCard:
    """LeRobot's model card for this policy plus the hetero_act section.

    Args:
        repo_id: the Hub repo the card lives in (default: `config.repo_id`), used in the commands.
        cfg / dataset_meta: what lerobot-train has at push time (training table, dataset table).
        train_config: a train_config.json's content, for pushes of an existing folder (no cfg).
        validate: check the card's metadata locally, and with the Hub's validator when online.
    """
    from lerobot.policies.pretrained import _build_card_context

    repo_id = repo_id or getattr(config, "repo_id", None)
    card_data = ModelCardData(
        license=license or getattr(config, "license", None) or "apache-2.0",
        library_name="lerobot",
        pipeline_tag="robotics",
        tags=sorted(set(tags or []) | {"robotics", "lerobot", "hetero_act", "multi-camera"}),
        model_name="hetero_act",
        datasets=dataset_repo_id,
    )
    context = _build_card_context(cfg, dataset_meta, config.input_features, config.output_features)
    if context["training"] is None and train_config is not None:
        context["training"] = _training_from_train_config(train_config)
    if not context["cameras"]:
        context["cameras"] = [camera_short_name(k) for k in config.image_features]
    context["policy_repo_id"] = repo_id
    context["base_model"] = None

    env = getattr(cfg, "env", None) if cfg is not None else None
    env_type = getattr(env, "type", None) if env is not None else None
    env_task = getattr(env, "task", None) if env is not None else None
    if cfg is None and train_config and isinstance(train_config.get("env"), dict):
        env_type, env_task = train_config["env"].get("type"), train_config["env"].get("task")

    template = (
        files("lerobot.templates").joinpath("lerobot_modelcard_template.md").read_text(encoding="utf-8")
    )
    card = ModelCard.from_template(card_data, template_str=template, **context)
    section = hetero_act_section(config, repo_id, dataset_repo_id, env_type, env_task)
    text = str(card)
    anchor = "## Model Details"
    card = ModelCard(text.replace(anchor, section + "\n" + anchor, 1) if anchor in text else text + section)
    if validate:
        validate_card(card)
    return card


def validate_card(card: ModelCard) -> None:
    """Check the card's YAML metadata locally; also ask the Hub's validator when online.

    LeRobot calls `card.validate()` unconditionally, which raises OfflineModeIsEnabled offline;
    here the Hub check runs only when the Hub may be reached, and an unreachable Hub only warns
    (the upload itself would fail then anyway).
    """
    reparsed = ModelCard(str(card))
    data = reparsed.data.to_dict()
    missing = [key for key in ("library_name", "license", "tags") if not data.get(key)]
    if missing:
        raise ValueError(f"model card metadata lacks {missing}")
    if is_offline_mode():
        return
    try:
        card.validate()
    except ValueError:
        raise
    except Exception as e:  # network errors: no Hub to ask
        logging.warning("could not validate the model card with the Hub (%s); continuing", e)


# --------------------------------------------------------------------------- pushing a folder


def _selected(name: str) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in UPLOAD_PATTERNS) and not any(
        fnmatch.fnmatch(name, p) for p in IGNORE_PATTERNS
    )


def check_pushable_dir(folder: str | Path) -> Path:
    """A pretrained_model folder that can be pushed: hetero_act config, weights and both processors."""
    folder = Path(folder)
    if not folder.exists():
        raise CheckpointError(folder, "does not exist.")
    if (folder / "checkpoints").is_dir() or (folder / "pretrained_model").is_dir():
        hint = (
            "checkpoints/last/pretrained_model" if (folder / "checkpoints").is_dir() else "pretrained_model"
        )
        raise CheckpointError(
            folder, f"this is a training run or checkpoint directory; pass its {hint} folder instead."
        )
    verify_pretrained_dir(folder, require_processors=True)
    return folder


def stage_pretrained_dir(
    folder: str | Path, staging: str | Path, repo_id: str, dataset_repo_id: str | None = None
) -> list[str]:
    """Copy the uploadable files of `folder` into `staging` and add the model card if it has none.

    Returns the staged file names (what an upload would contain).
    """
    from lerobot.configs.policies import PreTrainedConfig

    folder, staging = check_pushable_dir(folder), Path(staging)
    staging.mkdir(parents=True, exist_ok=True)
    for path in sorted(folder.iterdir()):
        if path.is_file() and _selected(path.name):
            shutil.copy2(path, staging / path.name)
    if not (staging / CARD_FILE).is_file():
        train_config = (
            json.loads((folder / TRAIN_CONFIG_FILE).read_text())
            if (folder / TRAIN_CONFIG_FILE).is_file()
            else None
        )
        if dataset_repo_id is None and train_config is not None:
            dataset_repo_id = (train_config.get("dataset") or {}).get("repo_id")
        config = PreTrainedConfig.from_pretrained(folder)
        card = hetero_act_model_card(config, dataset_repo_id, repo_id=repo_id, train_config=train_config)
        card.save(str(staging / CARD_FILE))
    return sorted(p.name for p in staging.iterdir() if p.is_file())


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

    With `dry_run`, check and stage everything but contact nobody.
    """
    if repo_id.count("/") != 1:
        raise ValueError(f"--repo-id must look like <user>/<name>, got {repo_id!r}")
    required = {CONFIG_FILE, MODEL_FILE, PREPROCESSOR_FILE, POSTPROCESSOR_FILE, CARD_FILE}
    with tempfile.TemporaryDirectory(prefix="hetero_act_push_") as tmp:
        staged = stage_pretrained_dir(folder, Path(tmp) / "upload", repo_id, dataset_repo_id)
        missing = required - set(staged)
        if missing:
            raise CheckpointError(folder, f"missing {sorted(missing)}")
        if dry_run:
            return staged
        api = api or HfApi()
        repo_id = api.create_repo(repo_id=repo_id, private=private, exist_ok=True).repo_id
        api.upload_folder(
            repo_id=repo_id,
            repo_type="model",
            folder_path=Path(tmp) / "upload",
            commit_message=commit_message,
            allow_patterns=UPLOAD_PATTERNS,
            ignore_patterns=IGNORE_PATTERNS,
        )
    return staged
