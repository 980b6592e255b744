"""Checks that turn damaged or incompatible hetero_act checkpoints into errors that name the bad file.

LeRobot 0.6.1 reports a truncated `model.safetensors` as "Error while deserializing header:
incomplete metadata, file not fully covered" and a config.json from another version as "The fields
`x` are not valid for HeteroACTConfig" -- neither says which file is at fault (LeRobot even parses
config.json from a temporary copy). The checks here let safetensors and draccus find the fault and
re-raise it as a CheckpointError that starts with the file's path. And since LeRobot loads weights
non-strictly (a tensor the network needs but the checkpoint lacks just keeps its random
initialisation), `check_state_dict_fits` compares the checkpoint's tensors with the network before
loading and names the option behind any that differ.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huggingface_hub.constants import CONFIG_NAME, SAFETENSORS_SINGLE_FILE
from lerobot.utils.constants import POLICY_POSTPROCESSOR_DEFAULT_NAME, POLICY_PREPROCESSOR_DEFAULT_NAME

POLICY_TYPE = "hetero_act"
PREPROCESSOR_FILE = f"{POLICY_PREPROCESSOR_DEFAULT_NAME}.json"
POSTPROCESSOR_FILE = f"{POLICY_POSTPROCESSOR_DEFAULT_NAME}.json"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded; the message starts with the file's path."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        super().__init__(f"{self.path}: {problem}")


def safetensors_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of a .safetensors file, read by safetensors itself (no tensor is loaded).

    safetensors checks the header and that the file is exactly as long as the header says; a file cut
    short (killed writer, interrupted copy) fails that check, and its error is re-raised naming the file.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file is missing.")
    try:
        with safe_open(str(path), framework="pt") as f:
            return {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}  # noqa: SIM118
    except SafetensorError as e:
        short = any(s in str(e) for s in ("incomplete metadata", "header too small"))
        kind = "truncated" if short else "corrupted"
        raise CheckpointError(
            path,
            f"{kind} safetensors file ({e}); the write was interrupted or the copy is incomplete: "
            "re-download or re-save it.",
        ) from e


def read_json_file(path: str | Path) -> Any:
    """json.loads of a file, with the file's path in the error."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file is missing.")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(path, f"not valid JSON ({e}); the file is truncated or corrupted.") from e


def checkpoint_file(name_or_path: str | Path, filename: str, **hub_kwargs: Any) -> Path:
    """`filename` of a checkpoint given as a local folder or a Hub id (fetched, or found in the
    Hugging Face cache offline). CheckpointError naming the folder or id and what to pass instead."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / filename).is_file():
            raise CheckpointError(
                path,
                f"not a policy checkpoint: it has no {filename} (pass the pretrained_model folder of a "
                "lerobot-train checkpoint, or a Hub id).",
            )
        return path / filename
    if path.exists():
        raise CheckpointError(path, "a file, not a checkpoint folder or Hub id.")
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(str(name_or_path), filename, **hub_kwargs))
    except Exception as e:  # offline cache miss, unknown repo, malformed id: the same advice
        raise CheckpointError(
            path,
            f"neither a local checkpoint folder nor a Hub model whose {filename} could be fetched or found "
            f"in the Hugging Face cache ({type(e).__name__}: {e}).",
        ) from e


def saved_config(name_or_path: str | Path, **hub_kwargs: Any) -> dict[str, Any]:
    """A checkpoint's config.json as saved (a local folder, or a Hub id through the Hub cache), before
    draccus fills the fields it lacks with today's defaults."""
    path = checkpoint_file(name_or_path, CONFIG_NAME, **hub_kwargs)
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise CheckpointError(path, "not a JSON object of config fields.")
    return data


@dataclasses.dataclass
class OpenedCheckpoint:
    """A checkpoint's config, its saved pre/post-processors and (unless opened without) its policy."""

    config: Any
    preprocessor: Any
    postprocessor: Any
    policy: Any = None


