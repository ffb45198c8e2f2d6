"""Offscreen GL backend selection and the error a user sees when no backend works."""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import mujoco
import pytest

import cosmos_sim.envs  # noqa: F401
from cosmos_sim import rendering


def test_a_backend_was_selected_before_mujoco_was_imported():
    # cosmos_sim/__init__ runs first in this process (conftest-free import order is the test's).
    code = "import cosmos_sim, os, mujoco; print(os.environ.get('MUJOCO_GL'))"
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() in ("egl", "osmesa")


def test_user_choice_of_backend_is_kept(monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    assert rendering.select_gl_backend() == "osmesa"


def test_context_failure_names_the_packages_to_install(monkeypatch):
    def broken_renderer(*args, **kwargs):
        raise mujoco.FatalError("an OpenGL platform library has not been loaded into this process")

    monkeypatch.setattr(mujoco, "Renderer", broken_renderer)
    env = gym.make("cosmos_sim/PushBlock-v0")
    with pytest.raises(rendering.RenderingUnavailableError) as info:
        env.reset(seed=0)
    message = str(info.value)
    assert "libegl1" in message and "libosmesa6" in message and "MUJOCO_GL" in message


def test_selection_reports_none_instead_of_failing_without_gl_libraries(monkeypatch):
    # With no loadable GL library, selection reports None instead of failing the import.
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(rendering, "_loadable", lambda library: False)
    monkeypatch.setattr(rendering.sys, "modules", {k: v for k, v in sys.modules.items() if k != "mujoco"})
    assert rendering.select_gl_backend() is None
