"""ONNX export of a hetero_act policy's network, with a parity check through onnxruntime.

    python -m lerobot_hetero_act.export --policy-path DIR_OR_HUB_ID --output policy.onnx

The graph has the contract of `HeteroACTPolicy.predict_action_chunk`: its inputs are the observation
*after* LeRobot's preprocessor (normalised, batched), one input per feature key (`observation.state`,
`observation.environment_state`, `observation.images.<camera>`, in the config's order), and its one
output `action` is the normalised chunk, shape (batch, chunk_size, action_dim). The batch axis is
dynamic. What is exported is the network (`policy.model` in eval mode, fed ACT's list of images built
from the named inputs), so every token mode and option the model has exports with it; the observation
checks of the policy are not in the graph (`onnx_runner.HeteroACTOnnxRunner` does them).

A camera the policy tolerates missing (trained with camera_dropout) can be left out of the graph with
`--missing-camera KEY`: the graph then has no input for it and uses its learned absent token.

After writing the file the command runs onnxruntime on random normalised inputs at two batch sizes,
prints the largest absolute difference from PyTorch and exits non-zero above `--tolerance` (1e-4).
Needs the `deploy` extra: pip install "lerobot_policy_hetero_act[deploy]".
"""

from __future__ import annotations

import argparse
import copy
import logging
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from lerobot.utils.constants import ACTION, OBS_ENV_STATE, OBS_STATE
from torch import Tensor, nn

from .camera_roles import camera_key
from .checkpoint_checks import CheckpointError, open_checkpoint
from .configuration_hetero_act import HeteroACTConfig

OUTPUT_NAME = ACTION  # "action"
DEFAULT_TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """The export cannot be made or does not match PyTorch; the message says which path or value."""


class ChunkGraph(nn.Module):
    """`policy.model` behind one positional tensor per named input: the graph that is exported.

    forward(*inputs) -> (batch, chunk_size, action_dim), the normalised chunk of predict_action_chunk.
    """

    def __init__(self, model: nn.Module, input_names: Sequence[str]):
        super().__init__()
        self.model = model
        self.input_names = list(input_names)

    def forward(self, *inputs: Tensor) -> Tensor:
        # A camera left out of the graph is simply not an input: the network uses its absent token.
        return self.model(dict(zip(self.input_names, inputs, strict=True)))[0]


def graph_input_names(config: HeteroACTConfig, missing_cameras: Sequence[str] = ()) -> list[str]:
    """The graph's input names, in order: state, environment state, then cameras in config order."""
    names = []
    if config.robot_state_feature is not None:
        names.append(OBS_STATE)
    if config.env_state_feature is not None:
        names.append(OBS_ENV_STATE)
    names += [key for key in config.image_features if key not in missing_cameras]
    return names


def sample_inputs(
    config: HeteroACTConfig,
    batch_size: int,
    seed: int = 0,
    missing_cameras: Sequence[str] = (),
    with_action: bool = False,
) -> dict[str, Tensor]:
    """Random inputs as the preprocessor produces them (mean/std-normalised, so roughly N(0, 1)), for
    any ACT-family config; `with_action` adds a training batch's action chunk and its padding mask."""
    gen = torch.Generator().manual_seed(seed)
    batch = {
        name: torch.randn(batch_size, *config.input_features[name].shape, generator=gen)
        for name in graph_input_names(config, missing_cameras)
    }
    if with_action:
        action_dim = config.action_feature.shape[0]
        batch[ACTION] = torch.randn(batch_size, config.chunk_size, action_dim, generator=gen)
        batch["action_is_pad"] = torch.zeros(batch_size, config.chunk_size, dtype=torch.bool)
    return batch


def load_policy(policy_path: str):
    """The hetero_act policy of a checkpoint folder or Hub id, on CPU in eval mode (open_checkpoint)."""
    return open_checkpoint(policy_path).policy


def _check_missing_cameras(config: HeteroACTConfig, missing_cameras: Sequence[str]) -> list[str]:
    keys = [camera_key(k) for k in missing_cameras]
    unknown = [k for k in keys if k not in config.image_features]
    if unknown:
        raise ExportError(
            f"--missing-camera {unknown}: not a camera of this policy {list(config.image_features)}."
        )
    if keys and config.camera_dropout <= 0:
        raise ExportError(
            f"--missing-camera {keys}: this policy was trained without camera dropout, so it has no "
            "absent-camera token and needs every camera."
        )
    if len(keys) == len(config.image_features) and keys:
        raise ExportError("--missing-camera: at least one camera must stay in the graph.")
    return keys


