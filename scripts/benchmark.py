#!/usr/bin/env python
"""Benchmark LeRobot's ACT against hetero_act's modes: cost (timing part) and learning (`--learning`).

Timing part (default): every model x resolution runs in a fresh subprocess, so its peak RSS is its
own, and reports parameters (total and image-token path), encoder token count, inference latency per
action chunk (batch 1), train step time (forward + backward + AdamW, batch 8), the backbone's and the
image-token path's time (separately, so the fusion module's share of the backbone is measured, not
derived) and peak memory. All models use ACT's default dims (dim_model 512, ResNet-18, chunk 100)
with `pretrained_backbone_weights=None` and 3 ALOHA cameras (top, left_wrist, right_wrist).

Learning part (`--learning`): the real `lerobot-train` trains every model with the same seed, steps
and batch on some episodes of a recorded sim dataset; the held-out L1 (normalised actions, masked as
in ACT's loss, no VAE latent) is measured on the other episodes, and, with `--eval-episodes > 0`,
the real `lerobot-eval` rolls each checkpoint out in `aloha_multicam` on the same seeds.

Results merge into `--json` (a part that was not run is kept from the existing file) and the whole
file is rendered as the markdown report `--md`.

    .venv/bin/python scripts/benchmark.py                      # timing part, ~15-25 min on 2 CPU cores
    .venv/bin/python scripts/benchmark.py --skip-timing --learning \\
        --dataset-root outputs/sim_transfer_96x128 --repo-id local/sim_transfer_96x128
    .venv/bin/python scripts/benchmark.py --quick --json /tmp/b.json --md /tmp/b.md   # smoke test
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CAMERAS: tuple[str, ...] = ("top", "left_wrist", "right_wrist")
# Explicit roles (the name-based default would make both wrist cameras wrist_detail).
ALOHA_ROLES: dict[str, str] = {
    "observation.images.left_wrist": "wrist_detail",
    "observation.images.right_wrist": "wrist_context",
    "observation.images.top": "global_overview",
}
STATE_DIM = ACTION_DIM = 14
# model name -> config overrides; "type" picks LeRobot's ACT or hetero_act.
MODELS: dict[str, dict[str, Any]] = {
    "act": {"type": "act"},
    "hetero_pooled": {"type": "hetero_act", "token_mode": "pooled"},
    "hetero_spatial": {"type": "hetero_act", "token_mode": "spatial"},
    "hetero_spatial_gated": {"type": "hetero_act", "token_mode": "spatial", "view_gating": True},
}
# Tiny transformer for --quick: the smoke test checks plumbing and token counts, not speed.
QUICK_DIMS: dict[str, Any] = {
    "dim_model": 64,
    "n_heads": 4,
    "dim_feedforward": 128,
    "n_encoder_layers": 1,
    "n_vae_encoder_layers": 1,
    "latent_dim": 8,
    "chunk_size": 10,
    "n_action_steps": 10,
}
TARGETS = {
    "infer_ratio_480x640": 0.6,
    "train_ratio": 0.8,
    "fusion_share": 0.10,
}


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------


def parse_resolution(text: str) -> tuple[int, int]:
    """ "240x320" -> (240, 320); errors name the bad value because it comes from the command line."""
    match = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"resolution must be HEIGHTxWIDTH such as 240x320, got {text!r}")
    return int(match[1]), int(match[2])


def res_name(height: int, width: int) -> str:
    return f"{height}x{width}"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def log(message: str) -> None:
    """Progress on stderr, so stdout stays clean and the user sees where a long run is."""
    print(f"[benchmark {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM and library versions: timings mean nothing without them."""
    import lerobot
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem_gb = round(kb / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": mem_gb,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lerobot": getattr(lerobot, "__version__", "unknown"),
        "platform": platform.platform(),
    }


def expected_act_tokens(height: int, width: int, n_cams: int = len(CAMERAS), stride: int = 32) -> int:
    """ACT's encoder tokens: latent + state + one per ResNet feature-map cell per camera."""
    cells = -(-height // stride) * -(-width // stride)  # ceil, as the strided convolutions give
    return 2 + n_cams * cells


# --------------------------------------------------------------------------------------------------
# Policy construction (used by the timing worker)
# --------------------------------------------------------------------------------------------------


def build_config(model: str, height: int, width: int, dims: dict[str, Any], device: str):
    """ACTConfig or HeteroACTConfig with ACT's defaults, 3 cameras of one size, no weight download."""
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig

    from lerobot_hetero_act.configuration_hetero_act import HeteroACTConfig

    overrides = dict(MODELS[model])
    policy_type = overrides.pop("type")
    features = {"observation.state": PolicyFeature(FeatureType.STATE, (STATE_DIM,))}
    for cam in CAMERAS:
        features[f"observation.images.{cam}"] = PolicyFeature(FeatureType.VISUAL, (3, height, width))
    kwargs: dict[str, Any] = {
        "input_features": features,
        "output_features": {"action": PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))},
        "pretrained_backbone_weights": None,
        "device": device,
        **dims,
    }
    if policy_type == "act":
        return ACTConfig(**kwargs)
    return HeteroACTConfig(camera_roles=dict(ALOHA_ROLES), **kwargs, **overrides)


