"""Pre/post-processors for hetero_act: ACT's normalisation contract plus one observation check.

hetero_act changes only how image tokens are formed inside the network, so inputs are normalised
(MEAN_STD for images, state and action by default) and actions un-normalised exactly as for ACT. One
step is added: `ObservationCheckProcessorStep` checks the *raw* observation (after renaming and
batching, before the device move and LeRobot's normaliser) with the checks `select_action` makes.
It is saved in `policy_preprocessor.json`, so every path that loads the checkpoint's preprocessor --
`lerobot-eval`, `lerobot-record`, LeRobot's async server, the ONNX runner -- refuses a bad observation
with an `ObservationError` naming the key, instead of the normaliser broadcasting a grayscale frame
into an answer or failing with a bare tensor-size error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from lerobot.processor import (
    ObservationProcessorStep,
    PolicyAction,
    PolicyProcessorPipeline,
    ProcessorStepRegistry,
    TransitionKey,
    make_default_policy_processor_steps,
    make_policy_processor_pipelines,
)

from .configuration_hetero_act import HeteroACTConfig
from .input_checks import ObservationSpec, check_observation

OBSERVATION_CHECK_STEP = "hetero_act_observation_check"


@dataclass
@ProcessorStepRegistry.register(name=OBSERVATION_CHECK_STEP)
class ObservationCheckProcessorStep(ObservationProcessorStep):
    """Refuses an observation the policy cannot act on (input_checks.check_observation), unchanged
    otherwise. A transition that carries an action is a training batch, checked as training is:
    extra dataset cameras and other image sizes pass (the network checks that a size fills its grid).

    Attributes:
        spec: ObservationSpec.to_dict() of the policy's cameras (C, H, W), state shape and dropout.
    """

    spec: dict[str, Any] = field(default_factory=dict)

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        training = self.transition.get(TransitionKey.ACTION) is not None
        check_observation(observation, ObservationSpec.from_dict(self.spec), inference=not training)
        return observation

    def get_config(self) -> dict[str, Any]:
        return {"spec": self.spec}

    def transform_features(self, features):
        return features


def make_hetero_act_pre_post_processors(
    config: HeteroACTConfig,
    dataset_stats: dict[str, dict[str, torch.Tensor]] | None = None,
) -> tuple[
    PolicyProcessorPipeline[dict[str, Any], dict[str, Any]],
    PolicyProcessorPipeline[PolicyAction, PolicyAction],
]:
    """LeRobot's ACT pipelines (rename, batch, device, normalise; un-normalise, to CPU) with the
    observation check between batching and the device move."""
    steps = make_default_policy_processor_steps(config, dataset_stats, normalizer_device=config.device)
    check = ObservationCheckProcessorStep(spec=ObservationSpec.from_config(config).to_dict())
    return make_policy_processor_pipelines(
        input_steps=[steps.rename_observations, steps.add_batch_dim, check, steps.to_device, steps.normalize],
        output_steps=[steps.unnormalize, steps.to_cpu],
    )


def ensure_observation_check(
    preprocessor: PolicyProcessorPipeline[dict[str, Any], dict[str, Any]], config: HeteroACTConfig
) -> PolicyProcessorPipeline[dict[str, Any], dict[str, Any]]:
    """The checkpoint's preprocessor with the observation check in place: checkpoints saved before the
    step existed get it inserted after batching (or first), so every caller checks the same way."""
    if not any(isinstance(step, ObservationCheckProcessorStep) for step in preprocessor.steps):
        names = [type(step).__name__ for step in preprocessor.steps]
        at = (
            names.index("AddBatchDimensionProcessorStep") + 1
            if "AddBatchDimensionProcessorStep" in names
            else 0
        )
        check = ObservationCheckProcessorStep(spec=ObservationSpec.from_config(config).to_dict())
        preprocessor.steps.insert(at, check)
    return preprocessor
