#!/usr/bin/env python
"""Draw where hetero_act's cameras look at each other: per-edge attention and view-gate weights.

For a hetero_act checkpoint and some frames, either of a dataset episode or of a rollout in the
`aloha_multicam` sim, runs the real policy (through its saved preprocessor) with attention capture
on, and writes for every frame one PNG with

- the camera images (name and role above each),
- per attention edge `query_role <- key_role` and query camera: in spatial mode, the attention of
  the query camera's tokens (averaged over them) on every key-camera grid cell, reshaped to the key
  role's grid and upsampled over the key camera's image; in pooled mode, a bar per key camera,
- the view-gate weight of every camera as a bar chart (if the policy has view gating),

plus `attention.npz` with the raw weights (`<frame tag>__<edge>`: (n_query_tokens, n_key_tokens),
rows sum to 1; `<frame tag>__gate`: (n_cams,)) and `attention_meta.json` (roles, grids, tokens).

    .venv/bin/python scripts/attention_maps.py --policy-path outputs/train/run/checkpoints/last/pretrained_model \\
        --dataset-root outputs/sim_transfer_96x128 --repo-id local/sim_transfer_96x128 \\
        --episode 12 --frames 0,150,300 --out-dir docs/attention
    .venv/bin/python scripts/attention_maps.py --policy-path <ckpt> --env aloha_multicam \\
        --env-task AlohaTransferCube-v0 --frames 0,100,200 --out-dir outputs/attention_rollout
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MUJOCO_GL", "egl")

import matplotlib

matplotlib.use("Agg")  # files only, no display (before pyplot is imported)

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.nn.functional import interpolate
from tqdm import tqdm

IMAGE_PREFIX = "observation.images."


class AttentionMapError(Exception):
    """A bad input (path, episode, frame, policy type); the message says which and what is valid."""


@dataclass
class Frame:
    """One observation to explain: raw (un-normalised) inputs plus a tag used in file names."""

    tag: str
    observation: dict[str, Any]  # batched (1, ...) raw tensors as the preprocessor expects
    images: dict[str, np.ndarray]  # camera key -> HxWx3 float in [0, 1] for display
    title: str


@dataclass
class Capture:
    attention: dict[str, np.ndarray]  # edge -> (n_query_tokens, n_key_tokens)
    gate: np.ndarray | None  # (n_cams,)


# --------------------------------------------------------------------------------------------------
# Policy
# --------------------------------------------------------------------------------------------------


def load_policy(policy_path: Path, device: str):
    """The checkpoint's policy and its saved pre/post-processors; refuses anything but hetero_act."""
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.policies.factory import make_pre_post_processors

    import lerobot_hetero_act  # noqa: F401  (registers hetero_act)
    from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

    if not (policy_path / "config.json").is_file() or not (policy_path / "model.safetensors").is_file():
        raise AttentionMapError(
            f"--policy-path {policy_path}: no config.json + model.safetensors there; pass a "
            "pretrained_model directory, e.g. <output_dir>/checkpoints/last/pretrained_model"
        )
    config = PreTrainedConfig.from_pretrained(policy_path)
    if config.type != "hetero_act":
        raise AttentionMapError(
            f"--policy-path {policy_path}: policy type is {config.type!r}, not 'hetero_act'"
        )
    config.device = device
    policy = HeteroACTPolicy.from_pretrained(policy_path, config=config)
    policy.eval()
    preprocessor, postprocessor = make_pre_post_processors(
        policy.config,
        pretrained_path=str(policy_path),
        preprocessor_overrides={"device_processor": {"device": device}},
    )
    policy.model.camera_fusion.capture_attention = True
    return policy, preprocessor, postprocessor


def capture(policy, preprocessor, frame: Frame) -> Capture:
    """Predict one action chunk for the frame and keep the fusion module's attention and gate."""
    fusion = policy.model.camera_fusion
    with torch.no_grad():
        policy.predict_action_chunk(preprocessor(dict(frame.observation)))
    attention = {edge: w[0].float().cpu().numpy() for edge, w in fusion.last_attention.items()}
    gate = fusion.last_gate[0].float().cpu().numpy() if fusion.last_gate is not None else None
    return Capture(attention=attention, gate=gate)


# --------------------------------------------------------------------------------------------------
# Frame sources
# --------------------------------------------------------------------------------------------------