def build_policy(model: str, height: int, width: int, dims: dict[str, Any], device: str):
    import torch
    from lerobot.policies.act.modeling_act import ACTPolicy

    from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

    torch.manual_seed(0)
    config = build_config(model, height, width, dims, device)
    cls = ACTPolicy if model == "act" else HeteroACTPolicy
    return cls(config).to(device)


def make_batch(config, batch_size: int, height: int, width: int, device: str, with_action: bool):
    """Random normalised observations (timings do not depend on pixel values)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    batch = {"observation.state": torch.randn(batch_size, STATE_DIM, generator=gen)}
    for cam in CAMERAS:
        batch[f"observation.images.{cam}"] = torch.randn(batch_size, 3, height, width, generator=gen)
    if with_action:
        batch["action"] = torch.randn(batch_size, config.chunk_size, ACTION_DIM, generator=gen)
        batch["action_is_pad"] = torch.zeros(batch_size, config.chunk_size, dtype=torch.bool)
    return {k: v.to(device) for k, v in batch.items()}


def image_path_params(policy) -> int:
    """Parameters of the image-token path after the backbone: the fusion module, or ACT's 1x1 conv."""
    module = getattr(policy.model, "camera_fusion", None) or policy.model.encoder_img_feat_input_proj
    return sum(p.numel() for p in module.parameters())


# --------------------------------------------------------------------------------------------------
# Timing worker (one model x resolution per process)
# --------------------------------------------------------------------------------------------------


def time_calls(fn: Callable[[], Any], warmup: int, repeats: int, device: str) -> list[float]:
    """Wall-clock seconds of `repeats` calls after `warmup` untimed ones (CUDA-synchronised)."""
    import torch

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def peak_memory_mb(device: str) -> float:
    """Peak RSS of this process (Linux reports KiB), or CUDA's peak allocation on a GPU."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def count_encoder_tokens(policy, batch) -> int:
    """Tokens entering ACT's transformer encoder, read by a hook (not computed from a formula)."""
    import torch

    seen: list[int] = []
    handle = policy.model.encoder.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[0]))
    try:
        with torch.no_grad():
            policy.predict_action_chunk(batch)
    finally:
        handle.remove()
    return seen[0]


def backbone_and_image_path(policy, images: list) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Two closures: the backbone pass as the model runs it, and the image-token path on its output.

    hetero_act: `camera_feature_maps` (equal-size cameras batched) then `camera_fusion`.
    ACT: one backbone call per camera (as ACT.forward does), then per camera its 2-D sine position
    embedding and 1x1 input projection.
    """
    model = policy.model
    if hasattr(model, "camera_fusion"):
        maps = model.camera_feature_maps(images)
        return (lambda: model.camera_feature_maps(images)), (lambda: model.camera_fusion(maps))
    maps_list = [model.backbone(img)["feature_map"] for img in images]

    def act_backbone() -> list:
        return [model.backbone(img)["feature_map"] for img in images]

    def act_image_path() -> list:
        out = []
        for fm in maps_list:
            pos = model.encoder_cam_feat_pos_embed(fm).to(dtype=fm.dtype)
            out.append((model.encoder_img_feat_input_proj(fm).flatten(2), pos.flatten(2)))
        return out

    return act_backbone, act_image_path


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure one model at one resolution; returns the result row."""
    import torch

    torch.set_num_threads(spec["threads"])
    device = spec["device"]
    height, width = spec["height"], spec["width"]
    name = f"{spec['model']} @ {res_name(height, width)}"
    policy = build_policy(spec["model"], height, width, spec["dims"], device)
    config = policy.config
    row: dict[str, Any] = {
        "model": spec["model"],
        "resolution": res_name(height, width),
        "params_total": sum(p.numel() for p in policy.parameters()),
        "params_image_path": image_path_params(policy),
    }

    policy.eval()
    obs = make_batch(config, 1, height, width, device, with_action=False)
    row["encoder_tokens"] = count_encoder_tokens(policy, obs)
    log(f"{name}: inference x{spec['infer_repeats']} (batch 1)")
    with torch.no_grad():
        times = time_calls(
            lambda: policy.predict_action_chunk(obs), spec["warmup"], spec["infer_repeats"], device
        )
        row["infer_ms"] = 1000 * median(times)
        row["infer_n"] = len(times)
        images = [obs[key] for key in config.image_features]
        backbone_fn, image_fn = backbone_and_image_path(policy, images)
        bb = time_calls(backbone_fn, spec["warmup"], spec["infer_repeats"], device)
        ip = time_calls(image_fn, spec["warmup"], spec["infer_repeats"], device)
    row["backbone_ms"] = 1000 * median(bb)
    row["image_path_ms"] = 1000 * median(ip)
    row["image_path_share_of_backbone"] = row["image_path_ms"] / row["backbone_ms"]
    row["peak_mem_infer_mb"] = peak_memory_mb(device)

    policy.train()
    batch = make_batch(config, spec["train_batch"], height, width, device, with_action=True)
    optimizer = torch.optim.AdamW(
        policy.get_optim_params(), lr=config.optimizer_lr, weight_decay=config.optimizer_weight_decay
    )

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss, _ = policy.forward(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 10.0)  # lerobot-train's default clip
        optimizer.step()

    log(f"{name}: train steps x{spec['train_repeats']} (batch {spec['train_batch']})")
    times = time_calls(train_step, spec["train_warmup"], spec["train_repeats"], device)
    row["train_s"] = median(times)
    row["train_n"] = len(times)
    row["train_batch"] = spec["train_batch"]
    row["peak_mem_train_mb"] = peak_memory_mb(device)
    return row


