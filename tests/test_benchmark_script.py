"""`scripts/benchmark.py --quick` end to end: a real subprocess run, JSON and markdown checked.

Numbers of a --quick run are meaningless (tiny dims, 2 repeats, shared cores); what is checked is
that every model x resolution is measured, every figure is positive, and the encoder token counts,
read by a hook on ACT's transformer encoder, are the ones the architectures imply.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "benchmark.py"
MODELS = {"act", "hetero_pooled", "hetero_spatial", "hetero_spatial_gated"}
QUICK_RESOLUTIONS = {"32x64", "64x96"}
POSITIVE_FIELDS = (
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
    """latent + state, then per camera: ACT one per ResNet-18 cell (stride 32), hetero_act by role.

    Roles: left_wrist wrist_detail 6x6, right_wrist wrist_context 4x4, top global_overview 2x2.
    """
    height, width = (int(v) for v in resolution.split("x"))
    if model == "act":
        return 2 + 3 * math.ceil(height / 32) * math.ceil(width / 32)
    if model == "hetero_pooled":
        return 2 + 3
    return 2 + 36 + 16 + 4


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench")
    json_path, md_path = out / "bench.json", out / "bench.md"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(json_path), "--md", str(md_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "timing configs" in proc.stderr  # progress is shown
    return json.loads(json_path.read_text()), md_path.read_text()


def test_every_model_and_resolution_has_positive_numbers(quick_report: tuple[dict, str]) -> None:
    report, _ = quick_report
    rows = report["timing"]["rows"]
    assert {(r["model"], r["resolution"]) for r in rows} == {
        (m, res) for m in MODELS for res in QUICK_RESOLUTIONS
    }
    assert len(rows) == len(MODELS) * len(QUICK_RESOLUTIONS)
    for row in rows:
        for name in POSITIVE_FIELDS:
            assert row[name] > 0, (row["model"], row["resolution"], name, row[name])
        assert row["infer_n"] == 2 and row["train_n"] == 2
    for row in (r for r in rows if r["model"] == "act"):
        assert row["infer_ratio_to_act"] == 1.0 and row["train_ratio_to_act"] == 1.0


def test_encoder_token_counts_match_the_architectures(quick_report: tuple[dict, str]) -> None:
    report, _ = quick_report
    for row in report["timing"]["rows"]:
        assert row["encoder_tokens"] == expected_tokens(row["model"], row["resolution"]), row


def test_act_token_count_at_240x320_is_242() -> None:
    """The formula the full run is read against: 2 + 3 x (8 x 10) for ResNet-18 at 240x320."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import benchmark
    finally:
        sys.path.remove(str(SCRIPT.parent))
    assert benchmark.expected_act_tokens(240, 320) == 242 == expected_tokens("act", "240x320")
    assert benchmark.expected_act_tokens(480, 640) == 2 + 3 * 15 * 20


def test_parameters_and_image_path(quick_report: tuple[dict, str]) -> None:
    """Spatial mode's per-cell Linear(C -> D) is smaller than pooled mode's Linear(C*h*w -> D)."""
    report, _ = quick_report
    rows = {(r["model"], r["resolution"]): r for r in report["timing"]["rows"]}
    for res in QUICK_RESOLUTIONS:
        pooled, spatial = rows["hetero_pooled", res], rows["hetero_spatial", res]
        gated = rows["hetero_spatial_gated", res]
        assert spatial["params_image_path"] < pooled["params_image_path"]
        assert (
            gated["params_image_path"] - spatial["params_image_path"] == 64 + 1
        )  # the gate's Linear(D -> 1)
        assert rows["act", res]["params_image_path"] == 512 * 64 + 64  # ACT's 1x1 conv, 512 -> dim_model 64


def test_markdown_report_lists_command_machine_and_rows(quick_report: tuple[dict, str]) -> None:
    report, markdown = quick_report
    timing = report["timing"]
    assert "--quick" in timing["command"] and timing["command"] in markdown
    assert timing["machine"]["cores"] >= 1 and timing["machine"]["torch"] in markdown
    assert timing["date"] in markdown
    for row in timing["rows"]:
        assert f"| {row['model']} | {row['resolution']} |" in markdown
    assert "### Targets (measured, not asserted)" in markdown
