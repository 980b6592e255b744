"""Camera roles and directed role edges: parsing, name-based defaults and validation.

Roles come from camera *names*, never from the position of a camera in the dataset: LeRobot orders
image features by dataset key, so an index-based role would silently change with the key order.
The feature key of a camera (`observation.images.<name>`, LeRobot's OBS_IMAGES) is built and split
only by `camera_key` / `camera_short_name`. Everything here is pure Python so that a config can be validated
before any tensor is built, and every error names the camera, role or edge at fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from lerobot.utils.constants import OBS_IMAGES

CAMERA_KEY_PREFIX = f"{OBS_IMAGES}."

# The design's three roles with their pooling grids (rows, cols) on the backbone's last feature map.
DEFAULT_ROLE_GRIDS: dict[str, list[int]] = {
    "wrist_detail": [6, 6],
    "wrist_context": [4, 4],
    "global_overview": [2, 2],
}

# Each design role's input size [height, width]: a camera with more pixels is resized to it inside the
# policy, one with fewer keeps its native size. These are the sizes the learning benchmark records at
# and measured (transfer_cube_v1); a 60x80 global_overview lost there (16% against 60% success), so
# smaller sizes are not the default (docs/benchmarks.md).
DEFAULT_ROLE_IMAGE_SIZES: dict[str, list[int]] = {
    "wrist_detail": [192, 256],
    "wrist_context": [120, 160],
    "global_overview": [120, 160],
}

# The design's six directed edges, written "query_role<-key_role": the query role attends to the key role.
DEFAULT_ATTENTION_EDGES: list[str] = [
    "wrist_detail<-global_overview",
    "wrist_detail<-wrist_context",
    "wrist_context<-global_overview",
    "wrist_context<-wrist_detail",
    "global_overview<-wrist_detail",
    "global_overview<-wrist_context",
]

EDGE_ARROW = "<-"

# Name-based default (used only when `camera_roles` is empty): a camera whose short name contains one
# of WRIST_WORDS is a wrist camera; it is `wrist_context` if the name also contains one of
# CONTEXT_WORDS, else `wrist_detail`. Every other camera is `global_overview`.
WRIST_WORDS = ("wrist", "hand", "gripper", "eef")
CONTEXT_WORDS = ("context",)


class CameraRoleError(ValueError):
    """A camera-role, grid or edge setting that cannot work; the message says which and what to do."""


CELL_KEYS = "cell_keys"
POOLED_KEYS = "pooled_keys"
SPATIAL = "spatial"
TOKEN_MODES = (CELL_KEYS, POOLED_KEYS, SPATIAL)
# Former names of token modes, still accepted so that older checkpoints' config.json loads unchanged.
LEGACY_TOKEN_MODES = {"pooled": POOLED_KEYS}


def resolve_token_mode(token_mode: str) -> str:
    """The token mode under its current name; CameraRoleError for an unknown one."""
    token_mode = LEGACY_TOKEN_MODES.get(token_mode, token_mode)
    if token_mode not in TOKEN_MODES:
        raise CameraRoleError(f"token_mode must be one of {TOKEN_MODES}, got {token_mode!r}.")
    return token_mode


def camera_key(name: str) -> str:
    """Full feature key for a camera given as `top` or `observation.images.top`."""
    return name if name.startswith(CAMERA_KEY_PREFIX) else CAMERA_KEY_PREFIX + name


def camera_short_name(key: str) -> str:
    """`observation.images.top` -> `top` (used for module names and logs)."""
    return key.removeprefix(CAMERA_KEY_PREFIX)


def default_role_for_camera(key: str) -> str:
    """The documented name-based default role of a camera."""
    name = camera_short_name(key).lower()
    if any(word in name for word in WRIST_WORDS):
        return "wrist_context" if any(word in name for word in CONTEXT_WORDS) else "wrist_detail"
    return "global_overview"


def parse_edge(edge: str) -> tuple[str, str]:
    """`"wrist_detail<-global_overview"` -> `("wrist_detail", "global_overview")` (query, key)."""
    parts = edge.split(EDGE_ARROW)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        raise CameraRoleError(
            f"attention_edges: cannot parse edge {edge!r}; write it as 'query_role{EDGE_ARROW}key_role', "
            f"e.g. 'wrist_detail{EDGE_ARROW}global_overview'."
        )
    return parts[0].strip(), parts[1].strip()


def is_positive_pair(value: object) -> bool:
    """Two positive integers (bools excluded), as a grid [rows, cols] or a size [height, width] must be."""
    return (
        isinstance(value, Sequence)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    )


def validate_role_grids(role_grids: Mapping[str, Sequence[int]]) -> None:
    """Every role needs a grid of two positive integers (rows, cols) for adaptive pooling."""
    if not role_grids:
        raise CameraRoleError(
            "role_grids is empty: define at least one role, e.g. {'global_overview': [2, 2]}."
        )
    for role, grid in role_grids.items():
        if not role or EDGE_ARROW in role:
            raise CameraRoleError(f"role_grids: invalid role name {role!r}.")
        if not is_positive_pair(grid):
            raise CameraRoleError(
                f"role_grids[{role!r}] = {grid!r}: a grid must be two positive integers [rows, cols], e.g. [4, 4]."
            )


def backbone_stride(final_stride_dilated: bool) -> int:
    """Output stride of ACT's ResNet backbone (layer4): 32, or 16 with ACT's
    `replace_final_stride_with_dilation`."""
    return 16 if final_stride_dilated else 32


def feature_map_size(image_size: Sequence[int], stride: int) -> tuple[int, int]:
    """(rows, cols) of a torchvision ResNet's feature map: every stride-2 stage maps n -> ceil(n / 2)."""
    return tuple(-(-int(n) // stride) for n in image_size)  # type: ignore[return-value]


def min_image_size(grid: Sequence[int], stride: int) -> tuple[int, int]:
    """Smallest (height, width) whose feature map has at least `grid` cells along each axis."""
    return tuple(stride * (n - 1) + 1 for n in grid)  # type: ignore[return-value]


def validate_grids_fit_images(
    camera_roles: Mapping[str, str],
    image_sizes: Mapping[str, Sequence[int]],
    role_grids: Mapping[str, Sequence[int]],
    stride: int,
    resized: Iterable[str] = (),
) -> None:
    """Refuse a role grid larger than a camera's feature map.

    Adaptive pooling to a grid larger than the map up-samples it: a 6x6 grid on a 3x4 map holds 12
    distinct values, so the "detail" role would see no detail while costing tokens. The error names
    the camera and the smallest image size that fills the grid; for the `resized` cameras (whose
    size comes from role_image_sizes) it says to raise that size instead.
    """
    resized = set(resized)
    for key, role in camera_roles.items():
        grid = role_grids[role]
        fmap = feature_map_size(image_sizes[key], stride)
        if fmap[0] < grid[0] or fmap[1] < grid[1]:
            min_h, min_w = min_image_size(grid, stride)
            images = "role_image_sizes resizes its images to" if key in resized else "its images are"
            fix = (
                f"raise role_image_sizes[{role!r}] to at least [{min_h}, {min_w}] (or null for native size)"
                if key in resized
                else f"record or resize this camera to at least {min_h}x{min_w} (height x width)"
            )
            raise CameraRoleError(
                f"camera {key!r} (role {role!r}): {images} {image_sizes[key][0]}x{image_sizes[key][1]}, which "
                f"gives a {fmap[0]}x{fmap[1]} backbone feature map (stride {stride}), smaller than the role's "
                f"{grid[0]}x{grid[1]} grid. Either {fix}, or give the role a grid of at most "
                f"{fmap[0]}x{fmap[1]} in role_grids."
            )


def default_role_image_sizes(roles: Iterable[str]) -> dict[str, list[int]]:
    """DEFAULT_ROLE_IMAGE_SIZES for those of `roles` it names; other roles keep native sizes."""
    return {role: list(DEFAULT_ROLE_IMAGE_SIZES[role]) for role in roles if role in DEFAULT_ROLE_IMAGE_SIZES}


def backbone_input_size(native: Sequence[int], role_size: Sequence[int] | None) -> tuple[int, int]:
    """(height, width) the backbone sees: the role's size if the camera has more pixels than it, else
    the native size, since up-sampling adds cost and no detail."""
    if role_size is None or native[0] * native[1] <= role_size[0] * role_size[1]:
        return (int(native[0]), int(native[1]))
    return (int(role_size[0]), int(role_size[1]))


def validate_role_image_sizes(
    role_image_sizes: Mapping[str, Sequence[int] | None], roles: Iterable[str]
) -> None:
    """Every sized role is defined and its size is null or two positive integers [height, width]."""
    roles = set(roles)
    for role, size in role_image_sizes.items():
        if role not in roles:
            raise CameraRoleError(
                f"role_image_sizes: role {role!r} is not defined. Defined roles (role_grids): {sorted(roles)}."
            )
        if size is not None and not is_positive_pair(size):
            raise CameraRoleError(
                f"role_image_sizes[{role!r}] = {size!r}: give [height, width] as two positive integers "
                "(e.g. [192, 256]) or null for the cameras' native size."
            )


def validate_edges(edges: Iterable[str], roles: Iterable[str]) -> list[tuple[str, str]]:
    """Parse the edges and check each names defined roles, is not a self-loop and is not repeated."""
    roles = set(roles)
    parsed: list[tuple[str, str]] = []
    for edge in edges:
        query_role, key_role = parse_edge(edge)
        for role in (query_role, key_role):
            if role not in roles:
                raise CameraRoleError(
                    f"attention_edges: edge {edge!r} names role {role!r}, which is not defined. "
                    f"Defined roles (role_grids): {sorted(roles)}."
                )
        if query_role == key_role:
            raise CameraRoleError(
                f"attention_edges: edge {edge!r} connects role {query_role!r} to itself; edges join two different roles."
            )
        if (query_role, key_role) in parsed:
            raise CameraRoleError(f"attention_edges: edge {edge!r} is listed twice.")
        parsed.append((query_role, key_role))
    return parsed


def built_edges(edges: Iterable[tuple[str, str]], roles_with_cameras: Iterable[str]) -> list[tuple[str, str]]:
    """The (query_role, key_role) edges that get attention modules: both roles must have a camera."""
    roles = set(roles_with_cameras)
    return [(q, k) for q, k in edges if q in roles and k in roles]


def normalize_camera_roles(camera_roles: Mapping[str, str], roles: Iterable[str]) -> dict[str, str]:
    """Key the mapping by full camera keys and check every role it names is defined."""
    roles = set(roles)
    normalized: dict[str, str] = {}
    for name, role in camera_roles.items():
        key = camera_key(name)
        if key in normalized and normalized[key] != role:
            raise CameraRoleError(
                f"camera_roles: camera {key!r} is given two roles ({normalized[key]!r}, {role!r})."
            )
        if role not in roles:
            raise CameraRoleError(
                f"camera_roles: camera {key!r} has unknown role {role!r}. Defined roles: {sorted(roles)} "
                f"(add it to role_grids with its pooling grid to define a new role)."
            )
        normalized[key] = role
    return normalized


def resolve_camera_roles(
    camera_roles: Mapping[str, str],
    image_keys: Sequence[str],
    role_grids: Mapping[str, Sequence[int]],
) -> dict[str, str]:
    """The role of every dataset camera, in `image_keys` order.

    With an explicit `camera_roles`, every dataset camera must have a role and every mapped camera must
    exist; with an empty one, the name-based default decides.
    """
    if not image_keys:
        return {}
    explicit = normalize_camera_roles(camera_roles, role_grids)
    if explicit:
        missing = [key for key in explicit if key not in image_keys]
        if missing:
            raise CameraRoleError(
                f"camera_roles maps camera(s) {missing} that are not among the dataset's image features "
                f"{list(image_keys)}. Fix the camera names or remove them from camera_roles."
            )
        unmapped = [key for key in image_keys if key not in explicit]
        if unmapped:
            raise CameraRoleError(
                f"dataset camera(s) {unmapped} have no role in camera_roles. Give each a role "
                f"(one of {sorted(role_grids)}), or leave camera_roles empty to use the name-based default."
            )
        return {key: explicit[key] for key in image_keys}
    resolved = {key: default_role_for_camera(key) for key in image_keys}
    for key, role in resolved.items():
        if role not in role_grids:
            raise CameraRoleError(
                f"camera {key!r} defaults to role {role!r} by its name, but role_grids does not define "
                f"{role!r}. Set camera_roles explicitly (roles: {sorted(role_grids)})."
            )
    return resolved
