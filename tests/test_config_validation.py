"""Bad camera-role settings fail early with a message that names the culprit; good ones parse from the
CLI and from config files the way lerobot-train reads them."""

from __future__ import annotations

from pathlib import Path

import draccus
import pytest
from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.train import TrainPipelineConfig
from policy_factory import DESIGN_RIG_CAMERAS, make_config, make_policy

from lerobot_hetero_act.camera_roles import CameraRoleError, default_role_for_camera
from lerobot_hetero_act.configuration_hetero_act import HeteroACTConfig
from lerobot_hetero_act.sim.cameras import CAMERAS as SIM_CAMERAS

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_unknown_role_names_the_camera_and_the_role():
    with pytest.raises(CameraRoleError, match=r"'observation\.images\.top'.*unknown role 'overview'"):
        make_config(camera_roles={"top": "overview"})


def test_edge_naming_an_undefined_role_names_the_edge():
    with pytest.raises(CameraRoleError, match=r"edge 'wrist_detail<-head'.*role 'head'"):
        make_config(attention_edges=["wrist_detail<-head"])


def test_malformed_and_self_loop_edges():
    with pytest.raises(CameraRoleError, match=r"cannot parse edge 'wrist_detail->global_overview'"):
        make_config(attention_edges=["wrist_detail->global_overview"])
    with pytest.raises(CameraRoleError, match=r"'wrist_detail<-wrist_detail'.*to itself"):
        make_config(attention_edges=["wrist_detail<-wrist_detail"])
    with pytest.raises(CameraRoleError, match=r"listed twice"):
        make_config(attention_edges=["wrist_detail<-global_overview", "wrist_detail<-global_overview"])


def test_mapped_camera_absent_from_the_dataset_names_it():
    roles = {
        "top": "global_overview",
        "left_wrist": "wrist_detail",
        "right_wrist": "wrist_context",
        "angle": "global_overview",
    }
    with pytest.raises(
        CameraRoleError, match=r"'observation\.images\.angle'.*not among the dataset's image features"
    ):
        make_policy(camera_roles=roles)


def test_dataset_camera_without_a_role_names_it_when_roles_are_explicit():
    with pytest.raises(CameraRoleError, match=r"'observation\.images\.right_wrist'.*no role"):
        make_policy(camera_roles={"top": "global_overview", "left_wrist": "wrist_detail"})


@pytest.mark.parametrize(
    ("grid", "shown"),
    [
        ([0, 2], r"\[0, 2\]"),
        ([3], r"\[3\]"),
        ([2, 2, 2], r"\[2, 2, 2\]"),
        ([2.5, 2], r"\[2\.5, 2\]"),
        ([-1, 4], r"\[-1, 4\]"),
    ],
)
def test_bad_grid_sizes_name_the_role(grid, shown):
    with pytest.raises(CameraRoleError, match=rf"role_grids\['wrist_detail'\] = {shown}"):
        make_config(role_grids={"wrist_detail": grid, "wrist_context": [4, 4], "global_overview": [2, 2]})


def test_default_role_missing_from_custom_roles_says_to_map_explicitly():
    with pytest.raises(
        CameraRoleError, match=r"'observation\.images\.left_wrist' defaults to role 'wrist_detail'"
    ):
        make_policy(role_grids={"global_overview": [2, 2]}, attention_edges=[])


def test_bad_token_mode():
    with pytest.raises(CameraRoleError, match=r"token_mode.*'grid'"):
        make_config(token_mode="grid")


def test_name_based_default_roles():
    assert default_role_for_camera("observation.images.left_wrist") == "wrist_detail"
    assert default_role_for_camera("observation.images.gripper_cam") == "wrist_detail"
    assert default_role_for_camera("observation.images.hand_context") == "wrist_context"
    assert default_role_for_camera("observation.images.top") == "global_overview"
    assert default_role_for_camera("observation.images.front") == "global_overview"


def test_resolved_roles_are_written_back_in_camera_order():
    policy = make_policy()
    assert policy.config.camera_roles == {
        "observation.images.top": "global_overview",
        "observation.images.left_wrist": "wrist_detail",
        "observation.images.right_wrist": "wrist_detail",
    }


def test_short_and_full_camera_names_are_equivalent():
    short = make_config(camera_roles={"top": "global_overview"})
    full = make_config(camera_roles={"observation.images.top": "global_overview"})
    assert short.camera_roles == full.camera_roles == {"observation.images.top": "global_overview"}


