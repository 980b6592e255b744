"""`scripts/timing_benchmark.py --quick` end to end: a real subprocess run, JSON and markdown checked.

Numbers of a --quick run are meaningless (tiny dims, 2 repeats, shared cores); what is checked is
that every model x resolution is measured, every figure is positive, the encoder token counts (read
by a hook on ACT's transformer encoder) are the ones each architecture implies, the onnxruntime row
matches PyTorch, and the report replaces only the text between the timing markers.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from bench.timing_report import TIMING_BEGIN, TIMING_END, write_section
from cli import run_logged

from lerobot_hetero_act.sim.cameras import ALOHA_CAMERA_ROLES

REPO = Path(__file__).resolve().parents[1]
TORCH_MODELS = {
    "act",
    "hetero_cell_keys",
    "hetero_cell_keys_default_sizes",
    "hetero_pooled_keys",
    "hetero_spatial",
    "hetero_spatial_gated",
}
RESOLUTIONS = {"32x64", "64x96"}  # --quick's; ResNet-18 feature maps 1x2 and 2x3
# Fits a 1x2 feature map; unequal sizes so spatial mode's token count differs from one per camera
# (and differs from --quick's own default grids, so the flag is seen to be honoured).
GRIDS = {"wrist_detail": [1, 2], "wrist_context": [1, 1], "global_overview": [1, 1]}
DOC_HEAD = "# Benchmarks\n\nintro\n\n<!-- learning-benchmark:begin x -->\nlearning\n<!-- learning-benchmark:end x -->\n\n"
DOC_TAIL = "\n\n## Notes\n\nkept as written\n"
POSITIVE = (
    "params_total",
    "params_image_path",
    "encoder_tokens",
    "infer_ms",
    "backbone_ms",
    "image_path_ms",
    "train_s",
    "peak_mem_infer_mb",
    "peak_mem_train_mb",
    "infer_ratio_to_act",
    "train_ratio_to_act",
)


def expected_tokens(model: str, resolution: str) -> int:
    """latent + state, then ACT: one per ResNet-18 cell (stride 32) per camera; hetero_act: by mode."""
    height, width = (int(v) for v in resolution.split("x"))
    if model == "act":
        return 2 + 3 * math.ceil(height / 32) * math.ceil(width / 32)
    if model.startswith("hetero_spatial"):
        return 2 + 2 + 1 + 1  # every cell of each camera's role grid
    return 2 + 3  # cell_keys, pooled_keys: one fused token per camera


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("timing")
    doc = out / "benchmarks.md"
    doc.write_text(f"{DOC_HEAD}{TIMING_BEGIN}\nstale numbers\n{TIMING_END}{DOC_TAIL}")
    cmd = [sys.executable, "scripts/timing_benchmark.py", "--quick", "--role-grids", json.dumps(GRIDS)]
    log = run_logged(
        [*cmd, "--json", str(out / "t.json"), "--doc", str(doc)], REPO, out / "run.log", timeout=900
    )
    assert "[timing" in log  # progress is shown
    return json.loads((out / "t.json").read_text()), doc.read_text()


def rows_by_key(report: dict) -> dict[tuple[str, str], dict]:
    rows = report["rows"]
    by_key = {(r["model"], r["resolution"]): r for r in rows}
    assert len(by_key) == len(rows), "a model x resolution was measured twice"
    return by_key


def test_every_model_and_resolution_is_measured_with_positive_figures(quick_run) -> None:
    report, _ = quick_run
    rows = rows_by_key(report)
    expected = {(m, r) for m in TORCH_MODELS for r in RESOLUTIONS} | {
        ("hetero_cell_keys_default_sizes_onnxruntime", "64x96")
    }
    assert set(rows) == expected
    for (model, res), row in rows.items():
        if model.endswith("onnxruntime"):
            continue
        for name in POSITIVE:
            assert row[name] > 0, (model, res, name, row[name])
        assert row["infer_n"] == 2 and row["train_n"] == 2
    for res in RESOLUTIONS:
        assert rows["act", res]["infer_ratio_to_act"] == 1.0 == rows["act", res]["train_ratio_to_act"]


def test_default_sizes_row_feeds_the_backbone_its_roles_default_sizes_and_the_others_native(
    quick_run,
) -> None:
    report, _ = quick_run
    role_sizes = report["settings"]["role_image_sizes"]
    for row in report["rows"]:
        if row["model"].endswith("onnxruntime"):
            continue
        native = [int(v) for v in row["resolution"].split("x")]
        if row["model"] == "hetero_cell_keys_default_sizes":
            assert row["backbone_inputs"] == {c: role_sizes[r] for c, r in ALOHA_CAMERA_ROLES.items()}, row
        else:
            assert row["backbone_inputs"] == dict.fromkeys(ALOHA_CAMERA_ROLES, native), row


def test_encoder_token_counts_match_the_architectures(quick_run) -> None:
    report, _ = quick_run
    for row in report["rows"]:
        model = row["model"].removesuffix("_onnxruntime")
        assert row["encoder_tokens"] == expected_tokens(model, row["resolution"]), row


def test_image_path_parameters_differ_by_mode_as_designed(quick_run) -> None:
    """Spatial's per-cell Linear(C -> D) is smaller than pooled_keys' Linear(C*h*w -> D); the gate is a
    bias-free Linear(D -> 1); ACT's image path is its 1x1 conv 512 -> dim_model (64 in --quick)."""
    rows = rows_by_key(quick_run[0])
    for res in RESOLUTIONS:
        spatial = rows["hetero_spatial", res]["params_image_path"]
        assert spatial < rows["hetero_pooled_keys", res]["params_image_path"]
        assert rows["hetero_spatial_gated", res]["params_image_path"] - spatial == 64
        assert rows["act", res]["params_image_path"] == 512 * 64 + 64


