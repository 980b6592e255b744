"""Publishing to and loading from the Hugging Face Hub, tested up to the network boundary.

The only fakes are `HfApi.create_repo` / `HfApi.upload_folder` (the two calls that would reach the
network): they record the call and copy the files that would be uploaded. Everything before them is
LeRobot's real push path (`lerobot-train --policy.push_to_hub=true`, run as a subprocess), and
everything after is the real Hugging Face cache: the recorded files are laid out exactly as
`snapshot_download` leaves them, and `from_pretrained("<user>/<repo>")` / `lerobot-eval
--policy.path=<user>/<repo>` load them with HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import draccus
import pytest
import torch
from cli import run_logged, tiny_policy_args
from dataset_factory import ALOHA_TOP_REPO_ID
from eval_actions import assert_same_actions, replay_in_process, run_eval_logging_actions
from huggingface_hub import CommitInfo, HfApi, ModelCard, RepoUrl, constants
from huggingface_hub.errors import OfflineModeIsEnabled
from lerobot.envs.configs import EnvConfig
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.factory import make_pre_post_processors
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.utils.constants import OBS_STATE
from policy_factory import ALOHA_ROLES, DESIGN_RIG_CAMERAS, ONE_CELL_ROLE_GRIDS, make_config, make_policy

from lerobot_hetero_act.camera_roles import camera_key
from lerobot_hetero_act.checkpoint_checks import CheckpointError
from lerobot_hetero_act.model_card import hetero_act_model_card, sim_eval_env_args
from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy
from lerobot_hetero_act.video_backend import video_backend_args

BIN_DIR = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parents[1]
REPO_ID = "testuser/hetero_act_tiny"
CHUNK = 10

# Runs lerobot-train's real main() with HfApi's two network calls replaced by recorders.
RECORDING_LAUNCHER = """
import json, os, shutil, sys
from pathlib import Path
from huggingface_hub import CommitInfo, HfApi, RepoUrl
from huggingface_hub.utils import filter_repo_objects

RECORD = Path(os.environ["HUB_RECORD_DIR"])
CALLS = RECORD / "calls.jsonl"

def _log(entry):
    with CALLS.open("a") as f:
        f.write(json.dumps(entry) + "\\n")

def create_repo(self, repo_id, *, private=None, exist_ok=False, repo_type=None, **kwargs):
    _log({"call": "create_repo", "repo_id": repo_id, "private": private, "exist_ok": exist_ok})
    return RepoUrl(f"https://huggingface.co/{repo_id}")

def upload_folder(self, *, repo_id, folder_path, repo_type=None, commit_message=None,
                  allow_patterns=None, ignore_patterns=None, **kwargs):
    folder = Path(folder_path)
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    names = list(filter_repo_objects(names, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns))
    repo = RECORD / "repo"
    for name in names:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / name, repo / name)
    _log({"call": "upload_folder", "repo_id": repo_id, "repo_type": repo_type,
          "commit_message": commit_message, "files": names})
    return CommitInfo(commit_url=f"https://huggingface.co/{repo_id}/commit/{'0' * 40}",
                      commit_message=commit_message or "", commit_description="", oid="0" * 40)

HfApi.create_repo = create_repo
HfApi.upload_folder = upload_folder