def test_cli_style_arguments_parse_into_the_config():
    """The same arguments lerobot-train receives (it parses TrainPipelineConfig with draccus)."""
    train_cfg = draccus.parse(
        TrainPipelineConfig,
        args=[
            "--dataset.repo_id=local/any",
            "--policy.type=hetero_act",
            '--policy.camera_roles={"top": "global_overview", "left_wrist": "wrist_detail", "right_wrist": "wrist_context"}',
            '--policy.role_grids={"wrist_detail": [5, 5], "wrist_context": [3, 3], "global_overview": [1, 2]}',
            '--policy.attention_edges=["wrist_detail<-global_overview", "global_overview<-wrist_detail"]',
            "--policy.token_mode=spatial",
        ],
    )
    cfg = train_cfg.policy
    assert isinstance(cfg, HeteroACTConfig)
    assert cfg.camera_roles["observation.images.right_wrist"] == "wrist_context"
    assert cfg.role_grids["global_overview"] == [1, 2]
    assert cfg.parsed_attention_edges == [
        ("wrist_detail", "global_overview"),
        ("global_overview", "wrist_detail"),
    ]
    assert cfg.token_mode == "spatial"


@pytest.mark.parametrize(
    "path", sorted(CONFIGS.glob("policy_*.yaml")) + sorted(CONFIGS.glob("policy_*.json")), ids=str
)
def test_shipped_policy_config_files_parse(path):
    cfg = draccus.parse(PreTrainedConfig, config_path=str(path), args=[])
    assert isinstance(cfg, HeteroACTConfig)
    policy_cams = {k.removeprefix("observation.images."): v for k, v in cfg.camera_roles.items()}
    assert set(policy_cams) <= set(SIM_CAMERAS)
    # A policy built from the shipped roles on ALOHA-named cameras at sizes that fill the grids resolves.
    if set(policy_cams) == set(DESIGN_RIG_CAMERAS):
        policy = make_policy(
            DESIGN_RIG_CAMERAS,
            camera_roles=cfg.camera_roles,
            role_grids=cfg.role_grids,
            attention_edges=cfg.attention_edges,
        )
        assert set(policy.config.camera_roles.values()) <= set(cfg.role_grids)


def test_a_grid_larger_than_the_cameras_feature_map_is_refused_with_the_minimum_size():
    """64x80 images give ResNet-18 a 2x3 map: the design's 6x6 detail grid would only up-sample it."""
    with pytest.raises(CameraRoleError) as err:
        make_policy(
            camera_roles={
                "left_wrist": "wrist_detail",
                "right_wrist": "wrist_context",
                "top": "global_overview",
            },
            role_grids=None,
        )
    message = str(err.value)
    assert "'observation.images.left_wrist' (role 'wrist_detail')" in message
    assert "its images are 64x80, which gives a 2x3 backbone feature map" in message
    assert "record or resize this camera to at least 161x161" in message


@pytest.mark.parametrize(("size", "fits"), [((161, 161), True), ((160, 200), False), ((192, 256), True)])
def test_the_minimum_size_is_exact_for_the_real_backbone(size, fits):
    import torch

    from lerobot_hetero_act.camera_roles import feature_map_size, min_image_size

    assert min_image_size([6, 6], 32) == (161, 161)
    policy = make_policy({"top": size}, role_grids={"global_overview": [1, 1]}, attention_edges=[])
    real = tuple(policy.model.backbone(torch.zeros(1, 3, *size))["feature_map"].shape[-2:])
    assert real == feature_map_size(size, 32)
    assert (min(real) >= 6) == fits


def _sizes(default: str, per_camera: str, cameras: list[str]) -> dict[str, tuple[int, int]]:
    """`120x160` plus `left_wrist=192x256,...` (the recorder's and the eval env's spelling) per camera."""
    sizes = {name: tuple(int(n) for n in default.split("x")) for name in cameras}
    for item in filter(None, per_camera.split(",")):
        name, size = item.split("=")
        sizes[name] = tuple(int(n) for n in size.split("x"))
    return sizes


def test_readme_sim_walkthrough_records_sizes_the_shipped_train_config_accepts():
    """The README's record -> train -> eval walkthrough must not be refused at training start: the
    sizes it records fill the grids of the roles configs/train_hetero_act_aloha_sim.yaml gives, and
    its eval env renders the recorded sizes."""
    import re

    import yaml

    readme = (CONFIGS.parent / "README.md").read_text()
    walkthrough = readme.split("## Simulation: multi-camera ALOHA")[1].split("```bash")[1].split("```")[0]
    cameras = re.search(r"--cameras (\S+)", walkthrough).group(1).split(",")
    recorded = _sizes(
        re.search(r"--image-size (\S+)", walkthrough).group(1),
        re.search(r"--camera-size (\S+)", walkthrough).group(1),
        cameras,
    )
    height = re.search(r"--env\.observation_height=(\d+)", walkthrough).group(1)
    width = re.search(r"--env\.observation_width=(\d+)", walkthrough).group(1)
    rendered = _sizes(
        f"{height}x{width}", re.search(r"--env\.camera_sizes=(\S+)", walkthrough).group(1), cameras
    )
    assert rendered == recorded

    policy = yaml.safe_load((CONFIGS / "train_hetero_act_aloha_sim.yaml").read_text())["policy"]
    cfg = make_config(recorded, camera_roles=policy["camera_roles"], role_grids=None, role_image_sizes=None)
    cfg.validate_features()  # raises CameraRoleError for a camera too small for its role's grid
    assert cfg.camera_roles["observation.images.left_wrist"] == "wrist_detail"
