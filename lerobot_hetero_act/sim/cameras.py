"""Camera names and image-size parsing shared by the recorder CLI and the eval env config.

Kept free of MuJoCo imports so configuration code can validate user input cheaply.
Every error names the offending field and the valid choices, because these strings come
straight from command lines (`--cameras`, `--camera-size`, `--env.camera_sizes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

ImageSize = tuple[int, int]
"""(height, width) in pixels."""

CAMERAS = ("top", "left_wrist", "right_wrist", "angle", "front_close", "left_pillar", "right_pillar")
"""Cameras defined in gym-aloha's MuJoCo scene (gym-aloha itself renders only `top`)."""

DEFAULT_CAMERAS: tuple[str, ...] = ("top", "left_wrist", "right_wrist")
ALOHA_CAMERA_ROLES = {"top": "global_overview", "left_wrist": "wrist_detail", "right_wrist": "wrist_context"}
"""The design's role of each default ALOHA camera: the left wrist sees the detail, the right wrist
the context of the manipulation, and `top` the whole scene."""
DEFAULT_IMAGE_SIZE: ImageSize = (480, 640)
MAX_IMAGE_SIDE = 2048


def parse_image_size(text: str | Sequence[int], field: str) -> ImageSize:
    """Parse "HxW" (or a (H, W) pair) into a validated (height, width) tuple."""
    if isinstance(text, str):
        parts = text.lower().replace(" ", "").split("x")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"{field}: expected HEIGHTxWIDTH such as 240x320, got {text!r}")
    elif len(parts := list(text)) != 2:
        raise ValueError(f"{field}: expected (height, width), got {text!r}")
    height, width = (int(p) for p in parts)
    for name, value in (("height", height), ("width", width)):
        if not 1 <= value <= MAX_IMAGE_SIDE:
            raise ValueError(f"{field}: {name} must be between 1 and {MAX_IMAGE_SIDE}, got {value}")
    return height, width


def _check_camera(name: str, field: str) -> str:
    if name not in CAMERAS:
        raise ValueError(f"{field}: unknown camera {name!r}; valid choices: {', '.join(CAMERAS)}")
    return name


def parse_cameras(value: str | Sequence[str], field: str = "cameras") -> list[str]:
    """Parse "top,left_wrist" (or a list) into a validated, duplicate-free camera list."""
    names = value.split(",") if isinstance(value, str) else list(value)
    cameras = [str(n).strip() for n in names if str(n).strip()]
    if not cameras:
        raise ValueError(f"{field}: at least one camera is required; valid choices: {', '.join(CAMERAS)}")
    for name in cameras:
        _check_camera(name, field)
    duplicates = sorted({c for c in cameras if cameras.count(c) > 1})
    if duplicates:
        raise ValueError(f"{field}: camera(s) listed twice: {', '.join(duplicates)}")
    return cameras


def parse_camera_sizes(
    value: str | Mapping[str, str | Sequence[int]] | Sequence[str] | None, field: str = "camera_sizes"
) -> dict[str, ImageSize]:
    """Parse per-camera overrides: "left_wrist=120x160,right_wrist=120x160", a list of
    "cam=HxW" items, or a mapping {cam: "HxW" | (H, W)}."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        items = list(value.items())
    else:
        entries = value.split(",") if isinstance(value, str) else [str(v) for v in value]
        items = []
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            if "=" not in entry:
                raise ValueError(
                    f"{field}: expected CAMERA=HEIGHTxWIDTH such as left_wrist=120x160, got {entry!r}"
                )
            name, size = entry.split("=", 1)
            items.append((name.strip(), size.strip()))
    sizes: dict[str, ImageSize] = {}
    for name, size in items:
        _check_camera(name, field)
        if name in sizes:
            raise ValueError(f"{field}: camera {name!r} given twice")
        sizes[name] = parse_image_size(size, f"{field}[{name}]")
    return sizes


def resolve_camera_sizes(
    cameras: Sequence[str],
    default_size: ImageSize,
    overrides: Mapping[str, ImageSize],
    field: str = "camera_sizes",
) -> dict[str, ImageSize]:
    """Size of every selected camera, in camera order; overrides must name selected cameras."""
    unused = [name for name in overrides if name not in cameras]
    if unused:
        raise ValueError(
            f"{field}: size given for camera(s) not selected: {', '.join(unused)}; selected: {', '.join(cameras)}"
        )
    return {name: tuple(overrides.get(name, default_size)) for name in cameras}  # type: ignore[misc]


def format_camera_sizes(sizes: Mapping[str, ImageSize]) -> str:
    """Inverse of `parse_camera_sizes`, for logs and sidecar files."""
    return ",".join(f"{name}={h}x{w}" for name, (h, w) in sizes.items())


def recorder_camera_args(sizes: Mapping[str, ImageSize]) -> list[str]:
    """`scripts/record_sim_demos.py` flags that record these cameras at these sizes."""
    h, w = next(iter(sizes.values()))
    return [
        "--cameras",
        ",".join(sizes),
        "--image-size",
        f"{h}x{w}",
        "--camera-size",
        format_camera_sizes(sizes),
    ]


def eval_env_camera_args(sizes: Mapping[str, ImageSize]) -> list[str]:
    """`lerobot-eval --env.type=aloha_multicam` flags that render these cameras at these sizes.

    The first camera's size is the env's default; only cameras of another size get `--env.camera_sizes`.
    """
    first = next(iter(sizes.values()))
    others = {name: size for name, size in sizes.items() if tuple(size) != tuple(first)}
    args = [
        f"--env.cameras=[{','.join(sizes)}]",
        f"--env.observation_height={first[0]}",
        f"--env.observation_width={first[1]}",
    ]
    return args + ([f"--env.camera_sizes={format_camera_sizes(others)}"] if others else [])