from lerobot.scripts.lerobot_train import main
sys.argv = ["lerobot-train", *sys.argv[1:]]
main()
"""


def recorded_calls(record_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (record_dir / "calls.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def pushed_run(aloha_top_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """lerobot-train (2 steps, `top` at 480x640 like gym-aloha) with push_to_hub=true, uploads recorded."""
    work = tmp_path_factory.mktemp("hub_push")
    record, output_dir = work / "record", work / "run"
    record.mkdir()
    launcher = work / "train_with_recorded_hub.py"
    launcher.write_text(RECORDING_LAUNCHER)
    log = run_logged(
        [
            sys.executable,
            str(launcher),
            *tiny_policy_args(role_grids=None, chunk_size=CHUNK, push_to_hub=True),
            f"--policy.repo_id={REPO_ID}",
            f"--dataset.repo_id={ALOHA_TOP_REPO_ID}",
            f"--dataset.root={aloha_top_dataset}",
            f"--output_dir={output_dir}",
            "--wandb.enable=false",
            "--num_workers=0",
            "--batch_size=2",
            "--steps=2",
            "--save_freq=2",
            *video_backend_args(),
        ],
        cwd=work,
        log_path=work / "train.log",
        env={"HUB_RECORD_DIR": str(record)},
    )
    assert f"Model pushed to https://huggingface.co/{REPO_ID}" in log
    return {"record": record, "checkpoint": output_dir / "checkpoints" / "000002" / "pretrained_model"}


@pytest.fixture(scope="module")
def hub_cache(
    pushed_run: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, build_hf_cache: Callable[..., Path]
) -> Path:
    """A Hugging Face cache holding exactly the uploaded repo; returns the cache root (HF_HUB_CACHE)."""
    cache = tmp_path_factory.mktemp("hf_cache")
    repo = pushed_run["record"] / "repo"
    files = {p.relative_to(repo).as_posix(): p for p in repo.rglob("*") if p.is_file()}
    build_hf_cache(cache, REPO_ID, files)
    return cache


@pytest.mark.e2e
def test_lerobot_train_push_uploads_model_processors_and_card(pushed_run: dict[str, Path]) -> None:
    """`--policy.push_to_hub=true` creates the repo and uploads weights, configs, both processors and
    a card that says what this hetero_act checkpoint is and how to evaluate it."""
    calls = recorded_calls(pushed_run["record"])
    creates = [c for c in calls if c["call"] == "create_repo"]
    uploads = [c for c in calls if c["call"] == "upload_folder"]
    assert creates and all(c["repo_id"] == REPO_ID and c["exist_ok"] for c in creates)
    # LeRobot 0.6.1: the model (with card and train config), then the preprocessor, then the
    # postprocessor; LeRobot's main branch adds a fourth commit with the card and train config.
    assert len(uploads) in (3, 4), uploads
    assert all(u["repo_id"] == REPO_ID and u["repo_type"] == "model" for u in uploads)
    model_upload, pre_upload, post_upload = uploads[:3]
    assert {"model.safetensors", "config.json"} <= set(model_upload["files"])
    every_file = {f for u in uploads for f in u["files"]}
    assert {"train_config.json", "README.md"} <= every_file
    assert "policy_preprocessor.json" in pre_upload["files"]
    assert any(
        f.startswith("policy_preprocessor_") and f.endswith(".safetensors") for f in pre_upload["files"]
    )
    assert "policy_postprocessor.json" in post_upload["files"]
    assert any(
        f.startswith("policy_postprocessor_") and f.endswith(".safetensors") for f in post_upload["files"]
    )

    repo = pushed_run["record"] / "repo"
    config = json.loads((repo / "config.json").read_text())
    assert config["type"] == "hetero_act"
    assert config["camera_roles"] == {"observation.images.top": "global_overview"}
    assert config["repo_id"] == REPO_ID

    card = ModelCard.load(repo / "README.md")
    assert card.data.library_name == "lerobot"
    assert "hetero_act" in card.data.tags
    assert card.data.datasets == [ALOHA_TOP_REPO_ID] or card.data.datasets == ALOHA_TOP_REPO_ID
    text = card.text
    assert "This is a **hetero_act** policy" in text
    assert "| `top` | `observation.images.top` | `global_overview` | 2x2 |" in text
    assert "**Token mode:** `cell_keys`" in text
    assert "**Cross-attention edges (query <- key):** none (a single role)" in text
    assert f"**Training dataset:** `{ALOHA_TOP_REPO_ID}`" in text
    assert f"lerobot-eval \\\n  --policy.path={REPO_ID} \\" in text
    assert "pip install lerobot_policy_hetero_act" in text
    assert "| Training steps | 2 |" in text  # LeRobot's own training table is kept


@pytest.mark.e2e
def test_from_pretrained_by_hub_id_from_offline_cache(
    pushed_run: dict[str, Path], hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`HeteroACTPolicy.from_pretrained("<user>/<repo>")` and the processors load from the HF cache
    offline and predict exactly what the local checkpoint predicts."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    frame = {
        OBS_STATE: torch.linspace(-1, 1, 14),
        camera_key("top"): torch.rand(3, 480, 640, generator=torch.Generator().manual_seed(0)),
        "task": "move the coloured squares",
    }
    chunks = []
    for source in (REPO_ID, str(pushed_run["checkpoint"])):
        policy = HeteroACTPolicy.from_pretrained(source)
        assert policy.config.type == "hetero_act"
        preprocessor, postprocessor = make_pre_post_processors(policy.config, pretrained_path=source)
        with torch.no_grad():
            chunks.append(postprocessor(policy.predict_action_chunk(preprocessor(dict(frame)))))
    assert chunks[0].shape == (1, CHUNK, 14)
    assert torch.equal(chunks[0], chunks[1])


@pytest.mark.e2e
def test_lerobot_eval_by_hub_id_offline(
    hub_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lerobot-eval --policy.path=<user>/<repo>` runs a gym-aloha episode from the offline cache and
    executes exactly the actions the same Hub id, loaded in-process, selects from the same seed."""
    output_dir = tmp_path / "eval"
    env_args = ["--env.type=aloha", "--env.task=AlohaTransferCube-v0", f"--env.episode_length={CHUNK + 2}"]
    log, executed = run_eval_logging_actions(
        [
            f"--policy.path={REPO_ID}",
            *env_args,
            f"--output_dir={output_dir}",
        ],
        cwd=tmp_path,
        log_path=tmp_path / "eval.log",
        env={"HF_HUB_CACHE": str(hub_cache)},
    )
    overall = json.loads((output_dir / "eval_info.json").read_text())["overall"]
    assert overall["n_episodes"] == 1, overall
    assert "End of eval" in log

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert_same_actions(executed, replay_in_process(REPO_ID, env_args, n_steps=CHUNK + 2))


