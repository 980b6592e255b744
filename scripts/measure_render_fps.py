#!/usr/bin/env python
"""Measure the sim: render speed per camera, env step time, and the scripted success rate.

    MUJOCO_GL=egl python scripts/measure_render_fps.py render      # ms/image, shadows on/off, 2 sizes
    MUJOCO_GL=egl python scripts/measure_render_fps.py env-step    # aloha_multicam step, 3 cameras
    MUJOCO_GL=egl python scripts/measure_render_fps.py success --task insertion --seeds 0:50

Each prints a table and one JSON line (add --json PATH to keep it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

from lerobot_hetero_act.sim.cameras import CAMERAS, DEFAULT_CAMERAS, parse_cameras, parse_image_size


def _time_per_call(fn, repeats: int, warmup: int = 3, batches: int = 5) -> float:
    """Seconds per call: the fastest of `batches` batches, to damp noise from other processes."""
    for _ in range(warmup):
        fn()
    per_batch = max(repeats // batches, 1)
    best = float("inf")
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(per_batch):
            fn()
        best = min(best, (time.perf_counter() - start) / per_batch)
    return best


def measure_render(cameras: list[str], sizes: list[tuple[int, int]], repeats: int) -> list[dict]:
    """ms per image for each camera x size x {no shadows, shadows, gym-aloha's dm_control path}."""
    from lerobot_hetero_act.sim.rendering import CameraRenderer
    from lerobot_hetero_act.sim.scene import AlohaScene

    scene = AlohaScene("transfer_cube", "joint")
    scene.reset(0)
    rows = []

    def row(camera: str, size: tuple[int, int], mode: str, fn) -> None:
        ms = 1000 * _time_per_call(fn, repeats)
        rows.append({"camera": camera, "size": f"{size[0]}x{size[1]}", "mode": mode, "ms": round(ms, 1)})

    for size in sizes:
        for shadows, antialias, label in (
            (False, False, "ours: no shadows, no MSAA (default)"),
            (False, True, "no shadows, 4x MSAA"),
            (True, True, "shadows + 4x MSAA"),
        ):
            flags = {"shadows": shadows, "reflections": shadows, "antialias": antialias}
            r = CameraRenderer(scene.physics, dict.fromkeys(cameras, size), **flags)
            for cam in cameras:
                row(cam, size, label, lambda c=cam, r=r, sz=size: r.render_camera(c, sz))
            r.close()
        # gym-aloha's own path: dm_control physics.render (shadows, MSAA, new scene per call),
        # on a scene of its own so its GL context is not shared with the renderers above.
        baseline = AlohaScene("transfer_cube", "joint")
        baseline.reset(0)
        for cam in cameras:
            render = lambda c=cam, sz=size, p=baseline.physics: p.render(*sz, camera_id=c)  # noqa: E731
            row(cam, size, "gym-aloha physics.render", render)
    return rows


def measure_env_step(
    cameras: list[str], sizes: list[tuple[int, int]], steps: int, camera_sizes: str = ""
) -> list[dict]:
    """Seconds per env.step of aloha_multicam through LeRobot's make_env (vector env), vs gym-aloha."""
    import gym_aloha  # noqa: F401  (registers gym_aloha/*)
    import gymnasium as gym
    from lerobot.envs.factory import make_env, make_env_config

    import lerobot_hetero_act.sim.env_config  # noqa: F401  (registers --env.type=aloha_multicam)

    rows = []
    runs = [(size, "") for size in sizes] + ([(sizes[0], camera_sizes)] if camera_sizes else [])
    for size, overrides in runs:
        dims = {"observation_height": size[0], "observation_width": size[1]}
        cfg = make_env_config("aloha_multicam", cameras=cameras, camera_sizes=overrides, **dims)
        env = make_env(cfg, n_envs=1)["aloha_multicam"][0]
        obs, _ = env.reset(seed=[0])
        action = np.asarray(obs["agent_pos"])
        ms = 1000 * _time_per_call(lambda env=env, a=action: env.step(a), steps)
        env.close()
        shown = f"{size[0]}x{size[1]}" + (f" ({overrides})" if overrides else "")
        rows.append(dict(env="aloha_multicam", cameras=",".join(cameras), size=shown, ms=round(ms, 1)))
    env = gym.make("gym_aloha/AlohaTransferCube-v0", obs_type="pixels_agent_pos")
    obs, _ = env.reset(seed=0)
    ms = 1000 * _time_per_call(lambda: env.step(obs["agent_pos"]), max(steps // 2, 5))
    env.close()
    stock = "gym_aloha (renders top, angle, front_close)"
    return [*rows, {"env": stock, "cameras": "top", "size": "480x640", "ms": round(ms, 1)}]


def measure_success(task: str, seeds: range, episode_length: int | None) -> dict:
    """Scripted success (max replay reward == 4) per seed, without rendering."""
    from lerobot_hetero_act.sim.scene import AlohaScene
    from lerobot_hetero_act.sim.scripted_rollout import scripted_episode
    from lerobot_hetero_act.sim.task_spec import get_task

    spec = get_task(task)
    mocap, joint = AlohaScene(spec.name, "mocap"), AlohaScene(spec.name, "joint")
    length = episode_length or spec.episode_length
    results = {}
    start = time.perf_counter()
    for seed in seeds:
        _, result = scripted_episode(mocap, joint, seed, length)
        results[seed] = result.max_reward
    elapsed = time.perf_counter() - start
    successes = [s for s, r in results.items() if r >= joint.max_reward]
    return {
        "task": spec.name,
        "seeds": f"{seeds.start}:{seeds.stop}",
        "episode_length": length,
        "success_rate": len(successes) / len(results),
        "successes": len(successes),
        "episodes": len(results),
        "failed_seeds": {s: r for s, r in results.items() if r < joint.max_reward},
        "seconds_per_episode": round(elapsed / len(results), 2),
    }


def _print_rows(rows: list[dict]) -> None:
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    print("  ".join(k.ljust(widths[k]) for k in keys))
    for row in rows:
        print("  ".join(str(row[k]).ljust(widths[k]) for k in keys))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("render", "env-step"):
        p = sub.add_parser(name)
        p.add_argument("--cameras", default=",".join(DEFAULT_CAMERAS), help=f"from: {', '.join(CAMERAS)}")
        p.add_argument("--sizes", default="240x320,480x640", help="comma-separated HxW list")
        p.add_argument("--repeats", type=int, default=30)
        overrides = "left_wrist=120x160,right_wrist=120x160"
        p.add_argument(
            "--camera-sizes", default=overrides, help="env-step: an extra run with these ('' skips)"
        )
    p = sub.add_parser("success")
    p.add_argument("--task", default="transfer_cube")
    p.add_argument("--seeds", default="0:50", help="START:STOP")
    p.add_argument("--episode-length", type=int, default=None)
    for p in sub.choices.values():
        p.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args(argv)

    if args.what == "success":
        start, stop = (int(x) for x in args.seeds.split(":"))
        result: dict | list = measure_success(args.task, range(start, stop), args.episode_length)
        print(
            f"{result['task']}: scripted success {result['successes']}/{result['episodes']} "
            f"({result['success_rate']:.0%}) over seeds {result['seeds']}; failed: {result['failed_seeds']}"
        )
    else:
        cameras = parse_cameras(args.cameras, "--cameras")
        sizes = [parse_image_size(s, "--sizes") for s in args.sizes.split(",")]
        if args.what == "render":
            result = measure_render(cameras, sizes, args.repeats)
        else:
            result = measure_env_step(cameras, sizes, args.repeats, args.camera_sizes)
        _print_rows(result)
    print(json.dumps(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
