"""LeRobot's async-inference policy server, serving hetero_act too.

    python -m lerobot_hetero_act.async_server --port=8080 [--host=127.0.0.1] [--fps=30] \\
        [--inference_latency=0.033] [--obs_queue_timeout=2]

Takes exactly the flags of `python -m lerobot.async_inference.policy_server` and runs that server
(`lerobot.async_inference.policy_server.serve`, unmodified) for LeRobot's unmodified `RobotClient`.
LeRobot's server accepts only the policy types in its hard-coded
`lerobot.async_inference.constants.SUPPORTED_POLICIES` and never runs plugin discovery, so it refuses
`hetero_act`; this entry point imports the plugin (which registers `policy.type=hetero_act`) and
adds it to that list at startup. Every type LeRobot's own server serves is still served.

For hetero_act the server is LeRobot's `PolicyServer` with three checks added (other types are
served exactly as LeRobot serves them):
- policy instructions whose cameras (after the client's rename map) or state size do not match the
  checkpoint are refused with INVALID_ARGUMENT naming the cameras and the fix, before any observation
  arrives; the server goes on serving;
- the client's camera names are looked up through its rename map (LeRobot looks images up by the
  robot's names, before renaming, and fails with a bare KeyError otherwise);
- an observation the policy refuses is answered with INVALID_ARGUMENT carrying the `ObservationError`
  (LeRobot's server logs it and replies with an empty message, so the robot silently gets no actions).
The checkpoint's preprocessor runs the observation check on the raw observation (checkpoints saved
before that step existed get it added).

One default differs: the server binds to 127.0.0.1 (LeRobot's default is "localhost") unless
`--host` says otherwise.

SECURITY: LeRobot's async-inference protocol unpickles what the network sends (policy instructions
and observations are Python pickles), so anyone who can reach the port can run code on this machine.
Never expose this server to an untrusted network; keep it on 127.0.0.1 or a private link you control.
"""

import functools
import pickle  # nosec: LeRobot's protocol; see SECURITY above
import sys
import threading
from collections.abc import Sequence
from concurrent import futures
from dataclasses import asdict, dataclass, field

import draccus
import grpc
from lerobot.async_inference import constants
from lerobot.async_inference.configs import PolicyServerConfig
from lerobot.async_inference.helpers import RemotePolicyConfig
from lerobot.configs.policies import PreTrainedConfig
from lerobot.transport import services_pb2_grpc
from lerobot.utils.constants import OBS_STATE

import lerobot_hetero_act  # noqa: F401  (registers policy.type=hetero_act)

from .camera_roles import CAMERA_KEY_PREFIX
from .input_checks import ObservationError
from .processor_hetero_act import ensure_observation_check

POLICY_TYPE = "hetero_act"
DEFAULT_HOST = "127.0.0.1"


@dataclass
class HeteroACTPolicyServerConfig(PolicyServerConfig):
    """PolicyServerConfig with the same fields; only the host default is 127.0.0.1."""

    host: str = field(
        default=DEFAULT_HOST,
        metadata={
            "help": "Host address to bind the server to (never an untrusted network: the protocol unpickles)"
        },
    )


def add_hetero_act_to_supported_policies() -> list[str]:
    """Append hetero_act to LeRobot's list of served policy types, where the server reads it."""
    from lerobot.async_inference import policy_server

    for module in (constants, policy_server):
        supported = module.SUPPORTED_POLICIES
        if POLICY_TYPE not in supported:
            supported.append(POLICY_TYPE)
    return list(policy_server.SUPPORTED_POLICIES)


def instruction_mismatch(specs: RemotePolicyConfig, config: PreTrainedConfig) -> str | None:
    """Why a client's policy instructions cannot drive this checkpoint (cameras, state size), or None."""
    rename = specs.rename_map or {}
    client = {rename.get(k, k) for k in specs.lerobot_features if k.startswith(CAMERA_KEY_PREFIX)}
    policy = set(config.image_features)
    problems = []
    missing = sorted(policy - client)
    if missing and config.camera_dropout <= 0:
        problems.append(f"the policy's camera(s) {missing} are not among the robot's")
    if extra := sorted(client - policy):
        problems.append(f"the robot's camera(s) {extra} are unknown to the policy")
    state = specs.lerobot_features.get(OBS_STATE)
    if config.robot_state_feature is not None and state is not None:
        want, got = config.robot_state_feature.shape[0], len(state.get("names") or state["shape"])
        if want != got:
            problems.append(f"the robot's state has {got} values, the policy's {OBS_STATE} {want}")
    if not problems:
        return None
    return (
        f"{specs.pretrained_name_or_path} cannot act on this robot: {'; '.join(problems)}. Policy cameras: "
        f"{sorted(policy)}; robot cameras (after rename_map {rename}): {sorted(client)}. Name the robot's "
        "cameras as the policy's, or pass the client a rename_map from robot to policy camera keys "
        '(e.g. {"observation.images.front": "observation.images.top"}).'
    )


