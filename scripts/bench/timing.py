"""Cost of hetero_act's token modes against LeRobot's ACT: parameters, tokens, latency, memory.

Every model x resolution is built with random weights (`pretrained_backbone_weights=None`), 3 ALOHA
cameras of one size and a 14-dim state, and measured in a fresh subprocess so that its peak RSS is
its own: parameters (total and image-token path), encoder tokens (read by a hook on ACT's
transformer encoder), inference per action chunk (`predict_action_chunk`, batch 1), the backbone and
the image-token path on their own (timed interleaved with inference, so a load change hits all three
alike), and a train step (forward + backward + grad clip + AdamW, batch 8). Each figure is a median.

`hetero_cell_keys_default_sizes` is hetero_act as a user gets it: each camera resized inside the
policy to its role's default `role_image_sizes`; the other hetero_act rows run at native sizes. At the
largest resolution it is also exported to ONNX (`export.export_onnx`, checked against PyTorch by
`export.max_abs_difference`) and timed in onnxruntime in a process that holds no PyTorch model
(batch 1, the same number of intra-op threads; torch is imported, as by `onnx_runner`, whose
pre/post-processors are torch code).

Learning quality is not measured here: see `scripts/bench/learning.py` (closed-loop success) and
`scripts/bench/heldout.py` (held-out L1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lerobot_hetero_act.camera_roles import (
    DEFAULT_ROLE_GRIDS,
    camera_key,
    camera_short_name,
    default_role_image_sizes,
)
from lerobot_hetero_act.sim.cameras import ALOHA_CAMERA_ROLES, DEFAULT_CAMERAS, parse_image_size
from lerobot_hetero_act.sim.features import STATE_DIM

from .offline_run import REPO, run_logged
from .timing_report import render_section, write_section

ACTION_DIM = STATE_DIM  # ALOHA: absolute targets for the state's 14 joints
# model name -> config overrides; "type" picks LeRobot's ACT or hetero_act.
MODELS: dict[str, dict[str, Any]] = {
    "act": {"type": "act"},
    "hetero_cell_keys": {"type": "hetero_act", "token_mode": "cell_keys"},
    # Each camera resized (antialiased, inside the policy) to its role's size: the plan's role_image_sizes.
    "hetero_cell_keys_default_sizes": {
        "type": "hetero_act",
        "token_mode": "cell_keys",
        "default_sizes": True,
    },
    "hetero_pooled_keys": {"type": "hetero_act", "token_mode": "pooled_keys"},
    "hetero_spatial": {"type": "hetero_act", "token_mode": "spatial"},
    "hetero_spatial_gated": {"type": "hetero_act", "token_mode": "spatial", "view_gating": True},
    # torch.compile of the network (inductor, CPU); compiled during the warm-up calls. Opt-in: slow.
    "hetero_cell_keys_compiled": {"type": "hetero_act", "token_mode": "cell_keys", "compile": True},
}
DEFAULT_MODELS = [name for name, spec in MODELS.items() if not spec.get("compile")]
ONNX_MODEL = "hetero_cell_keys_default_sizes"  # exported and timed in onnxruntime at the largest resolution
ONNX_ROW = f"{ONNX_MODEL}_onnxruntime"
# --quick: a tiny transformer and grids that fit a 32x64 image's 1x2 feature map (plumbing, not speed).
QUICK_DIMS: dict[str, Any] = dict(
    dim_model=64, n_heads=4, dim_feedforward=128, n_encoder_layers=1, n_vae_encoder_layers=1, latent_dim=8
) | {"chunk_size": 10, "n_action_steps": 10}
QUICK_ROLE_GRIDS = {"wrist_detail": [1, 2], "wrist_context": [1, 1], "global_overview": [1, 2]}
QUICK_ROLE_IMAGE_SIZES = {role: [32, 64] for role in QUICK_ROLE_GRIDS}  # --quick's smaller resolution


@dataclass
class TimingPlan:
    models: list[str]
    resolutions: list[tuple[int, int]]
    threads: int = 2
    """torch threads, as on the 2-core machines the README's figures come from."""
    isolate: bool = True
    """One subprocess per model x resolution, so no model runs in another's warm caches (--quick shares one)."""
    onnx: bool = True
    dims: dict[str, Any] = field(default_factory=dict)
    """Model sizes shared by every model; ACT's defaults where empty."""
    role_grids: dict[str, list[int]] | None = None
    """None: the design's default grids."""
    role_image_sizes: dict[str, list[int]] = field(
        default_factory=lambda: default_role_image_sizes(DEFAULT_ROLE_GRIDS)
    )
    """For the `*_default_sizes` models: role -> [height, width] each camera is resized to (hetero_act's
    default); every other hetero_act model runs at native sizes."""
    infer_repeats: int = 20
    """Timed inference calls per model; the table reports their median."""
    warmup: int = 2
    """Untimed calls first, so one-off allocation and thread start-up stay out of the median."""
    train_repeats: int = 5
    """Timed training steps (forward, backward, AdamW) per model; a step costs far more than a chunk."""
    train_warmup: int = 1
    train_batch: int = 8

    def specs(self) -> list[dict[str, Any]]:
        """One measurement per model x resolution: the plan's settings plus model, height, width."""
        base = {k: v for k, v in asdict(self).items() if k not in ("models", "resolutions")}
        return [dict(base, model=m, height=h, width=w) for h, w in self.resolutions for m in self.models]


