"""The observation checks are cheap on queue-pop calls: keys, shapes and state every call, the images'
NaN/inf scan once per network pass (a pass over every pixel, which costs more than
a queue pop itself). The errors themselves are tested in test_modes_and_options.py."""

from __future__ import annotations

import pytest
import torch
from policy_factory import ALOHA_ROLES, make_batch, make_policy, observation

from lerobot_hetero_act import input_checks
from lerobot_hetero_act.input_checks import ObservationError, check_observation


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Keys whose values were scanned for NaN/inf, in call order."""
    keys: list[str] = []
    real = input_checks._check_finite

    def counting(key, value):
        keys.append(key)
        return real(key, value)

    monkeypatch.setattr(input_checks, "_check_finite", counting)
    return keys


def test_images_are_scanned_once_per_network_pass_and_never_on_a_queue_pop(scanned):
    policy = make_policy(camera_roles=ALOHA_ROLES, n_action_steps=4).eval()
    obs = observation(make_batch(batch_size=1, with_action=False))
    images = [k for k in obs if k.startswith("observation.images.")]

    policy.select_action(obs)  # predicting step: the network runs
    assert sorted(k for k in scanned if k in images) == sorted(images)
    scanned.clear()
    for _ in range(3):  # queue pops
        policy.select_action(obs)
    assert not [k for k in scanned if k in images]
    assert scanned.count("observation.state") == 3  # the state is tiny: checked every call


def test_queue_pops_still_refuse_wrong_shapes_and_unknown_cameras():
    policy = make_policy(camera_roles=ALOHA_ROLES, n_action_steps=4).eval()
    obs = observation(make_batch(batch_size=1, with_action=False))
    policy.select_action(obs)
    with pytest.raises(ObservationError, match=r"'observation\.images\.top'.*expected image size"):
        policy.select_action(dict(obs, **{"observation.images.top": torch.zeros(1, 3, 48, 64)}))
    with pytest.raises(ObservationError, match=r"'observation\.images\.angle'.*not trained with"):
        policy.select_action(dict(obs, **{"observation.images.angle": torch.zeros(1, 3, 96, 128)}))
    bad = obs["observation.images.top"].clone()
    bad[0, 1, 2, 3] = float("nan")
    policy.reset()  # next call predicts: the NaN image is refused before the network sees it
    with pytest.raises(ObservationError, match=r"'observation\.images\.top' contains 1 NaN/inf"):
        policy.select_action(dict(obs, **{"observation.images.top": bad}))


def test_fast_finite_check_is_exact():
    config = make_policy(camera_roles=ALOHA_ROLES).config
    obs = observation(make_batch(batch_size=1, with_action=False))
    # Large finite values overflow the fast path's sum; the exact check must still accept them.
    huge = torch.full((1, 3, 96, 128), 3e38)
    check_observation(dict(obs, **{"observation.images.top": huge}), config, inference=True)
    half = obs["observation.images.top"].half() * 1000  # a float16 sum would overflow
    check_observation(dict(obs, **{"observation.images.top": half}), config, inference=True)
    for bad_value, count in ((float("nan"), 2), (float("inf"), 1), (float("-inf"), 3)):
        image = obs["observation.images.top"].clone()
        image.view(-1)[:count] = bad_value
        with pytest.raises(ObservationError, match=rf"'observation\.images\.top' contains {count} NaN/inf"):
            check_observation(dict(obs, **{"observation.images.top": image}), config, inference=True)
