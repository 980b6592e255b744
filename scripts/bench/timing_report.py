"""The timing section of docs/benchmarks.md, rendered from the results of `timing.run_timing`.

The section sits between TIMING_BEGIN and TIMING_END; writing it replaces only what is between them
(or appends the section when the markers are missing), so the learning section stays as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .doc_sections import splice_section

TIMING_BEGIN = "<!-- timing-benchmark:begin -->"
TIMING_END = "<!-- timing-benchmark:end -->"
ACT_DIMS = "ACT's default dims (dim_model 512, 4 encoder / 1 decoder layers, ResNet-18, chunk 100)"
# (what, ratio key, limit, which rows): measured and reported, never asserted.
TARGETS = [
    ("inference ≤ 0.6× ACT at {largest}", "infer_ratio_to_act", 0.6, "hetero"),
    ("role-aware sizes: inference ≤ 0.45× ACT at {largest}", "infer_ratio_to_act", 0.45, "default_sizes"),
    ("onnxruntime inference ≤ 0.30× ACT eager at {largest}", "infer_ratio_to_act", 0.30, "onnx"),
    ("train step ≤ 0.8× ACT ({resolution})", "train_ratio_to_act", 0.8, "hetero"),
    ("fusion ≤ 10% of backbone time ({resolution})", "image_path_share_of_backbone", 0.10, "hetero"),
]


def fmt(value: Any, spec: str = ".2f", suffix: str = "") -> str:
    return "–" if value is None else format(value, spec) + suffix


def timing_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| model | image | params total (M) | image path params (M) | encoder tokens | infer ms/chunk (ratio) "
        "| train s/step (ratio) | backbone ms | image path ms (share of backbone) | peak RSS infer / train (MB) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        get = r.get
        share = get("image_path_share_of_backbone")
        lines.append(
            f"| {r['model']} | {r['resolution']} | {r['params_total'] / 1e6:.2f} "
            f"| {fmt(get('params_image_path') and get('params_image_path') / 1e6, '.3f')} | {r['encoder_tokens']} "
            f"| {r['infer_ms']:.1f} ({fmt(get('infer_ratio_to_act'), '.2f', '×')}) "
            f"| {fmt(get('train_s'))} ({fmt(get('train_ratio_to_act'), '.2f', '×')}) | {fmt(get('backbone_ms'), '.1f')} "
            f"| {fmt(get('image_path_ms'))} ({fmt(share and 100 * share, '.1f', '%')}) "
            f"| {r['peak_mem_infer_mb']:.0f} / {fmt(get('peak_mem_train_mb'), '.0f')} |"
        )
    return lines


def target_lines(rows: list[dict[str, Any]], largest: str) -> list[str]:
    lines = ["| target | model | measured | met? |", "| --- | --- | --- | --- |"]
    for text, key, limit, which in TARGETS:
        for r in rows:
            is_onnx = r["model"].endswith("_onnxruntime")
            if r["model"] == "act" or is_onnx != (which == "onnx") or r.get(key) is None:
                continue
            if which == "default_sizes" and not r["model"].endswith("_default_sizes"):
                continue
            if "{largest}" in text and r["resolution"] != largest:
                continue
            value = r[key]
            shown = f"{100 * value:.1f}%" if key.endswith("share_of_backbone") else f"{value:.2f}×"
            what = text.format(largest=largest, resolution=r["resolution"])
            lines.append(f"| {what} | {r['model']} | {shown} | {'yes' if value <= limit else '**no**'} |")
    return lines


def render_section(timing: dict[str, Any]) -> str:
    s, m, rows = timing["settings"], timing["machine"], timing["rows"]
    largest = max(s["resolutions"], key=lambda r: int(r.split("x")[0]) * int(r.split("x")[1]))
    load = timing.get("load_avg_1_5_15_min", {})
    loads = [("/".join(f"{v:.1f}" for v in load[k]) if load.get(k) else "–") for k in ("start", "end")]
    onnx = next((r for r in rows if r["model"].endswith("_onnxruntime")), None)
    dims = json.dumps(s["dims"]) if s["dims"] else ACT_DIMS
    grids = (
        json.dumps(s.get("role_grids")) if s.get("role_grids") else "the default role grids (6×6, 4×4, 2×2)"
    )
    out = [TIMING_BEGIN, "## Cost (timing benchmark)", ""]
    if timing.get("caveat"):
        out += [f"> **{timing['caveat']}**", ""]
    out += [
        f"- Command: `{timing['command']}`",
        f"- Date: {timing['date']}; duration {timing['duration_s'] / 60:.1f} min",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; "
        f"Python {m['python']}, torch {m['torch']}, lerobot {m['lerobot']}; "
        f"load average (1/5/15 min) {loads[0]} at start, {loads[1]} at end",
        f"- Settings: 3 cameras (top, left_wrist, right_wrist) each at the stated size, 14-dim state/action, "
        f"{dims}, `pretrained_backbone_weights=None`, `torch.set_num_threads({s['threads']})`. "
        f"hetero_act roles: left_wrist→wrist_detail, right_wrist→wrist_context, top→global_overview, "
        f"with {grids}. `*_default_sizes` resizes each camera to its role's default size first: "
        f"{json.dumps(s.get('role_image_sizes'))}.",
        f"- Inference: `predict_action_chunk`, batch 1, median of {s['infer_repeats']} after {s['warmup']} "
        "warm-up calls; the backbone and the image path are timed on their own, same repeats. Train step: "
        f"forward + backward + grad clip + AdamW, batch {s['train_batch']}, median of "
        f"{s['train_repeats']} after {s['train_warmup']} warm-up step(s). "
        + ("Each model × resolution ran in a fresh subprocess; " if s["isolate"] else "One process for all; ")
        + "peak memory is the process's peak RSS after inference and after training.",
        "- *image path* = what turns backbone feature maps into encoder tokens: hetero_act's "
        "`HeterogeneousCameraFusion`, or ACT's 2-D sine position embedding + 1×1 input projection.",
    ]
    if onnx:
        out.append(
            f"- `{onnx['model']}`: the same policy exported by `export.export_onnx`, run by onnxruntime "
            f"(CPU, {s['threads']} intra-op thread(s), batch 1) in a fresh process holding no PyTorch model; "
            f"max |onnxruntime − PyTorch| = {onnx['onnx_max_abs_diff']:.2g}."
        )
    out += ["", *timing_table(rows), "", "### Targets (measured, not asserted)", ""]
    out += [*target_lines(rows, largest), ""]
    if timing.get("notes"):
        out += [timing["notes"].strip(), ""]
    out.append(TIMING_END)
    return "\n".join(out)


def write_section(doc: Path, section: str) -> None:
    """Replace what is between the timing markers in `doc` (append the section if they are missing)."""
    splice_section(doc, section, TIMING_BEGIN, TIMING_END)