def log(message: str) -> None:
    print(f"[timing {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def build_policy(spec: dict[str, Any]):
    """ACTPolicy or HeteroACTPolicy with seed 0, the spec's dims and 3 cameras of the spec's size."""
    import torch
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy

    from lerobot_hetero_act.configuration_hetero_act import HeteroACTConfig
    from lerobot_hetero_act.modeling_hetero_act import HeteroACTPolicy

    overrides = dict(MODELS[spec["model"]])
    is_act = overrides.pop("type") == "act"
    overrides.pop("compile", None)
    default_sizes = overrides.pop("default_sizes", False)
    if not is_act:
        overrides["role_image_sizes"] = spec["role_image_sizes"] if default_sizes else {}
    features = {"observation.state": PolicyFeature(FeatureType.STATE, (STATE_DIM,))}
    for cam in DEFAULT_CAMERAS:
        features[camera_key(cam)] = PolicyFeature(FeatureType.VISUAL, (3, spec["height"], spec["width"]))
    kwargs: dict[str, Any] = {
        "input_features": features,
        "output_features": {"action": PolicyFeature(FeatureType.ACTION, (ACTION_DIM,))},
        "pretrained_backbone_weights": None,
        "device": "cpu",
        **spec["dims"],
    }
    if not is_act:
        kwargs.update(overrides, camera_roles={camera_key(c): r for c, r in ALOHA_CAMERA_ROLES.items()})
        if spec["role_grids"]:
            kwargs["role_grids"] = spec["role_grids"]
    torch.manual_seed(0)
    config = ACTConfig(**kwargs) if is_act else HeteroACTConfig(**kwargs)
    return (ACTPolicy if is_act else HeteroACTPolicy)(config)


def make_batch(policy, batch_size: int, with_action: bool) -> dict:
    """Random normalised inputs (timings do not depend on pixel values)."""
    from lerobot_hetero_act.export import sample_inputs

    return sample_inputs(policy.config, batch_size, with_action=with_action)


def time_interleaved(fns: dict[str, Callable[[], Any]], warmup: int, repeats: int) -> dict[str, list[float]]:
    """Seconds per call of each function, calling them in turn `repeats` times after `warmup` rounds."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(warmup + repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def count_encoder_tokens(policy, batch) -> int:
    """Tokens entering ACT's transformer encoder, read by a hook (not computed from a formula)."""
    import torch

    seen: list[int] = []
    handle = policy.model.encoder.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[0]))
    with torch.no_grad():
        policy.predict_action_chunk(batch)
    handle.remove()
    return seen[0]