# --------------------------------------------------------------------------------------------------
# Timing orchestration
# --------------------------------------------------------------------------------------------------


@dataclass
class TimingPlan:
    models: list[str]
    resolutions: list[tuple[int, int]]
    dims: dict[str, Any]
    infer_repeats: int
    train_repeats: dict[str, int]  # per resolution name
    warmup: int
    train_warmup: int
    train_batch: int
    threads: int
    device: str
    isolate: bool = True  # a fresh subprocess per model x resolution (False only for --quick)
    specs: list[dict[str, Any]] = field(default_factory=list)

    def build_specs(self) -> list[dict[str, Any]]:
        self.specs = [
            {
                "model": model,
                "height": h,
                "width": w,
                "dims": self.dims,
                "infer_repeats": self.infer_repeats,
                "train_repeats": self.train_repeats[res_name(h, w)],
                "warmup": self.warmup,
                "train_warmup": self.train_warmup,
                "train_batch": self.train_batch,
                "threads": self.threads,
                "device": self.device,
            }
            for h, w in self.resolutions
            for model in self.models
        ]
        return self.specs


def run_specs_in_subprocess(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run measurements in one fresh interpreter; its stderr (progress) passes through."""
    names = ", ".join(f"{s['model']} @ {res_name(s['height'], s['width'])}" for s in specs)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            json.dumps(specs),
            "--worker-out",
            str(out),
        ]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(specs[0]["threads"])}
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0 or not out.is_file():
            raise RuntimeError(
                f"benchmark worker for {names} failed (exit {proc.returncode}); see its stderr above."
            )
        rows = json.loads(out.read_text())
    for row in rows:
        row["wall_s"] = (time.perf_counter() - start) / len(rows)
    return rows


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Ratios to ACT at the same resolution (the figures the targets are stated in)."""
    act = {r["resolution"]: r for r in rows if r["model"] == "act"}
    for row in rows:
        ref = act.get(row["resolution"])
        if ref is None:
            continue
        row["infer_ratio_to_act"] = row["infer_ms"] / ref["infer_ms"]
        row["train_ratio_to_act"] = row["train_s"] / ref["train_s"]
        row["tokens_ratio_to_act"] = row["encoder_tokens"] / ref["encoder_tokens"]


def run_timing(plan: TimingPlan) -> dict[str, Any]:
    from tqdm import tqdm

    rows: list[dict[str, Any]] = []
    specs = plan.build_specs()
    start = time.perf_counter()
    load_start = os.getloadavg()  # recorded: a busy machine makes every timing here suspect
    # One fresh process per config, so that each peak RSS is that config's own; --quick shares one.
    groups = [[spec] for spec in specs] if plan.isolate else [specs]
    for group in tqdm(groups, desc="timing configs", unit="process", file=sys.stderr):
        log(f"start {', '.join(s['model'] + ' @ ' + res_name(s['height'], s['width']) for s in group)}")
        rows.extend(run_specs_in_subprocess(group))
    add_ratios(rows)
    settings = {k: v for k, v in asdict(plan).items() if k != "specs"}
    settings["resolutions"] = [res_name(h, w) for h, w in plan.resolutions]
    return {
        "settings": settings,
        "rows": rows,
        "duration_s": time.perf_counter() - start,
        "load_avg_1_5_15_min": {"start": load_start, "end": os.getloadavg()},
    }


# --------------------------------------------------------------------------------------------------
# Learning part
# --------------------------------------------------------------------------------------------------


@dataclass
class LearningPlan:
    dataset_root: Path
    repo_id: str
    train_episodes: list[int]
    heldout_episodes: list[int]
    models: list[str]
    steps: int
    batch_size: int
    seed: int
    dims: dict[str, Any]
    eval_episodes: int
    eval_seed: int
    eval_episode_length: int | None
    l1_stride: int
    work_dir: Path
    reuse_checkpoints: bool = False
    threads: int | None = None
    task: str = "AlohaTransferCube-v0"


def policy_cli_args(model: str, dims: dict[str, Any]) -> list[str]:
    """`--policy.*` flags for lerobot-train (draccus spells None as null, dicts as JSON)."""
    overrides = dict(MODELS[model])
    args = [f"--policy.type={overrides.pop('type')}"]
    if model != "act":
        args.append(f"--policy.camera_roles={json.dumps(ALOHA_ROLES)}")
    for key, value in {**dims, **overrides}.items():
        args.append(f"--policy.{key}={str(value).lower() if isinstance(value, bool) else value}")
    return [
        *args,
        "--policy.pretrained_backbone_weights=null",
        "--policy.device=cpu",
        "--policy.push_to_hub=false",
    ]


def cli_env(threads: int | None = None) -> dict[str, str]:
    """Offline env for the LeRobot CLIs; `threads` pins torch's intra-op threads (OMP_NUM_THREADS).

    One thread is much steadier than two on shared cores: with two, a descheduled thread stalls the
    other at every parallel region (measured here: 12-16 s per ACT step instead of ~2 s).
    """
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MUJOCO_GL": "egl", "WANDB_MODE": "disabled"}
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def run_logged(cmd: list[str], log_path: Path, what: str, threads: int | None = None) -> float:
    """Run a CLI with its output in `log_path`; returns wall seconds; raises with the log's tail."""
    log(f"{what}: {shlex.join([Path(cmd[0]).name, *cmd[1:]])}")
    start = time.perf_counter()
    with log_path.open("w") as fh:
        proc = subprocess.run(cmd, env=cli_env(threads), cwd=REPO, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text().splitlines()[-40:])
        raise RuntimeError(f"{what} failed (exit {proc.returncode}); log {log_path}:\n{tail}")
    return time.perf_counter() - start


def train_model(plan: LearningPlan, model: str) -> tuple[Path, float]:
    """lerobot-train on the training episodes; returns (pretrained_model dir, wall seconds)."""
    out = plan.work_dir / f"train_{model}"
    last = out / "checkpoints" / "last" / "pretrained_model"
    previous = plan.work_dir / f"train_{model}.json"
    if plan.reuse_checkpoints and (last / "model.safetensors").is_file() and previous.is_file():
        log(f"{model}: reusing {last} (trained by an earlier run with the same plan)")
        return last, json.loads(previous.read_text())["train_wall_s"]
    if out.exists():
        import shutil

        shutil.rmtree(out)
    cmd = [
        str(Path(sys.executable).parent / "lerobot-train"),
        *policy_cli_args(model, plan.dims),
        f"--dataset.repo_id={plan.repo_id}",
        f"--dataset.root={plan.dataset_root}",
        f"--dataset.episodes={json.dumps(plan.train_episodes)}",
        f"--output_dir={out}",
        f"--steps={plan.steps}",
        f"--batch_size={plan.batch_size}",
        f"--seed={plan.seed}",
        f"--save_freq={plan.steps}",
        f"--log_freq={max(1, plan.steps // 10)}",
        "--num_workers=0",
        "--wandb.enable=false",
    ]
    seconds = run_logged(cmd, plan.work_dir / f"train_{model}.log", f"lerobot-train {model}", plan.threads)
    previous.write_text(json.dumps({"train_wall_s": seconds, "cmd": cmd}))
    return last, seconds


def final_train_l1(log_path: Path) -> float | None:
    """The L1 term of the last logged training step (lerobot-train's `loss` adds kl_weight x KLD)."""
    losses = re.findall(r"step:\S+ .*?\bl1_loss:([-+\d.eE]+)", log_path.read_text())
    return float(losses[-1]) if losses else None


def heldout_l1(plan: LearningPlan, checkpoint: Path) -> tuple[float, float, int]:
    """Mean L1 of predicted vs recorded action chunks on held-out episodes (normalised, pads masked).

    The policy runs as at inference (eval mode, VAE latent = 0), through its saved preprocessor, on
    every `l1_stride`-th frame of the held-out episodes. Returns (L1, L1 of always predicting the
    training mean action, i.e. 0 in normalised units, as a floor of no learning; number of frames).
    """
    import torch
    from lerobot.configs.policies import PreTrainedConfig
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.policies.factory import get_policy_class, make_pre_post_processors

    import lerobot_hetero_act  # noqa: F401  (registers hetero_act)

    config = PreTrainedConfig.from_pretrained(checkpoint)
    policy = get_policy_class(config.type).from_pretrained(checkpoint)
    policy.eval()
    preprocessor, _ = make_pre_post_processors(policy.config, pretrained_path=str(checkpoint))
    meta_fps = LeRobotDataset(plan.repo_id, root=plan.dataset_root, episodes=plan.heldout_episodes).fps
    dataset = LeRobotDataset(
        plan.repo_id,
        root=plan.dataset_root,
        episodes=plan.heldout_episodes,
        delta_timestamps={"action": [i / meta_fps for i in range(config.chunk_size)]},
    )
    indices = list(range(0, len(dataset), plan.l1_stride))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(dataset, indices), batch_size=16, shuffle=False, num_workers=0
    )
    total, mean_baseline, count = 0.0, 0.0, 0.0
    with torch.no_grad():
        for raw in loader:
            batch = preprocessor(raw)
            pred = policy.predict_action_chunk(batch)
            valid = (~batch["action_is_pad"]).unsqueeze(-1).float()
            total += float(((pred - batch["action"]).abs() * valid).sum())
            mean_baseline += float((batch["action"].abs() * valid).sum())
            count += float(valid.sum()) * pred.shape[-1]
    return total / max(count, 1.0), mean_baseline / max(count, 1.0), len(indices)


