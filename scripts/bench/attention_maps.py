"""Where hetero_act's cameras look at each other: capture per-edge attention and view-gate weights, draw them.

For a checkpoint and some frames (of a dataset episode, or of a closed-loop rollout in the
`aloha_multicam` sim) the real policy runs through its saved preprocessor with attention capture on.
Per frame, one PNG: the camera images (name and role), one panel per attention edge
`query_role <- key_role`, query camera and key camera, and the view-gate weights if the policy has
view gating. In the cell modes (`cell_keys`, the default, and `spatial`) an edge's keys are the key
role's grid cells, so a panel is the query camera's attention (averaged over its tokens: one in
cell_keys, one per cell in spatial) on each key-camera cell, drawn over that camera's image; in
`pooled_keys` mode the keys are whole cameras, so a panel is a bar per key camera.
`attention.npz` keeps the raw weights (`<frame tag>__<edge>`: (n_query_tokens, n_key_tokens), rows
sum to 1; `<frame tag>__gate`: (n_cams,)) and `attention_meta.json` says how to read them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from lerobot_hetero_act.camera_roles import POOLED_KEYS, camera_short_name
from lerobot_hetero_act.checkpoint_checks import CheckpointError, open_checkpoint
from lerobot_hetero_act.hetero_camera_fusion import edge_module_key


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
    attention: dict[str, np.ndarray]  # edge module key -> (n_query_tokens, n_key_tokens)
    gate: np.ndarray | None  # (n_cams,)


@dataclass
class Panel:
    """Which query camera looks at which key camera(s) through which edge."""

    edge: tuple[str, str]  # (query_role, key_role)
    query_cam: str
    query_tokens: slice
    key_cams: list[str]

    @property
    def key(self) -> str:
        return edge_module_key(*self.edge)


def load_policy(policy_path: Path, device: str):
    """The checkpoint's policy (attention capture on) and its saved pre/post-processors."""
    try:
        checkpoint = open_checkpoint(policy_path, device)
    except CheckpointError as err:
        raise AttentionMapError(f"--policy-path {err}") from err
    checkpoint.policy.model.camera_fusion.capture_attention = True
    return checkpoint.policy, checkpoint.preprocessor, checkpoint.postprocessor


def capture(policy, preprocessor, frame: Frame) -> Capture:
    """Predict one action chunk for the frame and keep the fusion module's attention and gate."""
    fusion = policy.model.camera_fusion
    with torch.no_grad():
        policy.predict_action_chunk(preprocessor(dict(frame.observation)))
    attention = {edge: w[0].float().cpu().numpy() for edge, w in fusion.last_attention.items()}
    gate = fusion.last_gate[0].float().cpu().numpy() if fusion.last_gate is not None else None
    return Capture(attention=attention, gate=gate)


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
    from lerobot.utils.constants import ACTION

    if not (root / "meta" / "info.json").is_file():
        raise AttentionMapError(f"--dataset-root {root}: no meta/info.json, not a LeRobotDataset directory")
    dataset = LeRobotDataset(repo_id, root=root)
    if not 0 <= episode < dataset.meta.total_episodes:
        raise AttentionMapError(
            f"--episode {episode}: the dataset has episodes 0..{dataset.meta.total_episodes - 1}"
        )
    meta = dataset.meta.episodes[episode]
    start, end = int(meta["dataset_from_index"]), int(meta["dataset_to_index"])
    bad = [f for f in frames if not 0 <= f < end - start]
    if bad:
        raise AttentionMapError(f"--frames {bad}: episode {episode} has frames 0..{end - start - 1}")
    missing = [k for k in camera_keys if k not in dataset.meta.features]
    if missing:
        raise AttentionMapError(f"the dataset lacks the policy's camera(s) {missing}")
    for index in frames:
        item = dataset[start + index]
        observation = {
            k: v.unsqueeze(0) if isinstance(v, torch.Tensor) else [v] for k, v in item.items() if k != ACTION
        }
        images = {k: to_display(item[k]) for k in camera_keys}
        yield Frame(
            f"episode{episode}_frame{index:04d}", observation, images, f"episode {episode}, frame {index}"
        )


