"""Checkpoints written by hetero_act v0.1 keep loading and keep predicting the same actions.

tests/compat/hetero_act_v0_1/ is a committed checkpoint (see tests/compat/make_compat_artifact.py: all
non-backbone tensors, both processors, a fixed observation and the action chunk v0.1 predicted
for it; the ResNet-18 backbone is rebuilt from an RNG-free recipe because it is 45 MB). A change that
renames state-dict keys, drops or retypes config fields, or changes what the network computes
fails here. Do not regenerate the artifact to make this pass unless the break is intended.

The checkpoint is loaded the way users load it: `HeteroACTPolicy.from_pretrained(path)` with its
defaults (strict, since a tensor that does not fit must fail rather than stay random) and
`lerobot-eval --policy.path=<path>` in a scripted env with the artifact's cameras (tests/probe_env.py).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import torch
from cli import cli_env
from lerobot.policies.factory import make_pre_post_processors
from safetensors.torch import load_file

from lerobot_hetero_act.camera_roles import CAMERA_KEY_PREFIX, LEGACY_TOKEN_MODES, camera_short_name
from lerobot_hetero_act.checkpoint_checks import IncompatibleCheckpointError
from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

COMPAT_DIR = Path(__file__).resolve().parent / "compat"
ARTIFACT = COMPAT_DIR / "hetero_act_v0_1"
TOLERANCE = 1e-5


def load_maker() -> ModuleType:
    path = COMPAT_DIR / "make_compat_artifact.py"
    spec = importlib.util.spec_from_file_location("make_compat_artifact", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def maker() -> ModuleType:
    return load_maker()


@pytest.fixture(scope="module")
def checkpoint(maker: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The artifact assembled into an ordinary pretrained_model folder."""
    return maker.assemble_checkpoint(ARTIFACT, tmp_path_factory.mktemp("compat") / "pretrained_model")


@pytest.fixture(scope="module")
def loaded(checkpoint: Path) -> tuple[HeteroACTPolicy, object, object]:
    policy = HeteroACTPolicy.from_pretrained(checkpoint)  # the defaults: what users and lerobot-eval get
    preprocessor, postprocessor = make_pre_post_processors(policy.config, pretrained_path=str(checkpoint))
    return policy, preprocessor, postprocessor


