"""The model card of a hetero_act checkpoint: LeRobot's card plus what a user of this policy must know.

Why not LeRobot's card as is: its template describes a `hetero_act` policy as "a hetero_act policy
trained with LeRobot" and nothing more, while a user of the checkpoint must know which camera had
which role, which cross-attention edges exist and the token mode (the camera names must match at
inference), that the plugin must be installed, and how to evaluate it. And its
`generate_model_card` ends with `card.validate()`, an HTTP call that raises offline.

`hetero_act_model_card` renders LeRobot's own template (so the inputs/outputs, dataset and training
tables stay LeRobot's) and inserts a hetero_act section; `HeteroACTPolicy.generate_model_card` calls
it, which `lerobot-train --policy.push_to_hub=true` uses on LeRobot 0.6.1, and so does
`hub.push_pretrained_dir`; on LeRobot's main branch `use_hetero_act_card_when_publishing` routes
`publish_trained_model`'s card to it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.constants import is_offline_mode

from .camera_roles import CAMERA_KEY_PREFIX, built_edges, camera_short_name, resolve_camera_roles

if TYPE_CHECKING:
    from lerobot.configs.train import TrainPipelineConfig
    from lerobot.datasets.dataset_metadata import LeRobotDatasetMetadata

    from .configuration_hetero_act import HeteroACTConfig

PACKAGE = "lerobot_policy_hetero_act"
HETERO_SECTION_TITLE = "## hetero_act: heterogeneous camera fusion"
PLACEHOLDER_REPO = "<hf_user>/<policy_repo_id>"


def sim_eval_env_args(config: HeteroACTConfig, env_task: str | None = None) -> list[str] | None:
    """`lerobot-eval` env flags for a simulation that renders exactly the policy's cameras, or None.

    LeRobot's `aloha` env renders only `top` at 480x640; any other camera set (any of the scene's
    cameras, any sizes) needs this package's `aloha_multicam` with the cameras and their sizes.
    None when the policy is not an ALOHA policy (14-D state and action, scene camera names).
    """
    from .sim.cameras import CAMERAS, eval_env_camera_args
    from .sim.features import STATE_DIM

    sizes = {camera_short_name(k): tuple(f.shape[1:]) for k, f in config.image_features.items()}
    dims = [
        f.shape[0] if f is not None else None for f in (config.robot_state_feature, config.action_feature)
    ]
    if not sizes or not set(sizes) <= set(CAMERAS) or dims != [STATE_DIM, STATE_DIM]:
        return None
    task = f"--env.task={env_task or 'AlohaTransferCube-v0'}"
    if sizes == {"top": (480, 640)}:
        return ["--env.type=aloha", task]
    return ["--env.type=aloha_multicam", task, *eval_env_camera_args(sizes)]


def eval_env_args(config: HeteroACTConfig, env_type: str | None, env_task: str | None) -> list[str]:
    """Env flags of the card's eval command: the training env, with the cameras the policy needs."""
    sim = sim_eval_env_args(config, env_task) if env_type in ("aloha", "aloha_multicam") else None
    if sim is not None:
        return sim
    if env_type:
        return [f"--env.type={env_type}"] + ([f"--env.task={env_task}"] if env_task else [])
    return ["--env.type=<env_type>", "--env.task=<task>"]


def eval_command(repo_id: str | None, env_args: list[str]) -> str:
    """A `lerobot-eval` invocation for the pushed policy."""
    lines = ["lerobot-eval", f"--policy.path={repo_id or PLACEHOLDER_REPO}", " ".join(env_args)]
    lines += ["--eval.n_episodes=10", "--eval.batch_size=1", "--policy.device=cuda"]
    return " \\\n  ".join(lines)