def test_card_generation_needs_no_hub_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """LeRobot's own card asks the Hub to validate (fails offline); hetero_act's does not."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    policy = make_policy({"top": (32, 32), "left_wrist": (24, 32)}, role_grids=ONE_CELL_ROLE_GRIDS)
    with pytest.raises(OfflineModeIsEnabled):
        if hasattr(PreTrainedPolicy, "generate_model_card"):  # LeRobot 0.6.1
            PreTrainedPolicy.generate_model_card(policy, "user/ds", "hetero_act", None, None)
        else:  # LeRobot's main branch: a free function, which hetero_act wraps for its own type only
            from lerobot.common.train_utils import generate_model_card

            generate_model_card(make_config(config_cls=ACTConfig))
    card = policy.generate_model_card("user/ds", "hetero_act", None, ["mine"])
    assert "mine" in card.data.tags and "hetero_act" in card.data.tags
    assert "`wrist_detail<-global_overview`, `global_overview<-wrist_detail`" in card.text


def test_card_lists_roles_edges_token_mode_and_env() -> None:
    """Three cameras, three roles, spatial tokens: every built edge and the training env's eval command."""
    policy = make_policy(DESIGN_RIG_CAMERAS, camera_roles=ALOHA_ROLES, role_grids=None, token_mode="spatial")
    train_config = {"steps": 100, "batch_size": 8, "env": {"type": "aloha", "task": "AlohaInsertion-v0"}}
    card = hetero_act_model_card(policy.config, "user/ds", repo_id="user/policy", train_config=train_config)
    text = card.text
    assert "| `right_wrist` | `observation.images.right_wrist` | `wrist_context` | 4x4 |" in text
    assert "| `left_wrist` | `observation.images.left_wrist` | `wrist_detail` | 6x6 |" in text
    assert "**Token mode:** `spatial`" in text
    edges = ", ".join(f"`{e}`" for e in policy.config.attention_edges)
    assert f"**Cross-attention edges (query <- key):** {edges}" in text
    assert "Configured but not built" not in text
    # gym-aloha renders only `top`: three cameras are evaluated in aloha_multicam at their own sizes.
    assert (
        "--policy.path=user/policy \\\n  --env.type=aloha_multicam --env.task=AlohaInsertion-v0 "
        "--env.cameras=[top,left_wrist,right_wrist] --env.observation_height=64 --env.observation_width=64 "
        "--env.camera_sizes=left_wrist=192x192,right_wrist=128x128 \\"
    ) in text
    assert "| Training steps | 100 |" in text