def open_checkpoint(
    name_or_path: str | Path,
    device: str = "cpu",
    expected_type: str | None = POLICY_TYPE,
    load_weights: bool = True,
) -> OpenedCheckpoint:
    """The one way this package opens a checkpoint (a pretrained_model folder or a Hub id).

    Checks its type (`expected_type=None` takes any LeRobot policy, e.g. ACT for a benchmark), loads
    the policy through its class's `from_pretrained` (strict for hetero_act) in eval mode on `device`,
    and its saved processors on that device; a hetero_act preprocessor saved before the observation
    check existed gets it. `load_weights=False` skips the policy (the ONNX runner needs no weights).
    Raises CheckpointError naming the folder or id, the type found, or the file at fault.
    """
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    found = saved_config(name_or_path).get("type")
    if expected_type is not None and found != expected_type:
        raise CheckpointError(
            Path(name_or_path), f"not a {expected_type} checkpoint: its config.json has type {found!r}."
        )
    config = PreTrainedConfig.from_pretrained(name_or_path)
    config.device = device
    policy = None
    if load_weights:
        policy = get_policy_class(config.type).from_pretrained(name_or_path, config=config)
        policy = policy.to(device).eval()
        config = policy.config
    on_device = {"device_processor": {"device": device}}
    preprocessor, postprocessor = make_pre_post_processors(
        config,
        pretrained_path=str(name_or_path),
        preprocessor_overrides=on_device,
        postprocessor_overrides=on_device,
    )
    if config.type == POLICY_TYPE:
        from .processor_hetero_act import ensure_observation_check

        ensure_observation_check(preprocessor, config)
    return OpenedCheckpoint(config, preprocessor, postprocessor, policy)


def verify_policy_config(path: str | Path, expected_type: str = POLICY_TYPE) -> None:
    """Check that a policy config.json is `expected_type` and parses with LeRobot's own decoder.

    Only the `type` is read here: draccus rejects unknown fields and wrong value types (its error is
    re-raised naming this file), and an unknown field gets the likely cause, a newer version.
    """
    from lerobot.configs.policies import PreTrainedConfig

    path = Path(path)
    data = read_json_file(path)
    policy_type = data.get("type") if isinstance(data, dict) else None
    if policy_type is None:
        raise CheckpointError(
            path,
            f"no 'type' field, so LeRobot cannot tell which policy this is (expected {expected_type!r}).",
        )
    if policy_type != expected_type:
        raise CheckpointError(
            path, f"policy type {policy_type!r}, not {expected_type!r}: load it with that policy's class."
        )
    try:
        PreTrainedConfig.from_pretrained(path.parent)
    except Exception as e:  # draccus.DecodingError, ValueError from __post_init__ checks, ...
        hint = ""
        if "are not valid for" in str(e):
            from . import __version__

            hint = (
                f" The checkpoint was written by a different (probably newer) version than "
                f"lerobot_policy_hetero_act {__version__}: install that version, or remove the field(s) "
                "if they are off by default."
            )
        raise CheckpointError(path, f"invalid {expected_type} config: {e}.{hint}") from e