def closed_loop(
    plan: LearningPlan, model: str, checkpoint: Path, cameras_arg: str, size: tuple[int, int]
) -> dict:
    """lerobot-eval in aloha_multicam on the same seeds for every model; returns the overall metrics."""
    out = plan.work_dir / f"eval_{model}"
    cmd = [
        str(Path(sys.executable).parent / "lerobot-eval"),
        f"--policy.path={checkpoint}",
        "--env.type=aloha_multicam",
        f"--env.task={plan.task}",
        f"--env.cameras={cameras_arg}",
        f"--env.observation_height={size[0]}",
        f"--env.observation_width={size[1]}",
        f"--eval.n_episodes={plan.eval_episodes}",
        "--eval.batch_size=1",
        f"--seed={plan.eval_seed}",
        "--policy.device=cpu",
        f"--output_dir={out}",
    ]
    if plan.eval_episode_length:
        cmd.append(f"--env.episode_length={plan.eval_episode_length}")
    seconds = run_logged(cmd, plan.work_dir / f"eval_{model}.log", f"lerobot-eval {model}", plan.threads)
    overall = json.loads((out / "eval_info.json").read_text())["overall"]
    return {
        "pc_success": overall["pc_success"],
        "avg_sum_reward": overall["avg_sum_reward"],
        "avg_max_reward": overall.get("avg_max_reward"),
        "n_episodes": overall["n_episodes"],
        "eval_wall_s": seconds,
    }