@functools.cache
def hetero_act_server_class() -> type:
    """LeRobot's PolicyServer with hetero_act's checks (module docstring); other types unchanged.

    Built on first use: importing LeRobot's policy_server module creates a `logs/` folder in the
    working directory (its logger is a class attribute), which a mere import of this module must not.
    """
    from lerobot.async_inference import policy_server

    class HeteroACTPolicyServer(policy_server.PolicyServer):
        """LeRobot's PolicyServer with hetero_act's checks (module docstring); other types unchanged."""

        def __init__(self, config: PolicyServerConfig):
            super().__init__(config)
            self._rename_map: dict[str, str] = {}
            self._call = threading.local()

        @property
        def policy_image_features(self):
            """The policy's image features, also under the robot's names that the rename map maps to them."""
            features = dict(super().policy_image_features)
            for robot_key, policy_key in self._rename_map.items():
                if policy_key in features:
                    features[robot_key] = features[policy_key]
            return features

        def SendPolicyInstructions(self, request, context):  # noqa: N802 (gRPC method name)
            specs = pickle.loads(request.data)  # nosec: as LeRobot's server does with the same bytes
            if isinstance(specs, RemotePolicyConfig) and specs.policy_type == POLICY_TYPE and self.running:
                config = PreTrainedConfig.from_pretrained(specs.pretrained_name_or_path)
                if (problem := instruction_mismatch(specs, config)) is not None:
                    self.logger.error(problem)
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            reply = super().SendPolicyInstructions(request, context)
            if isinstance(specs, RemotePolicyConfig) and specs.policy_type == POLICY_TYPE and self.running:
                self._rename_map = dict(specs.rename_map or {})
                ensure_observation_check(self.preprocessor, self.policy.config)
            return reply

        def GetActions(self, request, context):  # noqa: N802 (gRPC method name)
            self._call.context = context
            return super().GetActions(request, context)

        def _predict_action_chunk(self, observation_t):
            """LeRobot's inference; a refused observation becomes the reply's error status (LeRobot's
            GetActions logs an exception and replies with an empty message)."""
            try:
                return super()._predict_action_chunk(observation_t)
            except ObservationError as error:
                self._call.context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
                self._call.context.set_details(str(error))
                raise
            except Exception as error:
                self._call.context.set_code(grpc.StatusCode.INTERNAL)
                self._call.context.set_details(f"{type(error).__name__}: {error}")
                raise

    return HeteroACTPolicyServer


def serve(cfg: PolicyServerConfig) -> None:
    """LeRobot's `policy_server.serve`, with HeteroACTPolicyServer as the servicer."""
    servicer = hetero_act_server_class()(cfg)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    services_pb2_grpc.add_AsyncInferenceServicer_to_server(servicer, server)
    server.add_insecure_port(f"{cfg.host}:{cfg.port}")
    servicer.logger.info(f"PolicyServer started on {cfg.host}:{cfg.port}")
    server.start()
    server.wait_for_termination()


def parse_config(argv: Sequence[str] | None = None) -> PolicyServerConfig:
    """Parse LeRobot's policy-server flags; returns LeRobot's own PolicyServerConfig."""
    cfg = draccus.parse(
        config_class=HeteroACTPolicyServerConfig, args=list(argv) if argv is not None else None
    )
    return PolicyServerConfig(**asdict(cfg))


def main(argv: Sequence[str] | None = None) -> None:
    cfg = parse_config(argv if argv is not None else sys.argv[1:])
    supported = add_hetero_act_to_supported_policies()
    from lerobot.async_inference import policy_server

    policy_server.PolicyServer.logger.info(f"Serving policy types: {supported}")
    if cfg.host not in ("127.0.0.1", "localhost", "::1"):
        policy_server.PolicyServer.logger.warning(
            f"Binding to {cfg.host}: LeRobot's async protocol unpickles what clients send, so anyone who "
            "can reach this port can run code here. Use only on a network you trust."
        )
    serve(cfg)


if __name__ == "__main__":
    main()