def verify_pretrained_dir(path: str | Path, require_processors: bool = False) -> None:
    """Check a `pretrained_model/` directory (config, weights, optionally processors) before loading."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(path, "not a directory (expected a pretrained_model folder).")
    verify_policy_config(path / CONFIG_NAME)
    safetensors_shapes(path / SAFETENSORS_SINGLE_FILE)
    if require_processors:
        for name in (PREPROCESSOR_FILE, POSTPROCESSOR_FILE):
            read_json_file(path / name)
        for tensors in sorted(path.glob("policy_*processor*.safetensors")):
            safetensors_shapes(tensors)


def verify_pretrained(name_or_path: str | Path, check_config: bool = True, **hub_kwargs: Any) -> None:
    """Check a local pretrained_model directory, or the files of a Hub id already in the local cache.

    `check_config=False` when the caller supplies the config (LeRobot's make_policy does): then only
    the weights are read from the checkpoint. Nothing is downloaded.
    """
    from huggingface_hub import try_to_load_from_cache

    files: dict[str, Path] = {}
    for name in (CONFIG_NAME, SAFETENSORS_SINGLE_FILE):
        if Path(name_or_path).is_dir():
            files[name] = Path(name_or_path) / name
        else:
            hit = try_to_load_from_cache(str(name_or_path), name, **hub_kwargs)
            if isinstance(hit, str):
                files[name] = Path(hit)
    if check_config and CONFIG_NAME in files:
        verify_policy_config(files[CONFIG_NAME])
    if SAFETENSORS_SINGLE_FILE in files:
        safetensors_shapes(files[SAFETENSORS_SINGLE_FILE])


def checked_from_pretrained[T](load: Callable[..., T], name_or_path: str | Path, **kwargs: Any) -> T:
    """Run a `from_pretrained` after verify_pretrained, so bad files fail with their name.

    Files downloaded by `load` itself (first use of a Hub id) are checked after a failure.
    """
    hub_kwargs = {k: kwargs.get(k) for k in ("cache_dir", "revision")}
    check_config = kwargs.get("config") is None
    verify_pretrained(name_or_path, check_config, **hub_kwargs)
    try:
        return load(name_or_path, **kwargs)
    except CheckpointError:
        raise
    except Exception:
        verify_pretrained(name_or_path, check_config, **hub_kwargs)  # names the file if it can
        raise


# --------------------------------------------------------------------------- weights vs. options


@dataclasses.dataclass(frozen=True)
class KeyRule:
    """Which config fields decide whether tensors whose name matches `pattern` exist (and their shapes).

    The first field is the option the tensors belong to; `missing`/`unexpected` are the messages for
    when exactly that option differs between the checkpoint and the current config. Otherwise the
    message names whichever of `fields` differ, with both values.
    """

    pattern: str
    fields: tuple[str, ...]
    missing: str | None = None
    unexpected: str | None = None


_CAMERA_FIELDS = ("input_features", "camera_roles", "role_grids", "token_mode")
_ACT_FIELDS = ("input_features", "output_features", "dim_model", "n_heads", "dim_feedforward")
_ACT_FIELDS += ("n_encoder_layers", "n_decoder_layers", "latent_dim", "chunk_size", "use_vae", "pre_norm")
# First match wins, so specific patterns come before the fallbacks for their module.
STATE_DICT_RULES: tuple[KeyRule, ...] = (
    KeyRule(
        r"\.absent_token\.",
        ("camera_dropout", *_CAMERA_FIELDS),
        missing="camera_dropout > 0 needs absent-camera tokens, which this checkpoint does not have; "
        "train with camera_dropout or drop the override",
        unexpected="this checkpoint has absent-camera tokens (it was trained with camera_dropout > 0), "
        "which camera_dropout = 0 does not use; keep the checkpoint's camera_dropout or drop the override",
    ),
    KeyRule(
        r"\.view_gate\.",
        ("view_gating",),
        missing="view_gating = true needs view-gate weights, which this checkpoint does not have; "
        "train with view_gating or drop the override",
        unexpected="this checkpoint has view-gate weights (it was trained with view_gating = true), "
        "which view_gating = false does not use; keep the checkpoint's view_gating or drop the override",
    ),
    KeyRule(r"\.cross_attention\.", ("attention_edges", *_CAMERA_FIELDS, "dim_model", "n_heads")),
    KeyRule(r"\.(extractors|fusion|camera_embed)\.", (*_CAMERA_FIELDS, "dim_model", "dropout")),
    KeyRule(r"^model\.camera_fusion\.", (*_CAMERA_FIELDS, "attention_edges", "dim_model")),
    KeyRule(
        r"^model\.backbone\.", ("vision_backbone", "replace_final_stride_with_dilation", "input_features")
    ),
    KeyRule(
        r"^model\.vae_encoder",
        ("use_vae", "n_vae_encoder_layers", "latent_dim", "chunk_size", "dim_model", "input_features"),
    ),
    KeyRule(r"^model\.", _ACT_FIELDS),
)
_MAX_KEYS_SHOWN = 4
_WHAT = {
    "missing": "tensor(s) {} missing from the checkpoint",
    "unexpected": "unexpected tensor(s) {} in the checkpoint",
    "reshaped": "tensor(s) {} have another shape",
}


class IncompatibleCheckpointError(CheckpointError):
    """The checkpoint's tensors do not fit the network the current config builds."""


def current_config_dict(config: Any) -> dict[str, Any]:
    """The config as its config.json would hold it (LeRobot's draccus encoding)."""
    import draccus
    from lerobot.configs.policies import PreTrainedConfig

    return json.loads(json.dumps(draccus.encode(config, PreTrainedConfig), default=str))


def _rule_for(key: str) -> KeyRule | None:
    return next((rule for rule in STATE_DICT_RULES if re.search(rule.pattern, key)), None)


def _differing(fields: tuple[str, ...], saved: dict[str, Any] | None, now: dict[str, Any]) -> list[str]:
    return [f for f in fields if saved and f in saved and f in now and saved[f] != now[f]]


def _show_keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_KEYS_SHOWN])
    return shown + (f" and {len(keys) - _MAX_KEYS_SHOWN} more" if len(keys) > _MAX_KEYS_SHOWN else "")