def rollout_frames(
    policy, preprocessor, postprocessor, task: str, frames: Sequence[int], seed: int
) -> list[Frame]:
    """Frames of a closed-loop rollout of the policy in `aloha_multicam` (policy_rollout.run_episode),
    rendering its cameras at its sizes; the frames are taken before the action of their step."""
    from .policy_rollout import make_policy_env, run_episode

    captured: list[Frame] = []
    steps_taken: list[int] = []

    def act(observation: dict[str, Any]) -> np.ndarray:
        step = len(steps_taken)
        steps_taken.append(step)
        if step in frames:
            images = {k: to_display(observation[k][0]) for k in policy.config.image_features}
            tag, title = f"rollout_seed{seed}_step{step:04d}", f"rollout seed {seed}, step {step}"
            captured.append(Frame(tag, dict(observation), images, title))
        with torch.no_grad():
            return postprocessor(policy.select_action(preprocessor(dict(observation))))[0].cpu().numpy()

    env = make_policy_env(policy.config, task)
    try:
        run_episode(env, act, seed, reset=policy.reset, max_steps=max(frames) + 1)
    finally:
        env.close()
    if late := [f for f in frames if f >= len(steps_taken)]:
        raise AttentionMapError(f"--frames {late}: the rollout ended at step {len(steps_taken) - 1}")
    return captured


def panels(fusion) -> list[Panel]:
    """One panel per (edge, query camera), in edge order; a role's query tokens are contiguous per camera."""
    out = []
    for q_role, k_role in fusion.edges:
        offset = 0
        for cam in fusion.role_cameras[q_role]:
            n = fusion.extractors[q_role].num_tokens
            out.append(
                Panel((q_role, k_role), cam, slice(offset, offset + n), list(fusion.role_cameras[k_role]))
            )
            offset += n
    return out