def to_display(image: torch.Tensor) -> np.ndarray:
    """CHW float [0, 1] (or uint8) tensor -> HxWx3 float array for imshow."""
    array = image.detach().cpu().float()
    if array.max() > 1.5:
        array = array / 255.0
    return array.clamp(0, 1).permute(1, 2, 0).numpy()


def dataset_frames(
    root: Path, repo_id: str, episode: int, frames: Sequence[int], camera_keys: Sequence[str]
) -> Iterator[Frame]:
    """Frames of one recorded episode (indices within the episode), validated before anything runs."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    if not (root / "meta" / "info.json").is_file():
        raise AttentionMapError(f"--dataset-root {root}: no meta/info.json, not a LeRobotDataset directory")
    dataset = LeRobotDataset(repo_id, root=root)
    n_episodes = dataset.meta.total_episodes
    if not 0 <= episode < n_episodes:
        raise AttentionMapError(f"--episode {episode}: the dataset has episodes 0..{n_episodes - 1}")
    meta = dataset.meta.episodes[episode]
    start, length = (
        int(meta["dataset_from_index"]),
        int(meta["dataset_to_index"]) - int(meta["dataset_from_index"]),
    )
    bad = [f for f in frames if not 0 <= f < length]
    if bad:
        raise AttentionMapError(f"--frames {bad}: episode {episode} has frames 0..{length - 1}")
    missing = [k for k in camera_keys if k not in dataset.meta.features]
    if missing:
        raise AttentionMapError(f"the dataset lacks the policy's camera(s) {missing}")
    for index in frames:
        item = dataset[start + index]
        observation = {
            k: v.unsqueeze(0) if isinstance(v, torch.Tensor) else [v]
            for k, v in item.items()
            if k != "action"
        }
        images = {k: to_display(item[k]) for k in camera_keys}
        yield Frame(
            f"episode{episode}_frame{index:04d}", observation, images, f"episode {episode}, frame {index}"
        )


def rollout_frames(
    policy,
    preprocessor,
    postprocessor,
    task: str,
    frames: Sequence[int],
    seed: int,
    camera_keys: Sequence[str],
) -> Iterator[Frame]:
    """Frames of a closed-loop rollout of the policy in `aloha_multicam` (cameras/sizes as trained)."""
    import gymnasium as gym
    from lerobot.envs.utils import preprocess_observation

    import lerobot_hetero_act.sim.gym_envs  # noqa: F401  (registers the env ids)

    shapes = {k: policy.config.image_features[k].shape for k in camera_keys}
    cameras = [k.removeprefix(IMAGE_PREFIX) for k in camera_keys]
    sizes = ",".join(f"{c}={s[1]}x{s[2]}" for c, s in zip(cameras, shapes.values(), strict=True))
    env = gym.make(
        f"hetero_act_aloha/{task}", cameras=cameras, camera_sizes=sizes, obs_type="pixels_agent_pos"
    )
    try:
        raw, _ = env.reset(seed=seed)
        policy.reset()
        for step in range(max(frames) + 1):
            observation = preprocess_observation(raw)
            if step in frames:
                images = {k: to_display(observation[k][0]) for k in camera_keys}
                yield Frame(
                    f"rollout_seed{seed}_step{step:04d}",
                    dict(observation),
                    images,
                    f"rollout seed {seed}, step {step}",
                )
            with torch.no_grad():
                action = postprocessor(policy.select_action(preprocessor(dict(observation))))
            raw, _, terminated, truncated, _ = env.step(action[0].cpu().numpy())
            if terminated or truncated:
                late = [f for f in frames if f > step]
                if late:
                    raise AttentionMapError(f"--frames {late}: the rollout ended at step {step}")
                return
    finally:
        env.close()


# --------------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------------


def short(key: str) -> str:
    return key.removeprefix(IMAGE_PREFIX)


def key_cell_maps(
    weights: np.ndarray, query_index: slice, key_cams: Sequence[str], grid: Sequence[int]
) -> dict[str, np.ndarray]:
    """Mean attention of one query camera's tokens on each key camera's grid cells, as (rows, cols) maps."""
    mean = weights[query_index].mean(axis=0)
    cells = grid[0] * grid[1]
    return {
        cam: mean[i * cells : (i + 1) * cells].reshape(grid[0], grid[1]) for i, cam in enumerate(key_cams)
    }


def upsample(cell_map: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour upsampling of a (rows, cols) map to the image size (cells are image regions)."""
    tensor = torch.from_numpy(cell_map).float()[None, None]
    return interpolate(tensor, size=(height, width), mode="nearest")[0, 0].numpy()


