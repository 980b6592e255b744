"""The same checkpoint in closed loop through PyTorch and through onnxruntime, on the same seeds.

    python scripts/onnx_closed_loop.py --policy-path <pretrained_model> \
        --task transfer_cube --episodes 10 --seed 100000 --json onnx_closed_loop.json \
        --doc docs/benchmarks.md

Exports the checkpoint (`export.export_onnx`), then per seed in `aloha_multicam` with the policy's
cameras: (1) a lockstep episode driven by PyTorch (`HeteroACTPolicy.select_action` between the
checkpoint's processors, as `lerobot-eval` runs it) in which onnxruntime (`HeteroACTOnnxRunner`) sees
every same observation: the largest action difference; (2) one episode driven by each backend: its
success, max reward and the median time of the calls that predict a chunk. The rendered frames may
differ in their last bits between runs, so two separately driven episodes can drift apart even with
identical policies; the lockstep episode compares the backends on identical inputs. `--doc` writes
the result as a table between the markers below (the rest of the file is kept).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lerobot_hetero_act.checkpoint_checks import open_checkpoint
from lerobot_hetero_act.export import export_onnx
from lerobot_hetero_act.onnx_runner import HeteroACTOnnxRunner

from .doc_sections import splice_section
from .policy_rollout import Episode, make_policy_env, run_episode

SECTION_BEGIN = "<!-- onnx-closed-loop:begin -->"
SECTION_END = "<!-- onnx-closed-loop:end -->"
BACKEND_COLUMNS = (("success", ""), ("max_reward", "g"), ("chunk_ms", ".1f"))  # (key, format) per backend


def chunk_call_ms(episode: Episode, n_action_steps: int) -> float:
    """Median time of the calls that ran the network (every n_action_steps-th, from the first)."""
    return statistics.median(episode.call_ms[::n_action_steps])


def compare_backends(
    policy_path: str, task: str, seeds: list[int], threads: int | None = None
) -> dict[str, Any]:
    opened = open_checkpoint(policy_path)
    policy, preprocessor, postprocessor = opened.policy, opened.preprocessor, opened.postprocessor
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


def render_section(result: dict[str, Any], command: str) -> str:
    """The comparison as markdown: per-seed rows, then successes, largest difference, median latency."""
    backends, n = ("pytorch", "onnxruntime"), len(result["episodes"])
    lines = [
        SECTION_BEGIN,
        "## Closed loop through onnxruntime",
        "",
        f"- Command: `{command}`",
        f"- Checkpoint: `{result['policy_path']}`; task {result['task']}; seeds {result['seeds'][0]}.."
        f"{result['seeds'][-1]}; torch threads {result['torch_threads']}, onnxruntime intra-op threads "
        f"{result['onnx_threads'] or 'default'}.",
        "- *max action diff*: largest |onnxruntime − PyTorch| over every step of the PyTorch-driven episode "
        "(both backends see the same observations, actions in robot units). Success and max reward: one "
        "episode driven by each backend. *chunk ms*: median time of the calls that ran the network.",
        "",
        "| seed | max action diff | success (PyTorch / onnxruntime) | max reward | chunk ms |",
        "| ---: | ---: | --- | --- | --- |",
    ]
    for r in result["episodes"]:
        success, reward, ms = (" / ".join(format(r[k][b], f) for b in backends) for k, f in BACKEND_COLUMNS)
        lines.append(f"| {r['seed']} | {r['max_action_diff']:.2g} | {success} | {reward} | {ms} |")
    ok, ms = result["successes"], result["median_chunk_ms"]
    lines += [
        "",
        f"Successes: PyTorch {ok['pytorch']}/{n}, onnxruntime {ok['onnxruntime']}/{n}; largest action "
        f"difference {result['max_action_diff']:.2g}; median chunk {ms['pytorch']:.1f} ms (PyTorch) vs "
        f"{ms['onnxruntime']:.1f} ms (onnxruntime), {ms['onnxruntime'] / ms['pytorch']:.2f}×.",
        SECTION_END,
    ]
    return "\n".join(lines)


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
    parser.add_argument("--doc", type=Path, help="also write the result as a markdown section here")
    args = parser.parse_args(argv)
    result = compare_backends(
        args.policy_path, args.task, list(range(args.seed, args.seed + args.episodes)), args.threads
    )
    summary = {k: result[k] for k in ("max_action_diff", "successes", "median_chunk_ms")}
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    if args.doc:
        command = shlex.join(
            ["python", "scripts/onnx_closed_loop.py", *(sys.argv[1:] if argv is None else argv)]
        )
        splice_section(args.doc, render_section(result, command), SECTION_BEGIN, SECTION_END)


if __name__ == "__main__":
    main()