def draw_cells(
    axes, panel: Panel, weights: np.ndarray, grid: Sequence[int], images: dict[str, np.ndarray]
) -> None:
    """The query camera's attention over each key camera's grid cells, drawn over that camera's image.

    Cells are upsampled nearest-neighbour so the grid stays visible (bilinear would invent detail a
    2x2 grid does not have); the title gives the peak cell relative to uniform attention, because a
    per-panel colour scale alone makes near-uniform attention look peaked.
    """
    rows, cols = grid
    # Mean over the panel's query tokens; the keys are the key cameras' cells, camera after camera.
    mean = weights[panel.query_tokens].mean(axis=0).reshape(len(panel.key_cams), rows, cols)
    for ax, cam, cell_map in zip(axes, panel.key_cams, mean, strict=False):
        image = images[cam]
        heat = np.kron(cell_map, np.ones((-(-image.shape[0] // rows), -(-image.shape[1] // cols))))
        ax.imshow(image)
        vmax = max(float(heat.max()), 1e-6)
        ax.imshow(heat[: image.shape[0], : image.shape[1]], cmap="inferno", alpha=0.55, vmin=0.0, vmax=vmax)
        mass = f", {100 * cell_map.sum():.0f}% of mass" if len(panel.key_cams) > 1 else ""
        ax.set_title(
            f"{camera_short_name(panel.query_cam)} ← {camera_short_name(cam)}\n{panel.edge[0]} ← {panel.edge[1]}\n"
            f"peak cell {cell_map.max() * weights.shape[1]:.1f}× uniform{mass}",
            fontsize=6.5,
        )


def draw_bars(
    ax, labels: Sequence[str], values: np.ndarray, title: str, colour: str, reference: float | None
) -> None:
    ax.axis("on")
    ax.bar(labels, values, color=colour)
    if reference is not None:
        ax.axhline(reference, color="grey", lw=0.8, ls="--")
    ax.set_title(title, fontsize=7)
    ax.tick_params(labelsize=7)


def render_frame(frame: Frame, cap: Capture, policy, out_path: Path, dpi: int) -> None:
    """One figure: camera row, then one panel per (edge, query camera [, key camera]), then the gate."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fusion = policy.model.camera_fusion
    camera_keys = list(policy.config.image_features)
    cells = fusion.token_mode != POOLED_KEYS
    layout = panels(fusion)
    n_panels = sum(len(p.key_cams) if cells else 1 for p in layout) + (cap.gate is not None)
    cols = max(len(camera_keys), 3)
    rows = 1 + -(-n_panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, cam in zip(axes[0], camera_keys, strict=False):
        ax.imshow(frame.images[cam])
        ax.set_title(f"{camera_short_name(cam)} ({fusion.camera_roles[cam]})", fontsize=8)
    flat = iter(axes[1:].flat)
    for panel in layout:
        weights = cap.attention[panel.key]
        if cells:
            grid = policy.config.role_grids[panel.edge[1]]
            draw_cells([next(flat) for _ in panel.key_cams], panel, weights, grid, frame.images)
        else:
            note = " (one key: softmax = 1)" if len(panel.key_cams) == 1 else ""
            labels = [camera_short_name(c) for c in panel.key_cams]
            title = f"{camera_short_name(panel.query_cam)} ← {panel.key}{note}"
            draw_bars(next(flat), labels, weights[panel.query_tokens].mean(axis=0), title, "tab:orange", None)
    if cap.gate is not None:
        labels = [camera_short_name(k) for k in camera_keys]
        draw_bars(next(flat), labels, cap.gate, "view gate (mean 1 over cameras)", "tab:blue", 1.0)
    fig.suptitle(f"hetero_act attention ({fusion.token_mode} tokens) — {frame.title}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_path, dpi=dpi)
    plt.close(fig)


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
        "edges": [edge_module_key(q, k) for q, k in fusion.edges],
        "frames": list(captures),
        "view_gating": fusion.view_gate is not None,
    }
    (out_dir / "attention_meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def write_attention_maps(
    policy, preprocessor, frames: Iterator[Frame], out_dir: Path, dpi: int = 72
) -> list[Path]:
    """Capture and draw every frame into `out_dir`, then save the raw weights; returns the PNG paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written, captures = [], {}
    for frame in frames:
        captures[frame.tag] = capture(policy, preprocessor, frame)
        written.append(out_dir / f"{frame.tag}.png")
        render_frame(frame, captures[frame.tag], policy, written[-1], dpi)
    save_arrays(out_dir, captures, policy)
    return written


USAGE = """Draw where hetero_act's cameras look at each other: per-edge attention and view-gate weights.

Writes one PNG per frame, attention.npz and attention_meta.json (see the docstring of scripts/bench/attention_maps.py).

    .venv/bin/python scripts/attention_maps.py --policy-path outputs/train/run/checkpoints/last/pretrained_model \\
        --dataset-root outputs/sim_transfer_96x128 --repo-id local/sim_transfer_96x128 \\
        --episode 12 --frames 0,150,300 --out-dir docs/attention
    .venv/bin/python scripts/attention_maps.py --policy-path <ckpt> --env aloha_multicam \\
        --env-task AlohaTransferCube-v0 --frames 0,100,200 --out-dir outputs/attention_rollout
"""


def parse_frames(text: str) -> list[int]:
    try:
        frames = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError as err:
        raise AttentionMapError(
            f"--frames {text!r}: expected comma-separated integers such as 0,50,100"
        ) from err
    if not frames or frames[0] < 0:
        raise AttentionMapError(f"--frames {text!r}: expected non-negative integers such as 0,50,100")
    return frames


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=USAGE.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
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


def run(args: argparse.Namespace) -> list[Path]:
    frames = parse_frames(args.frames)
    if args.env is None and (args.dataset_root is None or args.repo_id is None):
        raise AttentionMapError(
            "give --dataset-root and --repo-id (dataset mode) or --env aloha_multicam (rollout mode)"
        )
    policy, preprocessor, postprocessor = load_policy(args.policy_path, args.device)
    if args.env:
        source = rollout_frames(policy, preprocessor, postprocessor, args.env_task, frames, args.seed)
    else:
        cameras = list(policy.config.image_features)
        source = dataset_frames(args.dataset_root, args.repo_id, args.episode, frames, cameras)
    progress = tqdm(source, total=len(frames), desc="attention maps", unit="frame", file=sys.stderr)
    return write_attention_maps(policy, preprocessor, progress, args.out_dir, args.dpi)


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