def load_push_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "push_to_hub_script", REPO_ROOT / "scripts" / "push_to_hub.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SIM_GRIDS = {"wrist_detail": [2, 2], "wrist_context": [2, 2], "global_overview": [2, 2]}


def card_eval_command(text: str) -> str:
    start = text.index("lerobot-eval \\\n")
    return text[start : text.index("```", start)]


@dataclasses.dataclass
class EvalEnvOnly:
    """The `env` part of lerobot-eval's config, parsed the same way (draccus choice by `type`)."""

    env: EnvConfig


def env_config_from_flags(flags: list[str]) -> EnvConfig:
    """The EnvConfig lerobot-eval's parser builds from the card's `--env.*` flags."""
    return draccus.parse(EvalEnvOnly, args=flags).env


@pytest.mark.parametrize(
    "cameras",
    [
        {"top": (240, 320), "left_wrist": (120, 160), "right_wrist": (120, 160)},
        {"left_wrist": (96, 128), "front_close": (96, 128)},
        {"top": (240, 320)},
    ],
    ids=["three-sizes", "no-top", "top-not-480x640"],
)
def test_card_eval_env_renders_exactly_the_policy_cameras(cameras: dict[str, tuple[int, int]]) -> None:
    """For an ALOHA-trained policy the card's eval flags build an env whose observation features are
    the policy's image features (names and sizes), so the command runs instead of raising
    ObservationError in gym-aloha, which renders only `top` at 480x640."""
    from lerobot.envs.utils import env_to_policy_features

    config = make_config(cameras, role_grids=SIM_GRIDS)
    train_config = {"env": {"type": "aloha", "task": "AlohaTransferCube-v0"}}
    text = hetero_act_model_card(config, "user/ds", repo_id="user/p", train_config=train_config).text
    command = card_eval_command(text)
    assert "--env.type=aloha_multicam" in command and "--env.type=aloha " not in command
    flags = [f for f in command.split() if f.startswith("--env.")]
    env_cfg = env_config_from_flags(flags)
    assert env_cfg.type == "aloha_multicam" and env_cfg.task == "AlohaTransferCube-v0"
    env_images = {k: tuple(f.shape) for k, f in env_to_policy_features(env_cfg).items() if "images" in k}
    assert env_images == {k: tuple(f.shape) for k, f in config.image_features.items()}


def test_card_keeps_gym_aloha_for_top_at_480x640_and_suggests_a_sim_without_env() -> None:
    top_only = make_config({"top": (480, 640)}, role_grids=SIM_GRIDS)
    with_env = {"env": {"type": "aloha", "task": "AlohaInsertion-v0"}}
    text = hetero_act_model_card(top_only, "user/ds", repo_id="user/p", train_config=with_env).text
    assert "--env.type=aloha --env.task=AlohaInsertion-v0 \\" in card_eval_command(text)

    multicam = make_config({"top": (96, 128), "left_wrist": (64, 80)}, role_grids=SIM_GRIDS)
    text = hetero_act_model_card(multicam, "user/ds", repo_id="user/p").text  # no env known
    assert "--env.type=<env_type> --env.task=<task>" in card_eval_command(text)
    example = " ".join(sim_eval_env_args(multicam))
    assert f"For example, in the ALOHA simulation (the policy's cameras and sizes): `{example}`." in text
    assert "--env.cameras=[top,left_wrist] --env.observation_height=96 --env.observation_width=128" in example
    assert "--env.camera_sizes=left_wrist=64x80" in example

    other_robot = make_config({"laptop": (96, 128)}, role_grids=SIM_GRIDS)
    assert sim_eval_env_args(other_robot) is None
    text = hetero_act_model_card(other_robot, "user/ds", repo_id="user/p").text
    assert "aloha" not in card_eval_command(text) and "For example, in the ALOHA simulation" not in text