@dataclass
class Layout:
    """Which query camera looks at which key camera(s) through which edge: one panel each."""

    edge: str
    query_cam: str
    query_tokens: slice
    key_cams: list[str]


def panels(fusion, token_counts: dict[str, int]) -> list[Layout]:
    """One panel per (edge, query camera), in edge order; query tokens are contiguous per camera."""
    out = []
    for q_role, k_role in fusion.edges:
        edge = f"{q_role}__from__{k_role}"
        offset = 0
        for cam in fusion.role_cameras[q_role]:
            n = token_counts[cam]
            out.append(Layout(edge, cam, slice(offset, offset + n), list(fusion.role_cameras[k_role])))
            offset += n
    return out


def draw_spatial(
    ax_list, layout: Layout, weights: np.ndarray, grid: Sequence[int], images: dict[str, np.ndarray]
) -> None:
    """The query camera's attention over each key camera's grid cells, drawn over that camera's image.

    Cells are upsampled with nearest-neighbour so the grid stays visible (bilinear would invent
    detail a 2x2 grid does not have); the title gives the peak cell relative to uniform attention,
    because a per-panel colour scale alone makes near-uniform attention look peaked.
    """
    maps = key_cell_maps(weights, layout.query_tokens, layout.key_cams, grid)
    n_keys = weights.shape[1]
    q_role, k_role = layout.edge.split("__from__")
    for ax, cam in zip(ax_list, layout.key_cams, strict=False):
        image = images[cam]
        heat = upsample(maps[cam], image.shape[0], image.shape[1])
        ax.imshow(image)
        ax.imshow(heat, cmap="inferno", alpha=0.55, vmin=0.0, vmax=max(float(heat.max()), 1e-6))
        mass = f", {100 * maps[cam].sum():.0f}% of mass" if len(layout.key_cams) > 1 else ""
        ax.set_title(
            f"{short(layout.query_cam)} ← {short(cam)}\n{q_role} ← {k_role}\n"
            f"peak cell {maps[cam].max() * n_keys:.1f}× uniform{mass}",
            fontsize=6.5,
        )
        ax.axis("off")


def draw_pooled(ax, layout: Layout, weights: np.ndarray) -> None:
    """Bar of attention per key camera (pooled mode: one token per camera)."""
    values = weights[layout.query_tokens].mean(axis=0)
    ax.bar([short(c) for c in layout.key_cams], values, color="tab:orange")
    ax.set_ylim(0, 1.05)
    note = " (one key: softmax = 1)" if len(layout.key_cams) == 1 else ""
    ax.set_title(f"{short(layout.query_cam)} ← {layout.edge}{note}", fontsize=7)
    ax.tick_params(labelsize=7)


def draw_gate(ax, camera_keys: Sequence[str], gate: np.ndarray) -> None:
    ax.bar([short(k) for k in camera_keys], gate, color="tab:blue")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_title("view gate (mean 1 over cameras)", fontsize=8)
    ax.tick_params(labelsize=7)


