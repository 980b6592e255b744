"""LeRobot's async-inference policy server, serving hetero_act too.

    python -m lerobot_hetero_act.async_server --port=8080 [--host=127.0.0.1] [--fps=30] \\
        [--inference_latency=0.033] [--obs_queue_timeout=2]

Takes exactly the flags of `python -m lerobot.async_inference.policy_server` and runs that server
(`lerobot.async_inference.policy_server.serve`, unmodified) for LeRobot's unmodified `RobotClient`.
LeRobot's server accepts only the policy types in its hard-coded
`lerobot.async_inference.constants.SUPPORTED_POLICIES` and never runs plugin discovery, so it refuses
`hetero_act`; this entry point imports the plugin (which registers `policy.type=hetero_act`) and
adds it to that list at startup. Every type LeRobot's own server serves is still served.

One default differs: the server binds to 127.0.0.1 (LeRobot's default is "localhost") unless
`--host` says otherwise.

SECURITY: LeRobot's async-inference protocol unpickles what the network sends (policy instructions
and observations are Python pickles), so anyone who can reach the port can run code on this machine.
Never expose this server to an untrusted network; keep it on 127.0.0.1 or a private link you control.
"""

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import draccus
from lerobot.async_inference import constants
from lerobot.async_inference.configs import PolicyServerConfig

import lerobot_hetero_act  # noqa: F401  (registers policy.type=hetero_act)

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
    policy_server.serve(cfg)  # LeRobot's entry point; a PolicyServerConfig is used as given


if __name__ == "__main__":
    main()
