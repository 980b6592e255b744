"""Offscreen rendering of the selected cameras at their own sizes, without shadows.

gym-aloha renders through dm_control's `physics.render`, which rebuilds a scene per call and
draws the 4096-px shadow map. Here one `mujoco.Renderer` per distinct image size is reused across
steps with shadows and reflections off, and only the cameras that are actually recorded or observed
are drawn. Multisample anti-aliasing is off by default too: reading back a 4x multisampled buffer
costs more than the scene itself on the CPU renderer (the README's table, from
scripts/measure_render_fps.py, has the figures). Record and evaluate with the same setting so
training and evaluation images look alike.
"""

from __future__ import annotations

import atexit
import functools
import weakref
from collections.abc import Mapping

import mujoco
import numpy as np
from dm_control.mujoco import Physics

from lerobot_hetero_act.sim.cameras import ImageSize, parse_cameras

_LIVE_RENDERERS: weakref.WeakSet[CameraRenderer] = weakref.WeakSet()


def _close_live_renderers() -> None:
    """Free every renderer's GL context while EGL still works.

    Left to interpreter teardown, mujoco.Renderer.__del__ frees its context after mujoco.egl's own
    atexit handler has called eglTerminate (or after the EGL bindings are gone), and prints
    "Exception ignored in Renderer.__del__ ... EGLError EGL_NOT_INITIALIZED".
    """
    for renderer in list(_LIVE_RENDERERS):
        renderer.close()


@functools.cache  # register once
def _register_exit_hook() -> None:
    """Register `_close_live_renderers` once, after the first GL context exists.

    mujoco.egl registers `eglTerminate` with atexit when it opens the EGL display, i.e. when the first
    renderer is made; atexit runs handlers last-registered-first, so a hook registered at import time
    would run after eglTerminate. Registered here, it runs before.
    """
    atexit.register(_close_live_renderers)


class CameraRenderer:
    """Renders `{camera: (H, W, 3) uint8}` for a fixed camera -> size map."""

    def __init__(
        self,
        physics: Physics,
        camera_sizes: Mapping[str, ImageSize],
        shadows: bool = False,
        reflections: bool = False,
        antialias: bool = False,
    ) -> None:
        parse_cameras(list(camera_sizes), field="camera_sizes")
        self._physics = physics
        self.camera_sizes: dict[str, ImageSize] = dict(camera_sizes)
        self.shadows = shadows
        self.reflections = reflections
        model = physics.model.ptr
        # Offscreen MSAA samples are a model setting, read when a renderer's GL buffers are made.
        model.vis.quality.offsamples = 4 if antialias else 0
        # The offscreen framebuffer must hold the largest requested image (scene default 640x480).
        sizes = list(camera_sizes.values())
        model.vis.global_.offheight = max(model.vis.global_.offheight, *(h for h, _ in sizes))
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, *(w for _, w in sizes))
        self._renderers: dict[ImageSize, mujoco.Renderer] = {}
        for size in dict.fromkeys(sizes):
            self._renderer(size)
        _LIVE_RENDERERS.add(self)
        _register_exit_hook()

    def _renderer(self, size: ImageSize) -> mujoco.Renderer:
        if size not in self._renderers:
            renderer = mujoco.Renderer(self._physics.model.ptr, height=size[0], width=size[1])
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = self.shadows
            renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = self.reflections
            self._renderers[size] = renderer
        return self._renderers[size]

    def render_camera(self, camera: str, size: ImageSize) -> np.ndarray:
        """One image of `camera` at `size` (any camera of the scene, e.g. for eval videos)."""
        renderer = self._renderer(tuple(size))  # type: ignore[arg-type]
        renderer.update_scene(self._physics.data.ptr, camera=camera)
        return renderer.render()

    def render(self) -> dict[str, np.ndarray]:
        """All configured cameras, in configuration order."""
        return {camera: self.render_camera(camera, size) for camera, size in self.camera_sizes.items()}

    def close(self) -> None:
        """Free the GL contexts now (idempotent); env.close() and the exit hook call it."""
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
        _LIVE_RENDERERS.discard(self)
