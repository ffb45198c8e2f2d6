"""Offscreen OpenGL backend selection for MuJoCo's renderer.

MuJoCo picks its GL backend from ``MUJOCO_GL`` when ``mujoco`` is first imported, so this
module must run before that import: ``cosmos_sim/__init__.py`` calls it, so any
``import cosmos_sim...`` that precedes ``import mujoco`` gets a working backend. It honours a backend the user already chose, otherwise
takes EGL (hardware on GPU machines, Mesa's llvmpipe on CPU machines) and falls back to
OSMesa. When neither library can be loaded it raises an error naming the Debian/Ubuntu
packages that provide them, instead of MuJoCo's default GLFW failing with "no display".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# backend -> (shared libraries that must load, packages that provide them)
_BACKENDS = {
    "egl": (("EGL", "GL"), "libegl1 libegl-mesa0 libgl1-mesa-dri (Mesa) or the NVIDIA driver's EGL"),
    "osmesa": (("OSMesa",), "libosmesa6"),
}


_mujoco_imported_first = False


class RenderingUnavailableError(RuntimeError):
    """No offscreen OpenGL backend can be loaded on this machine."""


def _loadable(library: str) -> bool:
    path = ctypes.util.find_library(library)
    if path is None:
        return False
    try:
        ctypes.CDLL(path)
    except OSError:
        return False
    return True


def select_gl_backend() -> str | None:
    """Set ``MUJOCO_GL`` (and PyOpenGL's platform) to a loadable offscreen backend and return it.

    Returns None when neither backend's libraries load; physics still works then, and the first
    attempt to render raises ``renderer_error`` naming the packages to install.
    """
    chosen = os.environ.get("MUJOCO_GL", "").strip().lower()
    if chosen:
        return chosen
    if "mujoco" in sys.modules:
        # Too late to choose: mujoco already picked its backend at import time.
        global _mujoco_imported_first
        _mujoco_imported_first = True
        return None
    for backend, (libraries, _packages) in _BACKENDS.items():
        if all(_loadable(lib) for lib in libraries):
            os.environ["MUJOCO_GL"] = backend
            os.environ.setdefault("PYOPENGL_PLATFORM", backend)
            return backend
    return None


def renderer_error(exc: Exception) -> RenderingUnavailableError:
    """Wrap a failure to create a GL context into an error that says what to install."""
    backend = os.environ.get("MUJOCO_GL")
    if backend is None:
        backend = (
            "<unset: mujoco was imported before cosmos_sim, so it chose GLFW, which needs a display>"
            if _mujoco_imported_first
            else "<unset: neither libEGL nor libOSMesa could be loaded>"
        )
    hint = "; ".join(f"{b}: apt-get install {packages}" for b, (_, packages) in _BACKENDS.items())
    return RenderingUnavailableError(
        f"MuJoCo could not create an offscreen OpenGL context with MUJOCO_GL={backend!r} ({exc}). "
        f"Packages that provide a backend: {hint}. Set MUJOCO_GL=egl or MUJOCO_GL=osmesa to choose one."
    )
