"""Every input path checks what select_action checks: the checkpoint's saved preprocessor (what
lerobot-eval, lerobot-record and the async servers load) refuses a bad raw observation with an
ObservationError before LeRobot's normaliser sees it; 1-channel cameras are accepted as ACT accepts
them; training accepts other image sizes that still fill the role's grid; a camera without
normalisation statistics stops training. (The ONNX runner: test_onnx_export.py; the async server over
real gRPC: test_async_server.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.factory import make_pre_post_processors
from policy_factory import ALOHA_ROLES, STATE_DIM, make_batch, make_config, make_policy, observation

from lerobot_hetero_act.camera_roles import CameraRoleError
from lerobot_hetero_act.input_checks import ObservationError
from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy
from lerobot_hetero_act.processor_hetero_act import (
    OBSERVATION_CHECK_STEP,
    make_hetero_act_pre_post_processors,
)

CAMERAS = {"top": (96, 128), "left_wrist": (64, 80), "right_wrist": (64, 80)}


def stats_for(cameras: dict[str, tuple[int, int]], channels: dict[str, int] | None = None) -> dict:
    channels = channels or {}
    out = {
        f"observation.images.{name}": {
            "mean": torch.full((channels.get(name, 3), 1, 1), 0.5),
            "std": torch.full((channels.get(name, 3), 1, 1), 0.2),
        }
        for name in cameras
    }
    out["observation.state"] = {"mean": torch.zeros(STATE_DIM), "std": torch.ones(STATE_DIM)}
    out["action"] = {"mean": torch.zeros(STATE_DIM), "std": torch.ones(STATE_DIM)}
    return out


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("paths") / "pretrained_model"
    policy = make_policy(CAMERAS, camera_roles=ALOHA_ROLES)
    policy.save_pretrained(folder)
    pre, post = make_hetero_act_pre_post_processors(policy.config, dataset_stats=stats_for(CAMERAS))
    pre.save_pretrained(folder)
    post.save_pretrained(folder)
    return folder


def loaded_preprocessor(folder: Path):
    """The preprocessor as lerobot-eval loads it: LeRobot's factory, from the saved files."""
    config = HeteroACTPolicy.from_pretrained(folder).config
    return make_pre_post_processors(config, pretrained_path=str(folder))[0]


def raw(batch_size: int = 1) -> dict[str, torch.Tensor]:
    return observation(make_batch(CAMERAS, batch_size=batch_size, with_action=False))


def test_the_check_is_saved_with_the_preprocessor_before_the_normaliser(saved):
    steps = json.loads((saved / "policy_preprocessor.json").read_text())["steps"]
    names = [s.get("registry_name") for s in steps]
    assert names.index(OBSERVATION_CHECK_STEP) < names.index("normalizer_processor")
    assert names.index("to_batch_processor") < names.index(OBSERVATION_CHECK_STEP)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        # LeRobot's normaliser broadcasts a (1, 1, H, W) frame to 3 channels and an action comes back.
        (
            "observation.images.top",
            torch.rand(1, 1, 96, 128),
            r"'observation\.images\.top'.*expected 3 channels.*got 1.*grayscale",
        ),
        (
            "observation.images.top",
            torch.rand(1, 4, 96, 128),
            r"'observation\.images\.top'.*got 4 channels.*RGBA.*\[:, :3\]",
        ),
        # 13 state values to a 14-dim checkpoint: otherwise a bare "size of tensor a (13) must match".
        (
            "observation.state",
            torch.zeros(1, STATE_DIM - 1),
            r"'observation\.state': expected shape \(batch, 14\), got \(1, 13\)",
        ),
        (
            "observation.images.angle",
            torch.rand(1, 3, 96, 128),
            r"'observation\.images\.angle'.*not trained with.*--rename_map",
        ),
        (
            "observation.images.top",
            torch.rand(1, 3, 48, 64),
            r"'observation\.images\.top'.*expected image size.*role_image_sizes",
        ),
        (
            "observation.images.top",
            torch.full((1, 3, 96, 128), float("nan")),
            r"'observation\.images\.top' contains 36864 NaN",
        ),
    ],
    ids=["grayscale", "rgba", "state_13_of_14", "extra_camera", "other_size", "nan"],
)
def test_the_saved_preprocessor_refuses_bad_raw_observations(saved, key, value, message):
    preprocessor = loaded_preprocessor(saved)
    obs = raw()
    preprocessor(dict(obs))  # the good observation passes
    with pytest.raises(ObservationError, match=message):
        preprocessor({**obs, key: value})