def dataset_camera_size(plan: LearningPlan) -> tuple[str, tuple[int, int]]:
    """Cameras (as `[a,b,c]`) and the (H, W) of the recorded images, read from the dataset's info.json."""
    info = json.loads((plan.dataset_root / "meta" / "info.json").read_text())
    cams = [
        k.removeprefix("observation.images.") for k in info["features"] if k.startswith("observation.images.")
    ]
    sizes = {tuple(info["features"][f"observation.images.{c}"]["shape"][:2]) for c in cams}
    if len(sizes) != 1:
        raise ValueError(f"the learning part expects one image size for all cameras, got {sizes}")
    return "[" + ",".join(cams) + "]", sizes.pop()


def run_learning(plan: LearningPlan) -> dict[str, Any]:
    from tqdm import tqdm

    plan.work_dir.mkdir(parents=True, exist_ok=True)
    cameras_arg, size = dataset_camera_size(plan)
    rows = []
    start = time.perf_counter()
    for model in tqdm(plan.models, desc="learning models", unit="model", file=sys.stderr):
        checkpoint, train_wall = train_model(plan, model)
        l1, mean_l1, n_frames = heldout_l1(plan, checkpoint)
        row = {
            "model": model,
            "heldout_l1": l1,
            "heldout_l1_mean_action_baseline": mean_l1,
            "heldout_frames": n_frames,
            "final_train_l1": final_train_l1(plan.work_dir / f"train_{model}.log"),
            "train_wall_s": train_wall,
            "checkpoint": str(checkpoint),
        }
        log(f"{model}: held-out L1 {l1:.4f} on {n_frames} frames (train {train_wall:.0f} s)")
        if plan.eval_episodes > 0:
            row.update(closed_loop(plan, model, checkpoint, cameras_arg, size))
            log(f"{model}: success {row['pc_success']}% over {row['n_episodes']} episodes")
        rows.append(row)
    act = next((r for r in rows if r["model"] == "act"), None)
    for row in rows:
        if act:
            row["l1_ratio_to_act"] = row["heldout_l1"] / act["heldout_l1"]
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(plan).items()}
    settings["image_size"] = res_name(*size)
    return {"settings": settings, "rows": rows, "duration_s": time.perf_counter() - start}


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def fmt(value: Any, spec: str = ".2f") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def fmt_load(load: Sequence[float] | None) -> str:
    return "/".join(f"{v:.1f}" for v in load) if load else "–"


