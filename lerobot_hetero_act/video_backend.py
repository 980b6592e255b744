"""Which video decoder LeRobot should use here, decided once and passed explicitly.

LeRobot 0.6.1 picks its default decoder with `get_safe_default_video_backend()`, which imports
torchcodec and, on a machine without FFmpeg's shared libraries (torchcodec loads them at import),
logs torchcodec's ~150-line loading traceback before falling back to PyAV. It does so wherever a
`LeRobotDataset` or a `DatasetConfig` is made without a backend: every recording and every
`lerobot-train` log. Passing the backend explicitly avoids the attempt:

    LeRobotDataset.create(..., video_backend=video_backend())
    lerobot-train ... --dataset.video_backend=<video_backend()>   (see video_backend_args())

The flag alone is not enough: LeRobot's parser (draccus) also evaluates each field's default
factory while building the command line, so `use_video_backend_as_parser_default()` -- run when
LeRobot imports this plugin, before it parses -- points that default at `video_backend()`. It
changes which function computes the default, not the default itself: both return "torchcodec"
where torchcodec loads and "pyav" where it does not.
"""

from __future__ import annotations

import functools
import importlib.util
import logging

TORCHCODEC = "torchcodec"
PYAV = "pyav"


@functools.cache
def video_backend() -> str:
    """ "torchcodec" where it can be imported (FFmpeg libraries present), else "pyav"."""
    if importlib.util.find_spec(TORCHCODEC) is None:
        return PYAV
    try:
        importlib.import_module(TORCHCODEC)
    except (ImportError, OSError, RuntimeError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        logging.getLogger(__name__).debug("torchcodec cannot be loaded (%s); using pyav", first_line)
        return PYAV
    return TORCHCODEC


def video_backend_args() -> list[str]:
    """The `lerobot-train` flag that makes this choice explicit."""
    return [f"--dataset.video_backend={video_backend()}"]


def use_video_backend_as_parser_default() -> None:
    """Make the default draccus reads for `DatasetConfig.video_backend` come from `video_backend()`.

    Only the dataclass field's `default_factory` attribute (what draccus calls while building the
    parser) is replaced; `DatasetConfig()` itself keeps LeRobot's factory, so commands still pass
    `--dataset.video_backend` (video_backend_args()).
    """
    from lerobot.configs.default import DatasetConfig

    DatasetConfig.__dataclass_fields__["video_backend"].default_factory = video_backend