def test_push_script_uploads_folder_with_card(pretrained_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """scripts/push_to_hub.py creates the (private) repo and uploads the folder plus a generated card."""
    calls: list[dict[str, Any]] = []

    def create_repo(self: HfApi, repo_id: str, **kwargs: Any) -> RepoUrl:
        calls.append({"call": "create_repo", "repo_id": repo_id, **kwargs})
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def create_commit(self: HfApi, repo_id: str, operations: list, **kwargs: Any) -> CommitInfo:
        files = {op.path_in_repo: op for op in operations}
        calls.append({"call": "create_commit", "repo_id": repo_id, "files": sorted(files), **kwargs})
        card = files["README.md"].path_or_fileobj
        calls[-1]["card"] = card.decode() if isinstance(card, bytes) else Path(card).read_text()
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/{'0' * 40}",
            commit_message="",
            commit_description="",
            oid="0" * 40,
        )

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "create_commit", create_commit)
    assert (
        load_push_script().main([str(pretrained_dir), "--repo-id", "user/two_cam_policy", "--private"]) == 0
    )

    create, upload = calls
    assert create == {
        "call": "create_repo",
        "repo_id": "user/two_cam_policy",
        "private": True,
        "exist_ok": True,
    }
    assert upload["repo_id"] == "user/two_cam_policy" and upload["repo_type"] == "model"
    assert set(upload["files"]) >= {
        "model.safetensors",
        "config.json",
        "train_config.json",
        "policy_preprocessor.json",
        "policy_postprocessor.json",
        "README.md",
    }
    assert any(f.startswith("policy_preprocessor_") and f.endswith(".safetensors") for f in upload["files"])
    card = upload["card"]
    assert "`wrist_detail<-global_overview`, `global_overview<-wrist_detail`" in card
    assert "**Training dataset:** `user/two_cam`" in card
    assert "--policy.path=user/two_cam_policy" in card
    assert not (pretrained_dir / "README.md").exists(), "the checkpoint folder itself is left untouched"


def test_push_script_rejects_bad_folders(
    pretrained_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing folder, a run dir instead of pretrained_model, a truncated model, a bad repo id: exit 2."""
    script = load_push_script()
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    for p in pretrained_dir.iterdir():
        (truncated / p.name).write_bytes(p.read_bytes())
    model = truncated / "model.safetensors"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    cases = [
        ([str(tmp_path / "nope"), "--repo-id", "u/n"], "does not exist"),
        ([str(run_dir), "--repo-id", "u/n"], "pass its checkpoints/last/pretrained_model folder"),
        ([str(truncated), "--repo-id", "u/n"], f"{model}: truncated safetensors file"),
        ([str(pretrained_dir), "--repo-id", "no_slash"], "must look like <user>/<name>"),
    ]
    for argv, message in cases:
        assert script.main([*argv, "--dry-run"]) == 2
        assert message in capsys.readouterr().err


def test_push_script_dry_run_lists_files(pretrained_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run checks the folder and lists what would be uploaded without creating anything."""
    assert load_push_script().main([str(pretrained_dir), "--repo-id", "user/name", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would upload to https://huggingface.co/user/name:" in out
    for name in ("model.safetensors", "config.json", "policy_preprocessor.json", "README.md"):
        assert f"  {name}\n" in out


def test_push_refuses_non_hetero_act_checkpoint(pretrained_dir: Path) -> None:
    """An ACT (or any other type) folder is refused before anything is uploaded, naming config.json."""
    config_path = pretrained_dir / "config.json"
    config = json.loads(config_path.read_text())
    config["type"] = "act"
    config_path.write_text(json.dumps(config))
    from lerobot_hetero_act.hub import push_pretrained_dir

    with pytest.raises(CheckpointError, match=r"config\.json: policy type 'act', not 'hetero_act'"):
        push_pretrained_dir(pretrained_dir, "user/name", dry_run=True)