def timing_table(timing: dict[str, Any]) -> list[str]:
    lines = [
        "| model | image | params total (M) | image path params (M) | encoder tokens | infer ms/chunk (ratio) "
        "| train s/step (ratio) | backbone ms | image path ms (share of backbone) | peak RSS infer / train (MB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in timing["rows"]:
        lines.append(
            f"| {r['model']} | {r['resolution']} | {r['params_total'] / 1e6:.2f} | {r['params_image_path'] / 1e6:.3f} "
            f"| {r['encoder_tokens']} | {r['infer_ms']:.1f} ({fmt(r.get('infer_ratio_to_act'))}×) "
            f"| {r['train_s']:.2f} ({fmt(r.get('train_ratio_to_act'))}×) | {r['backbone_ms']:.1f} "
            f"| {r['image_path_ms']:.2f} ({100 * r['image_path_share_of_backbone']:.1f}%) "
            f"| {r['peak_mem_infer_mb']:.0f} / {r['peak_mem_train_mb']:.0f} |"
        )
    return lines


def target_lines(timing: dict[str, Any]) -> list[str]:
    """Each target with its measured value and whether it is met (measured, not asserted)."""
    rows = [r for r in timing["rows"] if r["model"] != "act"]
    largest = max(
        timing["settings"]["resolutions"], key=lambda s: int(s.split("x")[0]) * int(s.split("x")[1])
    )
    lines = ["| target | model | measured | met? |", "| --- | --- | --- | --- |"]
    for r in rows:
        if r["resolution"] == largest and "infer_ratio_to_act" in r:
            ratio = r["infer_ratio_to_act"]
            lines.append(
                f"| inference ≤ 0.6× ACT at {largest} | {r['model']} | {ratio:.2f}× "
                f"| {'yes' if ratio <= TARGETS['infer_ratio_480x640'] else '**no**'} |"
            )
    for r in rows:
        if "train_ratio_to_act" in r:
            ratio = r["train_ratio_to_act"]
            lines.append(
                f"| train step ≤ 0.8× ACT ({r['resolution']}) | {r['model']} | {ratio:.2f}× "
                f"| {'yes' if ratio <= TARGETS['train_ratio'] else '**no**'} |"
            )
    for r in rows:
        share = r["image_path_share_of_backbone"]
        lines.append(
            f"| fusion ≤ 10% of backbone time ({r['resolution']}) | {r['model']} | {100 * share:.1f}% "
            f"| {'yes' if share <= TARGETS['fusion_share'] else '**no**'} |"
        )
    return lines


def learning_table(learning: dict[str, Any]) -> list[str]:
    lines = [
        "| model | held-out L1 (ratio to ACT) | train L1, last logged step | success % (episodes) | avg sum reward | train wall s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in learning["rows"]:
        success = f"{r['pc_success']:.0f} ({r['n_episodes']})" if "pc_success" in r else "not run"
        lines.append(
            f"| {r['model']} | {r['heldout_l1']:.4f} ({fmt(r.get('l1_ratio_to_act'))}×) | {fmt(r.get('final_train_l1'), '.3f')} "
            f"| {success} | {fmt(r.get('avg_sum_reward'), '.1f')} | {r['train_wall_s']:.0f} |"
        )
    return lines


def render_markdown(report: dict[str, Any], notes: str = "") -> str:
    out = ["# hetero_act vs LeRobot ACT: benchmarks", ""]
    out += [
        "Generated by `scripts/benchmark.py` (numbers below are copied from `docs/benchmarks.json`).",
        "",
    ]
    timing = report.get("timing")
    if timing:
        s = timing["settings"]
        m = timing["machine"]
        out += [
            "## Cost (timing part)",
            "",
            f"- Command: `{timing['command']}`",
            f"- Date: {timing['date']}; duration {timing['duration_s'] / 60:.1f} min",
            f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, GPU: {m['cuda'] or 'none'}; "
            f"Python {m['python']}, torch {m['torch']}, lerobot {m['lerobot']}; load average (1/5/15 min) "
            f"{fmt_load(timing.get('load_avg_1_5_15_min', {}).get('start'))} at start, "
            f"{fmt_load(timing.get('load_avg_1_5_15_min', {}).get('end'))} at end",
            f"- Settings: 3 cameras ({', '.join(CAMERAS)}) each at the stated size, 14-dim state/action, "
            f"{'ACT default dims (dim_model 512, 4 encoder / 1 decoder layers, ResNet-18, chunk 100)' if not s['dims'] else 'dims ' + json.dumps(s['dims'])}, "
            f"`pretrained_backbone_weights=None`, `torch.set_num_threads({s['threads']})`, device {s['device']}. "
            f"hetero_act roles: left_wrist→wrist_detail (6×6), right_wrist→wrist_context (4×4), top→global_overview (2×2).",
            f"- Inference: `predict_action_chunk`, batch 1, median of {s['infer_repeats']} after {s['warmup']} warm-up calls. "
            f"Backbone and image-token path timed separately (batch 1, same repeats). "
            f"Train step: forward + backward + grad clip + AdamW step, batch {s['train_batch']}, median of "
            + ", ".join(f"{n} at {k}" for k, n in s["train_repeats"].items())
            + f" after {s['train_warmup']} warm-up step(s). Each model × resolution ran in a fresh subprocess; "
            "peak memory is that process's peak RSS (`ru_maxrss`) after the inference phase and after training.",
            "- *image path* = what turns backbone feature maps into encoder tokens: hetero_act's "
            "`HeterogeneousCameraFusion`, or ACT's 2-D sine position embedding + 1×1 input projection.",
            "",
            *timing_table(timing),
            "",
            "### Targets (measured, not asserted)",
            "",
            *target_lines(timing),
            "",
        ]
    learning = report.get("learning")
    if learning:
        s = learning["settings"]
        out += [
            "## Learning (offline held-out L1, closed-loop success)",
            "",
            f"- Command: `{learning['command']}`",
            f"- Date: {learning['date']}; duration {learning['duration_s'] / 60:.1f} min"
            + (
                " (this invocation; it reused the checkpoints of an earlier invocation with the same plan, "
                "whose lerobot-train wall times are in the table)"
                if s.get("reuse_checkpoints")
                else ""
            ),
            f"- Data: `{s['repo_id']}` ({s['dataset_root']}), images {s['image_size']}; train episodes "
            f"{s['train_episodes']}, held-out episodes {s['heldout_episodes']}.",
            f"- Training: real `lerobot-train`, {s['steps']} steps, batch {s['batch_size']}, seed {s['seed']}, "
            f"same for every model; ACT defaults{' except ' + json.dumps(s['dims']) if s['dims'] else ''}; "
            "`pretrained_backbone_weights=null` (no ImageNet weights: offline).",
            (
                f"- No-learning floor: always predicting the training mean action gives held-out L1 "
                f"{learning['rows'][0]['heldout_l1_mean_action_baseline']:.4f} on the same frames."
                if learning["rows"] and "heldout_l1_mean_action_baseline" in learning["rows"][0]
                else "- No-learning floor: not measured in this run."
            ),
            f"- Held-out L1: every {s['l1_stride']}th frame of the held-out episodes, normalised actions, "
            "full chunk, padding masked, VAE latent 0 (as at inference); one training run per model.",
            (
                f"- Closed loop: real `lerobot-eval --env.type=aloha_multicam --env.task={s['task']}`, "
                f"{s['eval_episodes']} episodes per model, seed {s['eval_seed']} (same episodes for every model)."
                if s["eval_episodes"] > 0
                else "- Closed loop: not run."
            ),
            "",
            *learning_table(learning),
            "",
        ]
    if notes:
        out += ["## Notes", "", notes.strip(), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def parse_episodes(text: str) -> list[int]:
    """ "0-9" or "0,1,2" or "10-13,15" -> list of ints."""
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-")
            out += list(range(int(lo), int(hi) + 1))
        elif part:
            out.append(int(part))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--json", type=Path, default=REPO / "docs" / "benchmarks.json")
    p.add_argument("--md", type=Path, default=REPO / "docs" / "benchmarks.md")
    p.add_argument("--quick", action="store_true", help="smoke run: tiny images and dims, 2 repeats")
    p.add_argument("--skip-timing", action="store_true", help="keep the timing part of the existing JSON")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {list(MODELS)}")
    p.add_argument("--resolutions", default="240x320,480x640", help="comma-separated HxW (per camera)")
    p.add_argument("--infer-repeats", type=int, default=20)
    p.add_argument("--train-repeats", type=int, default=5)
    p.add_argument(
        "--train-repeats-largest", type=int, default=None, help="train repeats at the largest size"
    )
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--train-warmup", type=int, default=1)
    p.add_argument("--train-batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--notes-file", type=Path, default=None, help="markdown appended as the Notes section")
    g = p.add_argument_group("learning part")
    g.add_argument("--learning", action="store_true")
    g.add_argument("--dataset-root", type=Path)
    g.add_argument("--repo-id")
    g.add_argument("--train-episodes", default="0-9")
    g.add_argument("--heldout-episodes", default="10-13")
    g.add_argument("--learn-steps", type=int, default=200)
    g.add_argument("--learn-batch", type=int, default=8)
    g.add_argument("--learn-seed", type=int, default=1000)
    g.add_argument(
        "--learn-dims", default="{}", help="JSON of policy overrides, same for every model (default: ACT's)"
    )
    g.add_argument("--eval-episodes", type=int, default=2)
    g.add_argument("--eval-seed", type=int, default=100000)
    g.add_argument("--eval-episode-length", type=int, default=None)
    g.add_argument("--l1-stride", type=int, default=5)
    g.add_argument("--work-dir", type=Path, default=REPO / "outputs" / "benchmark_learning")
    g.add_argument("--learn-threads", type=int, default=None, help="OMP_NUM_THREADS for lerobot-train/eval")
    g.add_argument(
        "--reuse-checkpoints",
        action="store_true",
        help="skip lerobot-train where --work-dir already holds that model's checkpoint (e.g. to add closed-loop eval)",
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    return p


def timing_plan(args: argparse.Namespace) -> TimingPlan:
    import torch

    resolutions = [parse_resolution(r) for r in args.resolutions.split(",")]
    largest = max(resolutions, key=lambda hw: hw[0] * hw[1])
    repeats = {res_name(*r): args.train_repeats for r in resolutions}
    if args.train_repeats_largest:
        repeats[res_name(*largest)] = args.train_repeats_largest
    return TimingPlan(
        models=args.models.split(","),
        resolutions=resolutions,
        dims=QUICK_DIMS if args.quick else {},
        infer_repeats=args.infer_repeats,
        train_repeats=repeats,
        warmup=args.warmup,
        train_warmup=args.train_warmup,
        train_batch=args.train_batch,
        threads=args.threads,
        device=args.device or ("cuda" if torch.cuda.is_available() else "cpu"),
        isolate=not args.quick,
    )


def apply_quick(args: argparse.Namespace) -> None:
    """--quick: tiny everything, for the smoke test (numbers are meaningless)."""
    args.resolutions = (
        "32x64,64x96" if args.resolutions == build_parser().get_default("resolutions") else args.resolutions
    )
    args.infer_repeats, args.train_repeats, args.train_repeats_largest = 2, 2, None
    args.warmup, args.train_warmup, args.train_batch = 1, 1, 2
    args.threads = 1  # robust when the cores are shared (2 threads stall badly under contention)


def learning_plan(args: argparse.Namespace) -> LearningPlan:
    if not args.dataset_root or not args.repo_id:
        raise SystemExit(
            "--learning needs --dataset-root and --repo-id (a recorded multi-camera sim dataset)"
        )
    if not (args.dataset_root / "meta" / "info.json").is_file():
        raise SystemExit(f"--dataset-root {args.dataset_root}: no meta/info.json, not a LeRobotDataset")
    return LearningPlan(
        dataset_root=args.dataset_root.resolve(),
        repo_id=args.repo_id,
        train_episodes=parse_episodes(args.train_episodes),
        heldout_episodes=parse_episodes(args.heldout_episodes),
        models=args.models.split(","),
        steps=args.learn_steps,
        batch_size=args.learn_batch,
        seed=args.learn_seed,
        dims=json.loads(args.learn_dims),
        eval_episodes=args.eval_episodes,
        eval_seed=args.eval_seed,
        eval_episode_length=args.eval_episode_length,
        l1_stride=args.l1_stride,
        work_dir=args.work_dir.resolve(),
        reuse_checkpoints=args.reuse_checkpoints,
        threads=args.learn_threads,
    )


def stamp(part: dict[str, Any], argv: Sequence[str]) -> dict[str, Any]:
    part["command"] = shlex.join([".venv/bin/python", "scripts/benchmark.py", *argv])
    part["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    part["machine"] = machine_info()
    return part


def write_report(report: dict[str, Any], json_path: Path, md_path: Path, notes: str) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(render_markdown(report, notes))
    log(f"wrote {json_path} and {md_path}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.worker:
        rows = [run_worker(spec) for spec in json.loads(args.worker)]
        args.worker_out.write_text(json.dumps(rows))
        return 0
    unknown = [m for m in args.models.split(",") if m not in MODELS]
    if unknown:
        raise SystemExit(f"--models: unknown {unknown}; choose from {list(MODELS)}")
    if args.quick:
        apply_quick(args)
    report: dict[str, Any] = json.loads(args.json.read_text()) if args.json.is_file() else {}
    if args.notes_file:  # kept in the JSON, so a later re-render keeps the notes
        report["notes"] = args.notes_file.read_text()
    notes = report.get("notes", "")
    if not args.skip_timing:
        report["timing"] = stamp(run_timing(timing_plan(args)), argv)
        write_report(report, args.json, args.md, notes)
    if args.learning:
        report["learning"] = stamp(run_learning(learning_plan(args)), argv)
        write_report(report, args.json, args.md, notes)
    if args.skip_timing and not args.learning:
        write_report(report, args.json, args.md, notes)  # re-render only
    return 0


if __name__ == "__main__":
    sys.exit(main())