def backbone_and_image_path(policy, images: dict) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The backbone pass as the model runs it, and the image-token path on its output.

    hetero_act: `camera_feature_maps` (equal-size cameras batched), then `camera_fusion`. ACT: one
    backbone call per camera (as ACT.forward does), then its 2-D sine position embedding and 1x1 conv.
    """
    model = policy.model
    if hasattr(model, "camera_fusion"):
        maps = model.camera_feature_maps(images)
        return (lambda: model.camera_feature_maps(images)), (lambda: model.camera_fusion(maps))
    backbone = lambda: [model.backbone(img)["feature_map"] for img in images.values()]  # noqa: E731
    maps_list, proj, pos = backbone(), model.encoder_img_feat_input_proj, model.encoder_cam_feat_pos_embed
    return backbone, lambda: [(proj(fm), pos(fm)) for fm in maps_list]


def measure_torch(spec: dict[str, Any]) -> dict[str, Any]:
    """One model at one resolution in eager PyTorch: the row of the timing table."""
    import torch

    policy = build_policy(spec)
    fusion = getattr(policy.model, "camera_fusion", None) or policy.model.encoder_img_feat_input_proj
    resized = getattr(policy.model, "backbone_input_sizes", {})  # hetero_act: each camera's role size
    native = (spec["height"], spec["width"])
    row: dict[str, Any] = {
        "model": spec["model"],
        "resolution": f"{spec['height']}x{spec['width']}",
        "params_total": sum(p.numel() for p in policy.parameters()),
        "params_image_path": sum(p.numel() for p in fusion.parameters()),
        "backbone_inputs": {
            camera_short_name(key): list(resized.get(key, native)) for key in policy.config.image_features
        },
    }
    policy.eval()
    obs = make_batch(policy, 1, with_action=False)
    row["encoder_tokens"] = count_encoder_tokens(policy, obs)
    if MODELS[spec["model"]].get("compile"):
        policy.model = torch.compile(policy.model)  # compiles on the first (warm-up) calls
    log(f"{row['model']} @ {row['resolution']}: inference x{spec['infer_repeats']}")
    with torch.no_grad():
        backbone, image_path = backbone_and_image_path(
            policy, {k: obs[k] for k in policy.config.image_features}
        )
        infer = lambda: policy.predict_action_chunk(obs)  # noqa: E731
        fns = {"infer": infer, "backbone": backbone, "image_path": image_path}
        times = time_interleaved(fns, spec["warmup"], spec["infer_repeats"])
    row.update({f"{name}_ms": 1000 * statistics.median(t) for name, t in times.items()})
    row["infer_n"] = spec["infer_repeats"]
    row["image_path_share_of_backbone"] = row["image_path_ms"] / row["backbone_ms"]
    row["peak_mem_infer_mb"] = peak_rss_mb()

    policy.train()
    batch = make_batch(policy, spec["train_batch"], with_action=True)
    lr, decay = policy.config.optimizer_lr, policy.config.optimizer_weight_decay
    optimizer = torch.optim.AdamW(policy.get_optim_params(), lr=lr, weight_decay=decay)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        policy.forward(batch)[0].backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 10.0)  # lerobot-train's default clip
        optimizer.step()

    log(f"{row['model']} @ {row['resolution']}: train x{spec['train_repeats']}")
    times = time_interleaved({"train": train_step}, spec["train_warmup"], spec["train_repeats"])
    row.update(train_s=statistics.median(times["train"]), train_n=spec["train_repeats"])
    return row | {"train_batch": spec["train_batch"], "peak_mem_train_mb": peak_rss_mb()}


def export_for_onnx(spec: dict[str, Any]) -> dict[str, Any]:
    """Export the spec's policy (same seed, same weights as its eager row) to spec["onnx_path"]."""
    from lerobot_hetero_act.export import export_onnx, max_abs_difference

    policy = build_policy(spec).eval()
    start = time.perf_counter()
    export_onnx(policy, spec["onnx_path"])
    return {
        "model": ONNX_ROW,
        "resolution": f"{spec['height']}x{spec['width']}",
        "params_total": sum(p.numel() for p in policy.parameters()),
        "encoder_tokens": count_encoder_tokens(policy, make_batch(policy, 1, with_action=False)),
        "export_s": time.perf_counter() - start,
        "onnx_max_abs_diff": max_abs_difference(policy, spec["onnx_path"], batch_sizes=(1,)),
    }


