"""Checks that turn damaged or incompatible hetero_act checkpoints into errors that name the bad file.

Why this exists: LeRobot 0.6.1 reports a truncated `model.safetensors` as "Error while deserializing
header: incomplete metadata, file not fully covered" and a config.json from another version as
"The fields `x` are not valid for HeteroACTConfig" -- neither says which file is at fault (LeRobot
even re-parses config.json from a temporary copy). And `lerobot-train` writes checkpoints
non-atomically: a run killed inside `save_checkpoint` leaves a step directory without
`training_state/` (or with a truncated tensor file), and one killed inside `update_last_checkpoint`
(unlink, then symlink) leaves no `checkpoints/last` at all, so the documented
`--config_path=.../checkpoints/last/pretrained_model/train_config.json` fails with a bare
FileNotFoundError. The helpers here find the last complete checkpoint, say exactly what is missing,
and can repoint `last`. And since LeRobot loads weights non-strictly (a tensor the network needs but the
checkpoint lacks just keeps its random initialisation), `check_state_dict_fits` compares the
checkpoint's tensors with the network before loading and names the option behind any that differ.

Command line (prints the last complete checkpoint and the resume command; `--fix-last` repoints
`checkpoints/last` at it):

    python -m lerobot_hetero_act.checkpoint_checks outputs/train/my_run [--fix-last]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

POLICY_TYPE = "hetero_act"
CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
TRAIN_CONFIG_FILE = "train_config.json"
PREPROCESSOR_FILE = "policy_preprocessor.json"
POSTPROCESSOR_FILE = "policy_postprocessor.json"
PRETRAINED_DIR = "pretrained_model"
TRAINING_STATE_DIR = "training_state"
CHECKPOINTS_DIR = "checkpoints"
LAST_LINK = "last"
# What LeRobot's load_training_state reads on --resume=true (scheduler_state.json only with a scheduler).
TRAINING_STATE_FILES = (
    "training_step.json",
    "rng_state.safetensors",
    "optimizer_state.safetensors",
    "optimizer_param_groups.json",
)
# LeRobot's own defaults for these keys on a policy config (they are not dataclass fields of ours).
_CONFIG_KEYS_NOT_FIELDS = {"type"}


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded; the message starts with the file's path."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        super().__init__(f"{self.path}: {problem}")


# --------------------------------------------------------------------------- single files


def verify_safetensors(path: str | Path) -> dict[str, Any]:
    """Check a .safetensors file's header and size without loading tensors; return the header.

    The format is an 8-byte little-endian header length, a JSON header giving every tensor's
    byte range, then the data; a file cut short (killed writer, interrupted copy) ends before the
    last range does.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file is missing.")
    size = path.stat().st_size
    if size < 8:
        raise CheckpointError(path, f"truncated or empty safetensors file ({size} bytes).")
    with path.open("rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > size - 8:
            raise CheckpointError(
                path,
                f"corrupted or truncated safetensors file: its header claims {header_len} bytes "
                f"but the file has only {size} bytes.",
            )
        raw = f.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(path, f"corrupted safetensors file: header is not valid JSON ({e}).") from e
    if not isinstance(header, dict):
        raise CheckpointError(path, "corrupted safetensors file: header is not a JSON object.")
    ends = [
        entry["data_offsets"][1]
        for key, entry in header.items()
        if key != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry
    ]
    expected = 8 + header_len + max(ends, default=0)
    if size < expected:
        raise CheckpointError(
            path,
            f"truncated safetensors file: {size} bytes, but its header describes {expected} bytes "
            "(the write was interrupted or the copy is incomplete; re-download or re-save it).",
        )
    if size > expected:
        raise CheckpointError(path, f"corrupted safetensors file: {size - expected} trailing bytes.")
    return header


def read_json_file(path: str | Path) -> Any:
    """json.load with the file's path in the error."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file is missing.")
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(path, f"not valid JSON ({e}); the file is truncated or corrupted.") from e


def config_field_names(config_cls: type) -> set[str]:
    """Keys a config.json of `config_cls` may hold (its dataclass init fields)."""
    return {f.name for f in dataclasses.fields(config_cls) if f.init}


def verify_policy_config(path: str | Path, expected_type: str = POLICY_TYPE) -> dict[str, Any]:
    """Check a policy config.json: JSON, `type`, no unknown fields, values of the right types.

    Decoding goes through LeRobot's own `PreTrainedConfig.from_pretrained` (draccus), so what passes
    here also parses there; its errors are re-raised naming this file.
    """
    from lerobot.configs.policies import PreTrainedConfig

    path = Path(path)
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise CheckpointError(path, f"expected a JSON object, got {type(data).__name__}.")
    policy_type = data.get("type")
    if policy_type is None:
        raise CheckpointError(
            path,
            f"no 'type' field, so LeRobot cannot tell which policy this is (expected {expected_type!r}).",
        )
    if policy_type != expected_type:
        raise CheckpointError(
            path,
            f"policy type {policy_type!r}, not {expected_type!r}: load it with that policy's class.",
        )
    config_cls = PreTrainedConfig.get_choice_class(expected_type)
    unknown = sorted(set(data) - config_field_names(config_cls) - _CONFIG_KEYS_NOT_FIELDS)
    if unknown:
        from . import __version__

        raise CheckpointError(
            path,
            f"unknown field(s) {unknown} for {expected_type} (lerobot_policy_hetero_act {__version__}); "
            "the checkpoint was written by a different (probably newer) version: install that version, "
            "or remove the field(s) if they are off by default.",
        )
    try:
        PreTrainedConfig.from_pretrained(path.parent)
    except Exception as e:  # draccus.DecodingError, ValueError from __post_init__ checks, ...
        raise CheckpointError(path, f"invalid {expected_type} config: {e}") from e
    return data


# --------------------------------------------------------------------------- pretrained dirs


def verify_pretrained_dir(
    path: str | Path, expected_type: str = POLICY_TYPE, require_processors: bool = False
) -> None:
    """Check a `pretrained_model/` directory (config, weights, optionally processors) before loading."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(path, "not a directory (expected a pretrained_model folder).")
    verify_policy_config(path / CONFIG_FILE, expected_type)
    verify_safetensors(path / MODEL_FILE)
    if require_processors:
        for name in (PREPROCESSOR_FILE, POSTPROCESSOR_FILE):
            read_json_file(path / name)
        for tensors in sorted(path.glob("policy_*processor*.safetensors")):
            verify_safetensors(tensors)


def cached_hub_files(repo_id: str, filenames: tuple[str, ...], **hub_kwargs: Any) -> dict[str, Path]:
    """Files of a Hub repo already in the local Hugging Face cache (nothing is downloaded)."""
    from huggingface_hub import try_to_load_from_cache

    found: dict[str, Path] = {}
    for name in filenames:
        hit = try_to_load_from_cache(
            repo_id,
            name,
            cache_dir=hub_kwargs.get("cache_dir"),
            revision=hub_kwargs.get("revision"),
        )
        if isinstance(hit, str):
            found[name] = Path(hit)
    return found


def verify_pretrained(
    name_or_path: str | Path, expected_type: str = POLICY_TYPE, check_config: bool = True, **hub_kwargs: Any
) -> None:
    """Check a local pretrained_model directory, or the files of a Hub id already in the local cache.

    `check_config=False` when the caller supplies the config (LeRobot's make_policy does): then only
    the weights are read from the checkpoint.
    """
    if Path(name_or_path).is_dir():
        folder = Path(name_or_path)
        if check_config:
            verify_policy_config(folder / CONFIG_FILE, expected_type)
        verify_safetensors(folder / MODEL_FILE)
        return
    cached = cached_hub_files(str(name_or_path), (CONFIG_FILE, MODEL_FILE), **hub_kwargs)
    if check_config and CONFIG_FILE in cached:
        verify_policy_config(cached[CONFIG_FILE], expected_type)
    if MODEL_FILE in cached:
        verify_safetensors(cached[MODEL_FILE])


def checked_from_pretrained[T](
    load: Callable[..., T], name_or_path: str | Path, expected_type: str = POLICY_TYPE, **kwargs: Any
) -> T:
    """Run a `from_pretrained` after verify_pretrained, so bad files fail with their name.

    Files downloaded by `load` itself (first use of a Hub id) are checked after a failure.
    """
    hub_kwargs = {k: kwargs.get(k) for k in ("cache_dir", "revision")}
    check_config = kwargs.get("config") is None
    verify_pretrained(name_or_path, expected_type, check_config, **hub_kwargs)
    try:
        return load(name_or_path, **kwargs)
    except CheckpointError:
        raise
    except Exception:
        verify_pretrained(name_or_path, expected_type, check_config, **hub_kwargs)  # names the file if it can
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
        r"^model\.backbone\.",
        ("vision_backbone", "replace_final_stride_with_dilation", "input_features"),
    ),
    KeyRule(
        r"^model\.vae_encoder",
        ("use_vae", "n_vae_encoder_layers", "latent_dim", "chunk_size", "dim_model", "input_features"),
    ),
    KeyRule(
        r"^model\.",
        (
            "input_features",
            "output_features",
            "dim_model",
            "n_heads",
            "dim_feedforward",
            "n_encoder_layers",
            "n_decoder_layers",
            "latent_dim",
            "chunk_size",
            "use_vae",
            "pre_norm",
        ),
    ),
)
_MAX_KEYS_SHOWN = 4


