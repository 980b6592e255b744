"""torch.compile sees the whole network as one graph in every token mode and option, in training and
at inference: a graph break would silently fall back to eager for the rest of the forward pass."""

from __future__ import annotations

import pytest
import torch
from lerobot.utils.constants import OBS_IMAGES
from policy_factory import ALOHA_ROLES, make_batch, make_policy


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("token_mode", ["cell_keys", "pooled_keys", "spatial"])
def test_network_compiles_without_graph_breaks(token_mode, training):
    policy = make_policy(
        camera_roles=ALOHA_ROLES,
        token_mode=token_mode,
        view_gating=True,
        camera_dropout=0.5,
        role_image_sizes={"global_overview": [64, 96]},
    )
    policy.train(training)
    batch = make_batch(with_action=training)
    batch[OBS_IMAGES] = [batch[key] for key in policy.config.image_features]
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(policy.model)(batch)
    assert explanation.graph_break_count == 0, [str(r.reason) for r in explanation.break_reasons]
    assert explanation.graph_count == 1