def _field_values(fields: list[str], saved: dict[str, Any], now: dict[str, Any]) -> str:
    return "; ".join(
        f"{f}: saved={json.dumps(saved[f], sort_keys=True)}, now={json.dumps(now[f], sort_keys=True)}"
        for f in fields
    )


def explain_state_dict_mismatch(
    missing: list[str],
    unexpected: list[str],
    reshaped: dict[str, tuple[tuple[int, ...], tuple[int, ...]]],
    saved_config: dict[str, Any] | None,
    current_config: dict[str, Any],
) -> list[str]:
    """One sentence per group of tensors that do not fit, naming the option behind them.

    `missing`: tensors the current network has and the checkpoint lacks; `unexpected`: the reverse;
    `reshaped`: key -> (saved shape, current shape). The option comes from STATE_DICT_RULES (by key
    name) and from comparing the checkpoint's config.json (`saved_config`, None if unavailable)
    with the current config.
    """
    groups: dict[tuple[str, str], list[str]] = {}
    for kind, keys in (("missing", missing), ("unexpected", unexpected), ("reshaped", list(reshaped))):
        for key in keys:
            rule = _rule_for(key)
            groups.setdefault((kind, rule.pattern if rule else ""), []).append(key)
    rules = {rule.pattern: rule for rule in STATE_DICT_RULES}
    all_fields = tuple(dict.fromkeys(f for rule in STATE_DICT_RULES for f in rule.fields))
    sentences = []
    for (kind, pattern), keys in groups.items():
        rule = rules.get(pattern)
        fields = rule.fields if rule else all_fields
        differing = _differing(fields, saved_config, current_config)
        specific = getattr(rule, kind, None) if rule and kind != "reshaped" else None
        if kind == "reshaped":
            keys = [f"{k} (saved {list(reshaped[k][0])}, now {list(reshaped[k][1])})" for k in keys]
        what = _WHAT[kind].format(_show_keys(keys))
        if specific and (saved_config is None or fields[0] in differing):
            detail = f" ({_field_values([fields[0]], saved_config, current_config)})" if differing else ""
            sentences.append(f"{specific}{detail}: {what}.")
            continue
        if not differing:
            differing = _differing(all_fields, saved_config, current_config)
        if differing:
            names = ", ".join(differing)
            sentences.append(
                f"{what}; the checkpoint was saved with different {names} settings "
                f"({_field_values(differing, saved_config, current_config)}): load it without "
                "overriding them, or retrain with the new settings."
            )
        elif saved_config is None:
            sentences.append(f"{what}; the checkpoint has no config.json to compare the settings with.")
        else:
            sentences.append(
                f"{what}, although its config.json has the same settings; it was probably written by "
                "another version of lerobot_policy_hetero_act."
            )
    return sentences


def _storage_key(tensor: Any) -> tuple[int, int, tuple[int, ...]]:
    return tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape)


def check_state_dict_fits(model: Any, model_file: str | Path, strict: bool = True) -> None:
    """Compare `model.safetensors`'s tensors with `model`'s before loading.

    With `strict`, any missing, unexpected or reshaped tensor raises IncompatibleCheckpointError
    naming the file and the option behind the tensors; without, the same explanation is logged
    as a warning (and reshaped tensors still raise: they cannot be loaded at all).
    """
    model_file = Path(model_file)
    stored = safetensors_shapes(model_file)
    expected = model.state_dict()
    # safetensors saves one name per shared tensor; the others count as present.
    stored_storages = {_storage_key(expected[k]) for k in stored if k in expected}
    missing = [k for k in expected if k not in stored and _storage_key(expected[k]) not in stored_storages]
    unexpected = [k for k in stored if k not in expected]
    reshaped = {
        k: (shape, tuple(expected[k].shape))
        for k, shape in stored.items()
        if k in expected and shape != tuple(expected[k].shape)
    }
    if not (missing or unexpected or reshaped):
        return
    saved_config = None
    with contextlib.suppress(CheckpointError):  # a missing or unreadable config.json: nothing to compare
        saved_config = read_json_file(model_file.parent / CONFIG_NAME)
    if not isinstance(saved_config, dict):
        saved_config = None
    current = current_config_dict(model.config)
    sentences = explain_state_dict_mismatch(missing, unexpected, reshaped, saved_config, current)
    message = "the checkpoint does not fit this policy's network: " + " ".join(sentences)
    if strict or reshaped:
        raise IncompatibleCheckpointError(model_file, message)
    logging.warning(
        "%s: %s (strict=False: these tensors keep their random initialisation)", model_file, message
    )
