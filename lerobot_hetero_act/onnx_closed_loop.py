"""The same checkpoint in closed loop through PyTorch and through onnxruntime, on the same seeds.

    python -m lerobot_hetero_act.onnx_closed_loop --policy-path <pretrained_model> \
        --task transfer_cube --episodes 10 --seed 100000 --json onnx_closed_loop.json

Exports the checkpoint (`export.export_onnx`), then per seed in `aloha_multicam` with the policy's
cameras: (1) a lockstep episode driven by PyTorch (`HeteroACTPolicy.select_action` between the
checkpoint's processors, as `lerobot-eval` runs it) in which onnxruntime (`HeteroACTOnnxRunner`) sees
every same observation: the largest action difference; (2) one episode driven by each backend: its
success, max reward and the median time of the calls that predict a chunk. The rendered frames may
differ in their last bits between runs, so two separately driven episodes can drift apart even with
identical policies; the lockstep episode compares the backends on identical inputs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .export import export_onnx, load_policy
from .onnx_runner import HeteroACTOnnxRunner
from .sim.policy_rollout import Episode, make_policy_env, run_episode


def chunk_call_ms(episode: Episode, n_action_steps: int) -> float:
    """Median time of the calls that ran the network (every n_action_steps-th, from the first)."""
    return statistics.median(episode.call_ms[::n_action_steps])


def compare_backends(
    policy_path: str, task: str, seeds: list[int], threads: int | None = None
) -> dict[str, Any]:
    from lerobot.policies.factory import make_pre_post_processors

    policy = load_policy(policy_path)
    preprocessor, postprocessor = make_pre_post_processors(policy.config, pretrained_path=policy_path)
    n_steps = policy.config.n_action_steps if policy.config.temporal_ensemble_coeff is None else 1

    def torch_act(observation: dict[str, Any]) -> np.ndarray:
        with torch.no_grad():
            action = postprocessor(policy.select_action(preprocessor(dict(observation))))
        return action[0].cpu().numpy()

    with tempfile.TemporaryDirectory(prefix="onnx_closed_loop_") as tmp:
        onnx_path = export_onnx(policy, Path(tmp) / "policy.onnx")
        runner = HeteroACTOnnxRunner(onnx_path, policy_path, threads=threads)

        def onnx_act(observation: dict[str, Any]) -> np.ndarray:
            return runner.select_action(observation)[0].numpy()

        env = make_policy_env(policy.config, task)
        rows = []
        try:
            for seed in seeds:
                # Lockstep: both backends see every observation of the PyTorch-driven episode.
                diffs: list[float] = []

                def both(observation: dict[str, Any], diffs: list[float] = diffs) -> np.ndarray:
                    eager_action = torch_act(observation)
                    diffs.append(float(np.abs(eager_action - onnx_act(observation)).max()))
                    return eager_action

                def reset_both() -> None:
                    policy.reset()
                    runner.reset()

                run_episode(env, both, seed, reset=reset_both)
                eager = run_episode(env, torch_act, seed, reset=policy.reset)
                onnx = run_episode(env, onnx_act, seed, reset=runner.reset)
                rows.append(
                    {
                        "seed": seed,
                        "max_action_diff": max(diffs),
                        "success": {"pytorch": eager.success, "onnxruntime": onnx.success},
                        "max_reward": {"pytorch": eager.max_reward, "onnxruntime": onnx.max_reward},
                        "chunk_ms": {
                            "pytorch": chunk_call_ms(eager, n_steps),
                            "onnxruntime": chunk_call_ms(onnx, n_steps),
                        },
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
        finally:
            env.close()
    return {
        "policy_path": str(policy_path),
        "task": task,
        "seeds": seeds,
        "torch_threads": torch.get_num_threads(),
        "onnx_threads": threads,
        "episodes": rows,
        "max_action_diff": max(r["max_action_diff"] for r in rows),
        "successes": {b: sum(r["success"][b] for r in rows) for b in ("pytorch", "onnxruntime")},
        "median_chunk_ms": {
            b: statistics.median(r["chunk_ms"][b] for r in rows) for b in ("pytorch", "onnxruntime")
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--policy-path", required=True, help="pretrained_model folder or Hub id (hetero_act)")
    parser.add_argument("--task", default="transfer_cube")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=100_000, help="first seed; episode i uses seed + i")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = compare_backends(
        args.policy_path, args.task, list(range(args.seed, args.seed + args.episodes)), args.threads
    )
    summary = {k: result[k] for k in ("max_action_diff", "successes", "median_chunk_ms")}
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