def test_the_preprocessor_checks_unbatched_robot_frames_after_adding_the_batch_axis(saved):
    preprocessor = loaded_preprocessor(saved)
    single = {k: v[0] for k, v in raw().items()}
    assert preprocessor(dict(single))["observation.images.top"].shape == (1, 3, 96, 128)
    with pytest.raises(ObservationError, match=r"'observation\.images\.top'.*expected 3 channels"):
        preprocessor({**single, "observation.images.top": torch.rand(1, 96, 128)})


def test_a_one_channel_camera_next_to_rgb_cameras_trains_and_acts():
    """A depth camera declared with 1 channel: its frames may come with 1 channel (a robot) or 3 equal
    ones (LeRobot's video decoder); the network uses the first channel, repeated for the backbone."""
    config = make_config(CAMERAS, camera_roles={**ALOHA_ROLES, "depth": "wrist_context"})
    config.input_features["observation.images.depth"] = PolicyFeature(FeatureType.VISUAL, (1, 64, 80))
    torch.manual_seed(0)
    policy = HeteroACTPolicy(config)
    batch = make_batch(CAMERAS, batch_size=2)
    depth = torch.rand(2, 1, 64, 80)
    loss, _ = policy.forward({**batch, "observation.images.depth": depth.expand(-1, 3, -1, -1)})
    loss.backward()
    policy.eval()
    obs = observation(make_batch(CAMERAS, batch_size=2, with_action=False))
    one = policy.predict_action_chunk({**obs, "observation.images.depth": depth})
    three = policy.predict_action_chunk({**obs, "observation.images.depth": depth.expand(-1, 3, -1, -1)})
    torch.testing.assert_close(one, three)
    with pytest.raises(ObservationError, match=r"'observation\.images\.depth'.*expected 1 channels.*got 4"):
        policy.predict_action_chunk({**obs, "observation.images.depth": torch.rand(2, 4, 64, 80)})


def test_training_accepts_another_resolution_that_fills_the_grid_and_inference_stays_strict():
    """A fine-tune at another resolution, or a Resize transform: the role resize applies to the actual
    size; a size too small for the role's grid is refused naming the smallest that fills it."""
    policy = make_policy(CAMERAS, camera_roles=ALOHA_ROLES, role_image_sizes={"global_overview": [64, 96]})
    batch = make_batch(CAMERAS, batch_size=2)
    # top is 96x128 in the config; train on 120x160 frames (resized to its role's 64x96 inside).
    bigger = {**batch, "observation.images.top": torch.rand(2, 3, 120, 160)}
    seen = []
    policy.model.backbone.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape[-2:])))
    loss, _ = policy.forward(bigger)
    assert torch.isfinite(loss) and (64, 96) in seen
    # top's grid is 1x2: a 40x40 frame gives a 2x2 map (fills it), a 20x20 frame a 1x1 map (does not).
    policy.forward({**batch, "observation.images.top": torch.rand(2, 3, 40, 40)})
    with pytest.raises(
        CameraRoleError, match=r"observation\.images\.top.*20x20.*1x1 backbone feature map.*at least 1x33"
    ):
        policy.forward({**batch, "observation.images.top": torch.rand(2, 3, 20, 20)})
    policy.eval()
    obs = observation(make_batch(CAMERAS, batch_size=1, with_action=False))
    with pytest.raises(
        ObservationError, match=r"expected image size .*\(3, 96, 128\).*got \(3, 120, 160\).*role_image_sizes"
    ):
        policy.predict_action_chunk({**obs, "observation.images.top": torch.rand(1, 3, 120, 160)})


def test_training_stops_when_a_camera_has_no_normalisation_statistics():
    """lerobot-train hands the dataset's statistics to make_policy; with --rename_map they stay under
    the dataset's camera names, and the renamed camera would be trained on un-normalised pixels."""
    config = make_policy(CAMERAS, camera_roles=ALOHA_ROLES).config
    stats = stats_for(CAMERAS)
    HeteroACTPolicy(config, dataset_stats=stats)  # every camera has statistics
    stats["observation.images.front"] = stats.pop("observation.images.top")
    with pytest.raises(
        ObservationError,
        match=r"\['observation\.images\.top'\] have no normalisation statistics.*front.*--rename_map",
    ):
        HeteroACTPolicy(config, dataset_stats=stats)