def hetero_act_section(
    config: HeteroACTConfig,
    repo_id: str | None,
    dataset_repo_id: str | None,
    env_type: str | None = None,
    env_task: str | None = None,
) -> str:
    """The card's hetero_act section: roles, grids, edges, token mode, dataset, install and eval."""
    roles = resolve_camera_roles(config.camera_roles, list(config.image_features), config.role_grids)
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
    edges = built_edges(config.parsed_attention_edges, roles.values())
    lines += [
        "",
        f"- **Token mode:** `{config.token_mode}`",
        "- **Cross-attention edges (query <- key):** "
        + (", ".join(f"`{q}<-{k}`" for q, k in edges) if edges else "none (a single role)"),
    ]
    configured = zip(config.attention_edges, config.parsed_attention_edges, strict=True)
    unbuilt = [raw for raw, edge in configured if edge not in edges]
    if unbuilt:
        lines.append(
            "- **Configured but not built (a role without camera):** " + ", ".join(f"`{e}`" for e in unbuilt)
        )
    lines += [
        f"- **View gating:** `{config.view_gating}`",
        f"- **Camera dropout:** `{config.camera_dropout}`",
        f"- **Backbone:** `{config.vision_backbone}`",
        f"- **Training dataset:** `{dataset_repo_id or 'unknown'}`",
        "",
        "Camera names must match at inference: roles are looked up by name "
        f"(`{CAMERA_KEY_PREFIX}<name>`), never by position.",
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
    if "--env.type=aloha_multicam" in env_args + (sim or []):
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
        f'policy = HeteroACTPolicy.from_pretrained("{repo_id or PLACEHOLDER_REPO}")',
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
    repo_id = repo_id or getattr(config, "repo_id", None)
    card_data = ModelCardData(
        license=license or getattr(config, "license", None) or "apache-2.0",
        library_name="lerobot",
        pipeline_tag="robotics",
        tags=sorted(set(tags or []) | {"robotics", "lerobot", "hetero_act", "multi-camera"}),
        model_name="hetero_act",
        datasets=dataset_repo_id,
    )
    context = card_context_builder()(cfg, dataset_meta, config.input_features, config.output_features)
    if context["training"] is None and train_config is not None:
        context["training"] = _training_from_train_config(train_config)
    if not context["cameras"]:
        context["cameras"] = [camera_short_name(k) for k in config.image_features]
    context["policy_repo_id"] = repo_id
    context["base_model"] = None

    env = getattr(cfg, "env", None)
    env_type, env_task = getattr(env, "type", None), getattr(env, "task", None)
    if cfg is None and train_config and isinstance(train_config.get("env"), dict):
        env_type, env_task = train_config["env"].get("type"), train_config["env"].get("task")

    template = (
        files("lerobot.templates").joinpath("lerobot_modelcard_template.md").read_text(encoding="utf-8")
    )
    text = str(ModelCard.from_template(card_data, template_str=template, **context))
    section = hetero_act_section(config, repo_id, dataset_repo_id, env_type, env_task)
    anchor = "## Model Details"
    card = ModelCard(text.replace(anchor, section + "\n" + anchor, 1) if anchor in text else text + section)
    if validate:
        validate_card(card)
    return card


def card_context_builder():
    """LeRobot's card-context function: public in `lerobot.common.train_utils` on LeRobot's main
    branch, private in `lerobot.policies.pretrained` in 0.6.1 (same signature)."""
    try:
        from lerobot.common.train_utils import build_card_context
    except ImportError:
        from lerobot.policies.pretrained import _build_card_context as build_card_context
    return build_card_context


def use_hetero_act_card_when_publishing() -> None:
    """Give hetero_act checkpoints this card where LeRobot's main branch publishes them.

    LeRobot 0.6.1 asks the policy for its card (`PreTrainedPolicy.generate_model_card`, which
    HeteroACTPolicy overrides). LeRobot's main branch publishes through
    `lerobot.common.train_utils.publish_trained_model`, which calls that module's own
    `generate_model_card(model_cfg, cfg, dataset_meta)` and never asks the policy; there is no other
    seam, so that function is wrapped here: hetero_act configs get this card, every other type
    LeRobot's. On 0.6.1 (no `publish_trained_model`) nothing changes.
    """
    try:
        from lerobot.common import train_utils
    except ImportError:
        return
    original = getattr(train_utils, "generate_model_card", None)
    if not hasattr(train_utils, "publish_trained_model") or original is None:
        return
    if getattr(original, "serves_hetero_act", False):
        return

    def generate_model_card(model_cfg, cfg=None, dataset_meta=None):
        if getattr(model_cfg, "type", None) != "hetero_act":
            return original(model_cfg, cfg=cfg, dataset_meta=dataset_meta)
        dataset = getattr(cfg, "dataset", None)
        return hetero_act_model_card(
            model_cfg,
            getattr(dataset, "repo_id", None),
            license=getattr(model_cfg, "license", None),
            tags=getattr(model_cfg, "tags", None),
            cfg=cfg,
            dataset_meta=dataset_meta,
        )

    generate_model_card.serves_hetero_act = True
    train_utils.generate_model_card = generate_model_card


def validate_card(card: ModelCard) -> None:
    """Check the card's YAML metadata locally; also ask the Hub's validator when online.

    LeRobot calls `card.validate()` unconditionally, which raises OfflineModeIsEnabled offline;
    here the Hub check runs only when the Hub may be reached, and an unreachable Hub only warns
    (the upload itself would fail then anyway).
    """
    data = ModelCard(str(card)).data.to_dict()
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