def export_onnx(
    policy,
    output: str | Path,
    missing_cameras: Sequence[str] = (),
    opset: int | None = None,
    exporter: str = "dynamo",
) -> Path:
    """Write the ONNX graph of `policy.model` (see the module docstring) to `output`; returns the path.

    `exporter="dynamo"` uses `torch.onnx.export(..., dynamo=True)` and falls back to the TorchScript
    exporter if that fails; `"torchscript"` uses the TorchScript exporter directly.
    """
    config: HeteroACTConfig = policy.config
    missing = _check_missing_cameras(config, missing_cameras)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(policy.model).eval().cpu()  # exporting must not leave traces on the policy
    names = graph_input_names(config, missing)
    graph = ChunkGraph(model, names).eval()
    # Batch 2 for tracing: a size-1 dimension would be specialised to a constant.
    example = sample_inputs(config, batch_size=2, missing_cameras=missing)
    args = tuple(example[n] for n in names)

    if exporter == "dynamo":
        try:
            batch = torch.export.Dim("batch", min=1, max=4096)
            with warnings.catch_warnings():
                # The fusion keeps the view-gate weights for logging; on the exported copy that is moot.
                warnings.filterwarnings("ignore", message=".*last_gate was assigned during export")
                program = torch.export.export(
                    graph,
                    args,
                    # forward(*inputs): one entry for the varargs tuple, one spec per input inside it.
                    dynamic_shapes=(tuple({0: batch} for _ in names),),
                    strict=False,
                )
            onnx_logger = logging.getLogger("onnxscript")
            level = onnx_logger.level
            onnx_logger.setLevel(logging.ERROR)  # "Skipping constant folding for op Split", once per split
            try:
                torch.onnx.export(
                    program,
                    (),
                    str(output),
                    input_names=names,
                    output_names=[OUTPUT_NAME],
                    dynamo=True,
                    opset_version=opset,
                    external_data=False,
                    verbose=False,
                )
            finally:
                onnx_logger.setLevel(level)
            return output
        except Exception as e:
            logging.warning(
                "dynamo ONNX export failed (%s: %s); using the TorchScript exporter.", type(e).__name__, e
            )
    elif exporter != "torchscript":
        raise ExportError(f"exporter must be 'dynamo' or 'torchscript', got {exporter!r}.")
    with torch.no_grad():
        torch.onnx.export(
            graph,
            args,
            str(output),
            input_names=names,
            output_names=[OUTPUT_NAME],
            dynamo=False,
            dynamic_axes={n: {0: "batch"} for n in [*names, OUTPUT_NAME]},
            opset_version=opset or 17,
        )
    return output


def onnx_session(onnx_path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session (ExportError naming the extra if onnxruntime is not installed)."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ExportError(
            'onnxruntime is not installed: pip install "lerobot_policy_hetero_act[deploy]".'
        ) from e
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


def max_abs_difference(
    policy, onnx_path: str | Path, batch_sizes: Sequence[int] = (1, 3), missing_cameras: Sequence[str] = ()
) -> float:
    """Largest |onnxruntime - PyTorch predict_action_chunk| over random inputs at each batch size."""
    config: HeteroACTConfig = policy.config
    missing = _check_missing_cameras(config, missing_cameras)
    session = onnx_session(onnx_path)
    worst = 0.0
    for seed, batch_size in enumerate(batch_sizes, start=1):
        inputs = sample_inputs(config, batch_size, seed=seed, missing_cameras=missing)
        with torch.no_grad():
            expected = policy.predict_action_chunk(dict(inputs))
        got = session.run([OUTPUT_NAME], {k: v.numpy() for k, v in inputs.items()})[0]
        if tuple(got.shape) != tuple(expected.shape):
            raise ExportError(f"ONNX output shape {tuple(got.shape)} != PyTorch {tuple(expected.shape)}.")
        worst = max(worst, float((torch.from_numpy(got) - expected).abs().max()))
    return worst


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lerobot_hetero_act.export",
        description="Export a hetero_act checkpoint to ONNX (predict_action_chunk after the preprocessor) "
        "and check it against PyTorch with onnxruntime.",
    )
    parser.add_argument("--policy-path", required=True, help="checkpoint folder (pretrained_model) or Hub id")
    parser.add_argument("--output", required=True, help="the .onnx file to write")
    parser.add_argument(
        "--missing-camera",
        action="append",
        default=[],
        help="leave this camera out of the graph (its absent token stands in; needs camera_dropout > 0)",
    )
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")
    parser.add_argument("--exporter", choices=["dynamo", "torchscript"], default="dynamo")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        policy = load_policy(args.policy_path)
        start = time.perf_counter()
        path = export_onnx(policy, args.output, args.missing_camera, args.opset, args.exporter)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s")
        diff = max_abs_difference(policy, path, missing_cameras=args.missing_camera)
    except (ExportError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"max |onnxruntime - PyTorch| = {diff:.3g} (tolerance {args.tolerance:g}, batch sizes 1 and 3)")
    if not diff <= args.tolerance:  # also catches NaN
        print(
            f"error: the ONNX graph differs from PyTorch by {diff:.3g} > {args.tolerance:g}; "
            f"do not deploy {path}.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
