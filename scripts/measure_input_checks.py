"""Cost of hetero_act's observation checks per `select_action` call (CPU, 3 cameras at 3x480x640, batch 1).

Prints the median over repeated calls of (a) a queue-pop `select_action` call (the action comes from the
queue; no network pass) and (b) the checks alone as they run on such a call. Short: a few seconds.
Usage: OMP_NUM_THREADS=2 python scripts/measure_input_checks.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import timeit
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from policy_factory import make_batch, make_policy, observation

from lerobot_hetero_act import input_checks

CAMERAS = {"top": (480, 640), "left_wrist": (480, 640), "right_wrist": (480, 640)}


def median_ms(fn, repeats: int) -> float:
    return 1e3 * statistics.median(timeit.repeat(fn, number=1, repeat=repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    policy = make_policy(CAMERAS, n_action_steps=8).eval()
    obs = observation(make_batch(CAMERAS, batch_size=1, with_action=False))
    policy.reset()
    policy.select_action(obs)  # fills the queue (one network pass)
    queued = policy._action_queue[0]

    def pop() -> None:  # refill with the same action so that no call runs the network
        if not policy._action_queue:
            policy._action_queue.extend([queued] * 7)
        policy.select_action(obs)

    pop_ms = median_ms(pop, args.repeats)
    check = input_checks.check_observation
    check_ms = median_ms(lambda: check(obs, policy.config, True, check_image_values=False), args.repeats)
    full_ms = median_ms(lambda: check(obs, policy.config, True), args.repeats)
    print(f"threads={torch.get_num_threads()} cameras=3x(3,480,640) batch=1 repeats={args.repeats}")
    print(f"queue-pop select_action call: {pop_ms:.3f} ms (median)")
    print(f"checks on a queue-pop call:   {check_ms:.3f} ms (median)")
    print(f"full check (predicting step): {full_ms:.3f} ms (median)")


if __name__ == "__main__":
    main()