class IncompatibleCheckpointError(CheckpointError):
    """The checkpoint's tensors do not fit the network the current config builds."""


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def current_config_dict(config: Any) -> dict[str, Any]:
    """The config as its config.json would hold it (LeRobot's draccus encoding)."""
    import draccus
    from lerobot.configs.policies import PreTrainedConfig

    return _as_json(draccus.encode(config, PreTrainedConfig))


def _rule_for(key: str) -> KeyRule | None:
    return next((rule for rule in STATE_DICT_RULES if re.search(rule.pattern, key)), None)


def _differing(fields: tuple[str, ...], saved: dict[str, Any] | None, now: dict[str, Any]) -> list[str]:
    if saved is None:
        return []
    return [f for f in fields if f in saved and f in now and saved[f] != now[f]]


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
        if kind == "missing":
            what = f"tensor(s) {_show_keys(keys)} missing from the checkpoint"
        elif kind == "unexpected":
            what = f"unexpected tensor(s) {_show_keys(keys)} in the checkpoint"
        else:
            what = "tensor(s) " + ", ".join(
                f"{k} (saved {list(reshaped[k][0])}, now {list(reshaped[k][1])})"
                for k in keys[:_MAX_KEYS_SHOWN]
            )
            what += f" and {len(keys) - _MAX_KEYS_SHOWN} more" if len(keys) > _MAX_KEYS_SHOWN else ""
            what += " have another shape"
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
    import logging

    model_file = Path(model_file)
    header = verify_safetensors(model_file)
    stored = {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}
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
    saved_path = model_file.parent / CONFIG_FILE
    try:
        saved_config = read_json_file(saved_path) if saved_path.is_file() else None
    except CheckpointError:
        saved_config = None
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


