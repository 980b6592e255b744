"""LeRobot finds hetero_act the way it finds any third-party policy: by distribution name, then by
its naming conventions for the policy class and processor factory."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import torch
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy
from lerobot.policies.factory import make_pre_post_processors
from policy_factory import ALOHA_CAMERAS, CHUNK, make_batch, make_config, make_policy, observation

DISCOVER = """
import json
from lerobot.utils.import_utils import register_third_party_plugins
register_third_party_plugins()
from lerobot.policies.factory import get_policy_class, make_policy_config, _make_processors_from_policy_config
cfg = make_policy_config("hetero_act")
cls = get_policy_class("hetero_act")
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy
print(json.dumps({
    "config": type(cfg).__module__ + "." + type(cfg).__name__,
    "policy": cls.__module__ + "." + cls.__name__,
    "config_is_act": isinstance(cfg, ACTConfig),
    "policy_is_act": issubclass(cls, ACTPolicy),
}))
"""


def test_distribution_is_named_for_lerobot_plugin_discovery():
    dist = importlib.metadata.distribution("lerobot_policy_hetero_act")
    assert dist.metadata["Name"] == "lerobot_policy_hetero_act"
    requires = " ".join(dist.requires or [])
    assert "lerobot" in requires and "0.7" in requires


def test_fresh_interpreter_resolves_hetero_act_after_register_third_party_plugins():
    """No import of our package by hand: only LeRobot's discovery, as lerobot-train does it."""
    out = subprocess.run(
        [sys.executable, "-c", DISCOVER], capture_output=True, text=True, timeout=300, check=True
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {
        "config": "lerobot_hetero_act.configuration_hetero_act.HeteroACTConfig",
        "policy": "lerobot_hetero_act.modeling_hetero_act.HeteroACTPolicy",
        "config_is_act": True,
        "policy_is_act": True,
    }


def test_without_discovery_the_type_is_unknown():
    """The plugin really is what registers the type (guards against a test that cannot fail)."""
    code = "from lerobot.policies.factory import make_policy_config\nmake_policy_config('hetero_act')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "hetero_act" in out.stderr


def test_processors_follow_acts_normalisation_contract_plus_one_observation_check():
    """ACT's steps in ACT's order, with only the observation check added (before the normaliser); a
    valid observation comes out exactly as ACT's pipeline gives it."""
    stats = {
        "observation.state": {"mean": torch.full((14,), 1.0), "std": torch.full((14,), 2.0)},
        "action": {"mean": torch.full((14,), -1.0), "std": torch.full((14,), 0.5)},
    }
    for name in ALOHA_CAMERAS:
        stats[f"observation.images.{name}"] = {
            "mean": torch.full((3, 1, 1), 0.5),
            "std": torch.full((3, 1, 1), 0.25),
        }
    hetero_pre, hetero_post = make_pre_post_processors(make_config(), dataset_stats=stats)
    act_pre, act_post = make_pre_post_processors(make_config(config_cls=ACTConfig), dataset_stats=stats)
    hetero_steps = [type(s).__name__ for s in hetero_pre.steps]
    assert [n for n in hetero_steps if n != "ObservationCheckProcessorStep"] == [
        type(s).__name__ for s in act_pre.steps
    ]
    assert hetero_steps.index("ObservationCheckProcessorStep") < hetero_steps.index("NormalizerProcessorStep")
    assert [type(s).__name__ for s in hetero_post.steps] == [type(s).__name__ for s in act_post.steps]

    obs = observation(make_batch(batch_size=1, with_action=False))
    hetero_out, act_out = hetero_pre(dict(obs)), act_pre(dict(obs))
    for key in obs:
        torch.testing.assert_close(hetero_out[key], act_out[key])
    torch.testing.assert_close(hetero_out["observation.state"], (obs["observation.state"] - 1.0) / 2.0)
    action = torch.zeros(1, 14)
    torch.testing.assert_close(hetero_post(action), act_post(action))
    torch.testing.assert_close(hetero_post(action), torch.full((1, 14), -1.0))


def test_select_action_uses_acts_action_queue():
    policy = make_policy(n_action_steps=3).eval()
    obs = observation(make_batch(batch_size=1, with_action=False))
    chunk = policy.predict_action_chunk(obs)
    policy.reset()
    actions = [policy.select_action(obs) for _ in range(3)]
    torch.testing.assert_close(torch.stack(actions, dim=1), chunk[:, :3])
    assert len(policy._action_queue) == 0


def test_temporal_ensembling_is_acts_weighted_average():
    """Each executed action is ACT's weighted average over every chunk that covers its time step:
    sum_i w_i * chunk_(t-k+i)[k-i] / sum_i w_i with w_i = exp(-coeff * i), i = 0 for the oldest chunk.

    Different observations per step make the chunks differ, and the run goes past chunk_size steps so
    the oldest chunks drop out; the first step alone would equal the raw chunk for any ensembler."""
    coeff, n_steps = 0.3, CHUNK + 3
    policy = make_policy(n_action_steps=1, temporal_ensemble_coeff=coeff).eval()
    assert isinstance(policy, ACTPolicy)
    observations = [observation(make_batch(batch_size=1, seed=s, with_action=False)) for s in range(n_steps)]
    chunks = [policy.predict_action_chunk(obs)[0] for obs in observations]  # (CHUNK, ACTION_DIM) each
    policy.reset()
    executed = [policy.select_action(obs)[0] for obs in observations]

    weights = torch.exp(-coeff * torch.arange(CHUNK, dtype=torch.float32))
    for t in range(n_steps):
        sources = list(range(max(0, t - CHUNK + 1), t + 1))  # chunks predicted at these steps cover t
        stacked = torch.stack([chunks[s][t - s] for s in sources])
        w = weights[: len(sources)].unsqueeze(1)
        expected = (stacked * w).sum(dim=0) / w.sum()
        torch.testing.assert_close(executed[t], expected, rtol=1e-5, atol=1e-5, msg=f"step {t}")
        if t > 0:
            assert not torch.allclose(executed[t], chunks[t][0], atol=1e-4), "no averaging happened"