def measure_onnx(spec: dict[str, Any]) -> dict[str, Any]:
    """Inference per chunk in onnxruntime, batch 1, in a process that holds no PyTorch model."""
    import numpy as np

    from lerobot_hetero_act.export import onnx_session

    session = onnx_session(spec["onnx_path"], threads=spec["threads"])
    rng = np.random.default_rng(0)
    feed = {i.name: rng.standard_normal([1, *i.shape[1:]]).astype(np.float32) for i in session.get_inputs()}
    log(f"{ONNX_ROW} @ {spec['height']}x{spec['width']}: inference x{spec['infer_repeats']}")
    times = time_interleaved({"run": lambda: session.run(None, feed)}, spec["warmup"], spec["infer_repeats"])
    ms = 1000 * statistics.median(times["run"])
    return {"infer_ms": ms, "infer_n": spec["infer_repeats"], "peak_mem_infer_mb": peak_rss_mb()}


WORKERS = {"torch": measure_torch, "export": export_for_onnx, "onnx": measure_onnx}


def worker_main(argv: list[str]) -> None:
    """`python -m bench.timing SPECS.json OUT.json` (from scripts/): measure, write rows."""
    specs = json.loads(Path(argv[0]).read_text())
    import torch

    torch.set_num_threads(specs[0]["threads"])
    Path(argv[1]).write_text(json.dumps([WORKERS[spec["phase"]](spec) for spec in specs]))


def run_in_subprocess(specs: list[dict[str, Any]], work: Path, name: str) -> list[dict[str, Any]]:
    """Measure `specs` in one fresh interpreter (offline, pinned threads); returns their rows."""
    (work / f"{name}.json").write_text(json.dumps(specs))
    cmd = [sys.executable, "-m", __name__, str(work / f"{name}.json"), str(work / f"{name}.out.json")]
    run_logged(
        cmd,
        work / f"{name}.log",
        threads=specs[0]["threads"],
        echo=lambda line: "[timing" in line,
        cwd=Path(__file__).resolve().parents[1],  # scripts/, where the bench package is importable
    )
    return json.loads((work / f"{name}.out.json").read_text())


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM and library versions: timings mean nothing without them."""
    import platform

    import lerobot
    import torch

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    return {
        "cpu": cpu[1] if cpu else platform.processor() or "unknown",
        "cores": os.cpu_count(),
        "ram_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lerobot": getattr(lerobot, "__version__", "unknown"),
        "platform": platform.platform(),
    }


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Ratios to ACT at the same resolution (the figures the targets are stated in)."""
    act = {r["resolution"]: r for r in rows if r["model"] == "act"}
    for row in rows:
        ref = act.get(row["resolution"])
        for key, ratio in (("infer_ms", "infer"), ("train_s", "train"), ("encoder_tokens", "tokens")):
            if ref is not None and row.get(key) is not None:
                row[f"{ratio}_ratio_to_act"] = row[key] / ref[key]