def render_frame(frame: Frame, cap: Capture, policy, out_path: Path, dpi: int) -> None:
    """One figure: camera row, then one panel per (edge, query camera [, key camera]), then the gate."""
    fusion = policy.model.camera_fusion
    camera_keys = list(policy.config.image_features)
    token_counts = {cam: fusion.extractors[fusion.camera_roles[cam]].num_tokens for cam in camera_keys}
    spatial = fusion.token_mode == "spatial"
    layouts = panels(fusion, token_counts)
    n_panels = sum(len(lay.key_cams) if spatial else 1 for lay in layouts) + (cap.gate is not None)
    cols = max(len(camera_keys), 3)
    rows = 1 + -(-n_panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, cam in zip(axes[0], camera_keys, strict=False):
        ax.imshow(frame.images[cam])
        ax.set_title(f"{short(cam)} ({fusion.camera_roles[cam]})", fontsize=8)
    flat = list(axes[1:].flat)
    i = 0
    for lay in layouts:
        weights = cap.attention[lay.edge]
        if spatial:
            key_role = fusion.camera_roles[lay.key_cams[0]]
            grid = policy.config.role_grids[key_role]
            draw_spatial(flat[i : i + len(lay.key_cams)], lay, weights, grid, frame.images)
            i += len(lay.key_cams)
        else:
            flat[i].axis("on")
            draw_pooled(flat[i], lay, weights)
            i += 1
    if cap.gate is not None:
        flat[i].axis("on")
        draw_gate(flat[i], camera_keys, cap.gate)
    fig.suptitle(f"hetero_act attention ({fusion.token_mode} tokens) — {frame.title}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_path, dpi=dpi)
    plt.close(fig)


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def parse_frames(text: str) -> list[int]:
    try:
        frames = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise AttentionMapError(
            f"--frames {text!r}: expected comma-separated integers such as 0,50,100"
        ) from err
    if not frames or any(f < 0 for f in frames):
        raise AttentionMapError(f"--frames {text!r}: expected non-negative integers such as 0,50,100")
    return sorted(set(frames))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--policy-path", type=Path, required=True, help="a hetero_act pretrained_model directory")
    p.add_argument("--dataset-root", type=Path, help="LeRobotDataset directory (dataset mode)")
    p.add_argument("--repo-id", help="the dataset's repo id (dataset mode)")
    p.add_argument("--episode", type=int, default=0)
    p.add_argument("--env", choices=["aloha_multicam"], help="roll the policy out in this sim instead")
    p.add_argument("--env-task", default="AlohaTransferCube-v0")
    p.add_argument("--seed", type=int, default=0, help="rollout seed (env mode)")
    p.add_argument("--frames", default="0,50,100", help="frame indices in the episode, or rollout steps")
    p.add_argument("--out-dir", type=Path, default=Path("outputs/attention"))
    p.add_argument("--dpi", type=int, default=72)
    p.add_argument("--device", default="cpu")
    return p


def save_arrays(out_dir: Path, captures: dict[str, Capture], policy) -> None:
    """attention.npz (raw weights) and attention_meta.json (how to read them)."""
    arrays = {}
    for tag, cap in captures.items():
        arrays.update({f"{tag}__{edge}": w for edge, w in cap.attention.items()})
        if cap.gate is not None:
            arrays[f"{tag}__gate"] = cap.gate
    np.savez_compressed(out_dir / "attention.npz", **arrays)
    fusion = policy.model.camera_fusion
    meta = {
        "token_mode": fusion.token_mode,
        "cameras": list(policy.config.image_features),
        "camera_roles": fusion.camera_roles,
        "role_cameras": fusion.role_cameras,
        "role_grids": {r: policy.config.role_grids[r] for r in fusion.role_cameras},
        "edges": [f"{q}__from__{k}" for q, k in fusion.edges],
        "frames": list(captures),
        "view_gating": fusion.view_gate is not None,
    }
    (out_dir / "attention_meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def run(args: argparse.Namespace) -> list[Path]:
    frames = parse_frames(args.frames)
    if args.env is None and (args.dataset_root is None or args.repo_id is None):
        raise AttentionMapError(
            "give --dataset-root and --repo-id (dataset mode) or --env aloha_multicam (rollout mode)"
        )
    policy, preprocessor, postprocessor = load_policy(args.policy_path, args.device)
    camera_keys = list(policy.config.image_features)
    if args.env:
        source = rollout_frames(
            policy, preprocessor, postprocessor, args.env_task, frames, args.seed, camera_keys
        )
    else:
        source = dataset_frames(args.dataset_root, args.repo_id, args.episode, frames, camera_keys)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    written, captures = [], {}
    for frame in tqdm(source, total=len(frames), desc="attention maps", unit="frame", file=sys.stderr):
        captures[frame.tag] = capture(policy, preprocessor, frame)
        path = args.out_dir / f"{frame.tag}.png"
        render_frame(frame, captures[frame.tag], policy, path, args.dpi)
        written.append(path)
    save_arrays(args.out_dir, captures, policy)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        written = run(args)
    except AttentionMapError as err:
        print(f"attention_maps: error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"{path} ({path.stat().st_size / 1024:.0f} KB)")
    print(f"{args.out_dir / 'attention.npz'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