# --------------------------------------------------------------------------- training checkpoints


def checkpoint_problems(checkpoint_dir: str | Path) -> list[str]:
    """What keeps `checkpoint_dir` (checkpoints/NNNNNN) from being resumed; empty if complete."""
    checkpoint_dir = Path(checkpoint_dir)
    pretrained = checkpoint_dir / PRETRAINED_DIR
    state = checkpoint_dir / TRAINING_STATE_DIR
    problems: list[str] = []
    needed = [pretrained / n for n in (CONFIG_FILE, MODEL_FILE, TRAIN_CONFIG_FILE)]
    needed += [state / n for n in TRAINING_STATE_FILES]
    for path in needed:
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        try:
            if path.suffix == ".safetensors":
                verify_safetensors(path)
            elif path.suffix == ".json":
                read_json_file(path)
        except CheckpointError as e:
            problems.append(str(e))
    if not problems:
        step = read_json_file(state / "training_step.json").get("step")
        if str(step).zfill(len(checkpoint_dir.name)) != checkpoint_dir.name:
            problems.append(f"{state / 'training_step.json'}: step {step} does not match the directory name")
    return problems


def step_checkpoints(output_dir: str | Path) -> list[Path]:
    """checkpoints/NNNNNN directories of a run, oldest first."""
    root = Path(output_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.name.isdigit() and p.is_dir()), key=lambda p: int(p.name))


def find_last_complete_checkpoint(output_dir: str | Path) -> Path:
    """The newest checkpoints/NNNNNN of a run that can be resumed; CheckpointError if there is none."""
    checkpoints = step_checkpoints(output_dir)
    for checkpoint in reversed(checkpoints):
        if not checkpoint_problems(checkpoint):
            return checkpoint
    found = ", ".join(p.name for p in checkpoints) or "none"
    raise CheckpointError(
        Path(output_dir) / CHECKPOINTS_DIR, f"no complete checkpoint to resume from (found: {found})."
    )


def check_resume_checkpoint(checkpoint_dir: str | Path) -> None:
    """Raise a CheckpointError listing what is missing, and which checkpoint to use instead."""
    checkpoint_dir = Path(checkpoint_dir)
    problems = checkpoint_problems(checkpoint_dir)
    if not problems:
        return
    output_dir = checkpoint_dir.resolve().parent.parent
    try:
        hint = f" The last complete checkpoint is {find_last_complete_checkpoint(output_dir)}."
    except CheckpointError:
        hint = " The run has no complete checkpoint."
    raise CheckpointError(
        checkpoint_dir,
        "incomplete checkpoint (training was probably killed while saving it): "
        + "; ".join(problems)
        + "."
        + hint,
    )


def repair_last_link(output_dir: str | Path) -> Path:
    """Point checkpoints/last at the last complete checkpoint (atomically); return that checkpoint."""
    checkpoint = find_last_complete_checkpoint(output_dir)
    link = checkpoint.parent / LAST_LINK
    tmp = checkpoint.parent / f".{LAST_LINK}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(checkpoint.name)
    os.replace(tmp, link)
    return checkpoint


def resume_command(checkpoint: str | Path) -> str:
    """The lerobot-train invocation that resumes from `checkpoint`."""
    train_config = Path(checkpoint) / PRETRAINED_DIR / TRAIN_CONFIG_FILE
    return f"lerobot-train --config_path={train_config} --resume=true"


def main(argv: list[str] | None = None) -> int:
    """Report the last complete checkpoint of a run (and optionally repair checkpoints/last)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", type=Path, help="the run's --output_dir")
    parser.add_argument("--fix-last", action="store_true", help="repoint checkpoints/last at it")
    args = parser.parse_args(argv)
    try:
        checkpoint = repair_last_link(args.output_dir) if args.fix_last else None
        checkpoint = checkpoint or find_last_complete_checkpoint(args.output_dir)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for other in step_checkpoints(args.output_dir):
        problems = checkpoint_problems(other)
        if problems:
            print(f"incomplete: {other} ({'; '.join(problems)})")
    print(f"last complete checkpoint: {checkpoint}")
    print(f"resume with: {resume_command(checkpoint)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