def run_timing(plan: TimingPlan) -> dict[str, Any]:
    """Measure every model x resolution (and the ONNX row); returns {"settings", "rows", ...}."""
    unknown = [m for m in plan.models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose from {list(MODELS)}")
    start, load_start = time.perf_counter(), os.getloadavg()  # a busy machine makes timings suspect
    specs = [{**s, "phase": "torch"} for s in plan.specs()]
    groups = [[s] for s in specs] if plan.isolate else [specs]
    rows: list[dict[str, Any]] = []
    onnx_rows: list[dict[str, Any]] = []  # measured first, listed last
    with tempfile.TemporaryDirectory(prefix="timing_") as tmp:
        work = Path(tmp)
        if plan.onnx:  # first: a failing export stops the run before the long eager measurements
            h, w = max(plan.resolutions, key=lambda hw: hw[0] * hw[1])
            spec = {**plan.specs()[0], "model": ONNX_MODEL, "height": h, "width": w}
            spec["onnx_path"] = str(work / "policy.onnx")
            log(f"export {ONNX_MODEL} @ {h}x{w} to ONNX")
            row = run_in_subprocess([{**spec, "phase": "export"}], work, "export")[0]
            onnx_rows.append(row | run_in_subprocess([{**spec, "phase": "onnx"}], work, "onnx")[0])
        for i, group in enumerate(groups):
            log(f"process {i + 1}/{len(groups)}: {', '.join(s['model'] for s in group)}")
            rows += run_in_subprocess(group, work, f"torch{i}")
    rows += onnx_rows
    add_ratios(rows)
    settings = asdict(plan) | {"resolutions": [f"{h}x{w}" for h, w in plan.resolutions]}
    return {
        "settings": settings,
        "rows": rows,
        "duration_s": time.perf_counter() - start,
        "load_avg_1_5_15_min": {"start": load_start, "end": os.getloadavg()},
        "machine": machine_info(),
    }


USAGE = """Timing benchmark of hetero_act's token modes against LeRobot's ACT (cost, not learning).

    .venv/bin/python scripts/timing_benchmark.py                # full run, ~20-30 min on 2 CPU cores
    .venv/bin/python scripts/timing_benchmark.py --render-only  # re-render the doc from the JSON
    .venv/bin/python scripts/timing_benchmark.py --models act hetero_cell_keys hetero_cell_keys_compiled --no-onnx
    .venv/bin/python scripts/timing_benchmark.py --quick --json /tmp/t.json --doc /tmp/t.md  # smoke test

Writes the results to `--json` and the section between the timing markers of `--doc`. What is
measured: see `scripts/bench/timing.py`. Learning quality is measured by
`scripts/learning_benchmark.py`.
"""


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, default=REPO / "docs/benchmark_results/timing.json")
    p.add_argument("--doc", type=Path, default=REPO / "docs/benchmarks.md")
    p.add_argument("--quick", action="store_true", help="tiny images, dims and grids, 2 repeats, 1 thread")
    p.add_argument("--render-only", action="store_true", help="only re-render --doc from --json")
    models_help = "default: all but hetero_cell_keys_compiled (torch.compile: slow, opt-in)"
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS, choices=list(MODELS), help=models_help)
    p.add_argument("--resolutions", nargs="+", default=["240x320", "480x640"], help="HxW per camera")
    p.add_argument("--role-grids", type=json.loads, default=None, help="JSON role -> [rows, cols]")
    p.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime row")
    p.add_argument("--infer-repeats", type=int, default=20)
    p.add_argument("--train-repeats", type=int, default=5)
    p.add_argument("--train-batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--notes-file", type=Path, help="markdown shown under the targets (kept in the JSON)")
    args = p.parse_args(argv)

    if args.render_only:
        write_section(args.doc, render_section(json.loads(args.json.read_text())))
        return
    if args.quick:
        if args.resolutions == p.get_default("resolutions"):
            args.resolutions = ["32x64", "64x96"]
        args.infer_repeats = args.train_repeats = 2
        args.train_batch, args.threads = 2, 1
    resolutions = [parse_image_size(r, "--resolutions") for r in args.resolutions]
    plan = TimingPlan(
        models=args.models,
        resolutions=resolutions,
        dims=QUICK_DIMS if args.quick else {},
        role_grids=args.role_grids or (QUICK_ROLE_GRIDS if args.quick else None),
        **({"role_image_sizes": QUICK_ROLE_IMAGE_SIZES} if args.quick else {}),
        infer_repeats=args.infer_repeats,
        train_repeats=args.train_repeats,
        warmup=1 if args.quick else 2,
        train_batch=args.train_batch,
        threads=args.threads,
        isolate=not args.quick,
        onnx=not args.no_onnx,
    )
    timing = run_timing(plan)
    timing["command"] = shlex.join([".venv/bin/python", "scripts/timing_benchmark.py", *argv])
    timing["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if args.notes_file:
        timing["notes"] = args.notes_file.read_text()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(timing, indent=2) + "\n")
    write_section(args.doc, render_section(timing))
    print(f"wrote {args.json} and the timing section of {args.doc}")


if __name__ == "__main__":  # a measuring subprocess of run_in_subprocess
    worker_main(sys.argv[1:])