def test_onnxruntime_row_matches_pytorch_and_is_timed(quick_run) -> None:
    rows = rows_by_key(quick_run[0])
    onnx = rows["hetero_cell_keys_default_sizes_onnxruntime", "64x96"]
    eager = rows["hetero_cell_keys_default_sizes", "64x96"]
    assert 0 <= onnx["onnx_max_abs_diff"] < 1e-4
    assert onnx["infer_ms"] > 0 and onnx["peak_mem_infer_mb"] > 0 and onnx["infer_n"] == 2
    assert onnx["params_total"] == eager["params_total"]  # the same policy, exported


def test_markdown_section_replaces_only_the_text_between_the_markers(quick_run) -> None:
    report, doc = quick_run
    assert doc.startswith(DOC_HEAD + TIMING_BEGIN) and doc.endswith(TIMING_END + DOC_TAIL)
    assert "stale numbers" not in doc and doc.count(TIMING_BEGIN) == 1 == doc.count(TIMING_END)
    assert "--quick" in report["command"] and f"`{report['command']}`" in doc
    assert report["date"] in doc and report["machine"]["torch"] in doc
    for row in report["rows"]:
        assert f"| {row['model']} | {row['resolution']} |" in doc
    assert "### Targets (measured, not asserted)" in doc
    assert (
        "| onnxruntime inference ≤ 0.30× ACT eager at 64x96 | hetero_cell_keys_default_sizes_onnxruntime |"
        in doc
    )
    assert "| role-aware sizes: inference ≤ 0.45× ACT at 64x96 | hetero_cell_keys_default_sizes |" in doc


def test_section_is_appended_when_the_doc_has_no_markers(tmp_path: Path) -> None:
    doc = tmp_path / "b.md"
    doc.write_text("# Benchmarks\n\nlearning text\n")
    write_section(doc, f"{TIMING_BEGIN}\nnew\n{TIMING_END}")
    assert doc.read_text() == f"# Benchmarks\n\nlearning text\n\n{TIMING_BEGIN}\nnew\n{TIMING_END}\n"