def predict(loaded: tuple, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    policy, preprocessor, postprocessor = loaded
    with torch.no_grad():
        chunk = policy.predict_action_chunk(preprocessor(dict(inputs)))
    return {"action_chunk_normalized": chunk.clone(), "action_chunk": postprocessor(chunk)}


def test_artifact_is_small_and_complete(maker: ModuleType) -> None:
    names = {p.name for p in ARTIFACT.iterdir()}
    assert set(maker.FILES.values()) <= names
    assert {"policy_preprocessor.json", "policy_postprocessor.json"} <= names
    assert sum(p.stat().st_size for p in ARTIFACT.iterdir()) < 2_000_000


def test_backbone_recipe_reproduces_recorded_tensors(maker: ModuleType) -> None:
    """The RNG-free recipe gives bit-identical backbone tensors here and now (digest from v0.1)."""
    manifest = json.loads((ARTIFACT / maker.FILES["manifest"]).read_text())
    assert maker.tensors_sha256(maker.build_backbone_tensors(manifest)) == manifest["sha256"]


def test_state_dict_keys_and_shapes_unchanged(maker: ModuleType, checkpoint: Path) -> None:
    """The current network has exactly v0.1's tensors: no renamed, removed, added or reshaped key."""
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["type"] == "hetero_act"
    stored = {k: tuple(v.shape) for k, v in load_file(checkpoint / "model.safetensors").items()}
    from lerobot.configs.policies import PreTrainedConfig

    current = HeteroACTPolicy(PreTrainedConfig.from_pretrained(checkpoint)).state_dict()
    current_shapes = {k: tuple(v.shape) for k, v in current.items()}
    assert sorted(set(stored) - set(current_shapes)) == [], "keys v0.1 checkpoints have but the model lacks"
    assert sorted(set(current_shapes) - set(stored)) == [], "keys the model needs but v0.1 checkpoints lack"
    reshaped = {k: (stored[k], current_shapes[k]) for k in stored if stored[k] != current_shapes[k]}
    assert reshaped == {}


def test_v0_1_checkpoint_predicts_the_recorded_chunk(loaded: tuple) -> None:
    """from_pretrained (defaults) + saved processors reproduce v0.1's action chunk within 1e-5."""
    inputs = load_file(ARTIFACT / "inputs.safetensors")
    expected = load_file(ARTIFACT / "expected.safetensors")
    got = predict(loaded, inputs)
    for key, want in expected.items():
        assert got[key].shape == want.shape, key
        torch.testing.assert_close(got[key], want, atol=TOLERANCE, rtol=TOLERANCE, msg=key)


def test_v0_1_config_fields_keep_their_values(loaded: tuple, tmp_path: Path) -> None:
    """Every field v0.1 wrote is still read with the same value (new fields may only be added); a
    renamed value is read as its new name (token_mode "pooled" is now "pooled_keys")."""
    policy = loaded[0]
    policy.config._save_pretrained(tmp_path)
    resaved = json.loads((tmp_path / "config.json").read_text())
    stored = json.loads((ARTIFACT / "config.json").read_text())
    assert stored["token_mode"] == "pooled" and resaved["token_mode"] == LEGACY_TOKEN_MODES["pooled"]
    stored["token_mode"] = resaved["token_mode"]
    changed = {
        k: (v, resaved.get(k, "<missing>")) for k, v in stored.items() if resaved.get(k, "<missing>") != v
    }
    assert changed == {}


def test_every_camera_changes_the_recorded_chunk(loaded: tuple) -> None:
    """The artifact covers the camera path: blanking any one camera moves the chunk well beyond 1e-5."""
    inputs = load_file(ARTIFACT / "inputs.safetensors")
    base = predict(loaded, inputs)["action_chunk"]
    for key in [k for k in inputs if k.startswith(CAMERA_KEY_PREFIX)]:
        blanked = {**inputs, key: torch.zeros_like(inputs[key])}
        delta = (predict(loaded, blanked)["action_chunk"] - base).abs().max().item()
        assert delta > 1e-3, f"{key} has no effect on the actions (delta {delta})"


def test_v0_1_checkpoint_refuses_an_option_it_was_not_trained_with(checkpoint: Path) -> None:
    """Strict by default: an override that needs tensors v0.1 lacks fails naming the option."""
    from lerobot.configs.policies import PreTrainedConfig

    config = PreTrainedConfig.from_pretrained(checkpoint)
    config.camera_dropout = 0.2
    with pytest.raises(IncompatibleCheckpointError, match=r"camera_dropout > 0 needs absent-camera tokens"):
        HeteroACTPolicy.from_pretrained(checkpoint, config=config)


def _artifact_cameras() -> dict[str, tuple[int, int]]:
    config = json.loads((ARTIFACT / "config.json").read_text())
    return {
        camera_short_name(key): tuple(feature["shape"][1:])
        for key, feature in config["input_features"].items()
        if feature["type"] == "VISUAL"
    }


@pytest.mark.e2e
def test_lerobot_eval_runs_v0_1_checkpoint_and_executes_its_actions(
    checkpoint: Path, loaded: tuple, tmp_path: Path
) -> None:
    """`lerobot-eval --policy.path=<v0.1 checkpoint>` loads it and executes exactly the actions the
    in-process policy selects for the same scripted observations (two action chunks); with
    `--policy.camera_dropout=0.2` it refuses to start, naming the option."""
    from cli import run_logged
    from probe_env import eval_command, eval_env, read_action_log, replay_in_process

    cameras = _artifact_cameras()
    spec = ",".join(f"{name}={h}x{w}" for name, (h, w) in cameras.items())
    config = json.loads((ARTIFACT / "config.json").read_text())
    state_dim = config["input_features"]["observation.state"]["shape"][0]
    n_steps, seed = 2 * config["n_action_steps"], 1000
    log_path = tmp_path / "actions.jsonl"
    args = [
        f"--policy.path={checkpoint}",
        "--env.type=hetero_probe",
        f"--env.cameras={spec}",
        f"--env.state_dim={state_dim}",
        f"--env.action_dim={config['output_features']['action']['shape'][0]}",
        f"--env.episode_length={n_steps}",
        f"--env.action_log={log_path}",
        "--eval.n_episodes=1",
        "--eval.batch_size=1",
        f"--seed={seed}",
        "--policy.device=cpu",
    ]
    run_logged(
        eval_command([*args, f"--output_dir={tmp_path / 'eval'}"]),
        cwd=tmp_path,
        log_path=tmp_path / "eval.log",
        env=eval_env(),
    )
    executed = read_action_log(log_path)
    assert sorted(executed) == [(seed, step) for step in range(n_steps)]
    policy, preprocessor, postprocessor = loaded
    expected = replay_in_process(policy, preprocessor, postprocessor, seed, n_steps, cameras, state_dim)
    for step, want in enumerate(expected):
        torch.testing.assert_close(
            torch.tensor(executed[(seed, step)]), want, atol=TOLERANCE, rtol=TOLERANCE, msg=f"step {step}"
        )
    assert len({tuple(a) for a in executed.values()}) == n_steps, "the scripted observations must matter"

    refused = subprocess.run(
        eval_command([*args, "--policy.camera_dropout=0.2", f"--output_dir={tmp_path / 'eval_refused'}"]),
        cwd=tmp_path,
        env=cli_env(eval_env()),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert refused.returncode != 0
    assert "camera_dropout > 0 needs absent-camera tokens" in refused.stdout + refused.stderr
    assert str(checkpoint / "model.safetensors") in refused.stdout + refused.stderr
