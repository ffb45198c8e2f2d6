"""Shared machinery of cosmos-sim's ground-truth MuJoCo scenes.

Every scene is a Gymnasium env whose step is one *control interval*: ``frames_per_step``
rendered video frames, each ``physics_steps_per_frame`` MuJoCo steps apart, with the action
held. This matches the world models: a tokenizer with temporal compression ``k`` turns the
``k`` frames of one interval into one latent frame, so a WFM step and an env step advance the
same time (DESIGN.md, "Actions").

A scene subclass provides:
  - ``_sample_scene(options)``: the scene parameters (sizes, masses, colours...) for a reset,
    drawn from ``self.np_random``; domain randomization is switched on through reset options.
  - ``_build_xml(scene)``: the MJCF of the scene for those parameters.
  - ``_initialize(options)``: initial ``qpos``/``qvel``/mocap and any goal, from ``self.np_random``.
  - ``_apply_action(action)``: write the (clipped, validated) action into ``data.ctrl``.
  - ``task_state()``: the low-dimensional state a world model's ``predict_state`` learns.
  - ``_observation()`` and ``_step_result()``: the Gymnasium observation, reward and flags.

``get_state()``/``set_state()`` round-trip MuJoCo's integration state (time, qpos, qvel,
act, ctrl, applied forces, mocap, warm start) plus the subclass's ``_extra_state()``
(e.g. the goal), so a restored env continues bit-for-bit. Scene parameters change the model
itself and are not part of that vector: a state only applies to the scene it came from.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from cosmos_sim.rendering import renderer_error

# Integration state plus the solver warm start: enough to continue a trajectory bit-for-bit.
STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION | mujoco.mjtState.mjSTATE_WARMSTART


def visual_xml(width: int, height: int, *, offsamples: int = 4) -> str:
    """The ``<visual>`` block every scene shares.

    Shadows off (``shadowsize=0``): with a shadow-casting light and MuJoCo's default 4096 shadow
    map a 64x64 frame costs ~20 ms on Mesa's software EGL, without ~0.6 ms (``cosmos-sim bench
    speed`` measures both). 4x multisampling costs ~0.25 ms a
    frame and removes the aliasing that a video tokenizer would otherwise have to learn.
    The offscreen buffer is sized to the requested resolution (MuJoCo's default is 640x480).
    """
    return (
        "<visual>"
        f'<global offwidth="{max(width, 64)}" offheight="{max(height, 64)}"/>'
        f'<quality shadowsize="0" offsamples="{offsamples}"/>'
        '<headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0 0 0"/>'
        "</visual>"
    )


class MujocoSceneEnv(gym.Env):
    """Base class of the ground-truth scenes; see the module docstring for the subclass hooks."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 20}

    #: Name of the camera rendered into observations.
    camera_name: str = "main"
    #: One-line description of what happens in the scene, stored as the task of recorded episodes.
    task_description: str = "observe the scene"
    #: Keys ``reset(options=...)`` understands; any other key is a typo and raises.
    reset_options: frozenset[str] = frozenset()
    #: Whether ``info`` carries camera intrinsics/extrinsics of every frame (and depth with frames).
    camera_frame_info: bool = False

    def __init__(
        self,
        *,
        width: int = 64,
        height: int = 64,
        frames_per_step: int = 4,
        physics_steps_per_frame: int = 5,
        return_frames: bool = False,
        render_mode: str | None = "rgb_array",
    ) -> None:
        for name, value in (
            ("width", width),
            ("height", height),
            ("frames_per_step", frames_per_step),
            ("physics_steps_per_frame", physics_steps_per_frame),
        ):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive integer, got {value!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"{type(self).__name__}: render_mode {render_mode!r} is not one of "
                f"{self.metadata['render_modes']}"
            )
        self.width = int(width)
        self.height = int(height)
        self.frames_per_step = int(frames_per_step)
        self.physics_steps_per_frame = int(physics_steps_per_frame)
        self.return_frames = bool(return_frames)
        self.render_mode = render_mode

        self._scene: dict[str, Any] | None = None
        self.model: mujoco.MjModel | None = None
        self.data: mujoco.MjData | None = None
        self._renderer: mujoco.Renderer | None = None
        self._last_frame: np.ndarray | None = None
        self._frame_info_keys: tuple[str, ...] | None = None
        # Build the nominal scene so spaces, dt and state size are known before the first reset.
        self._load_scene(self._nominal_scene())
        self.metadata = {**type(self).metadata, "render_fps": self.fps}

    # ----------------------------------------------------------------- subclass hooks
    def _nominal_scene(self) -> dict[str, Any]:
        raise NotImplementedError

    def _sample_scene(self, options: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _build_xml(self, scene: dict[str, Any]) -> str:
        raise NotImplementedError

    def _initialize(self, options: dict[str, Any]) -> None:
        raise NotImplementedError

    def _apply_action(self, action: np.ndarray) -> None:
        raise NotImplementedError

    def task_state(self) -> np.ndarray:
        """Low-dimensional task state (float64), the target of a world model's ``predict_state``."""
        raise NotImplementedError

    def controls_from_actions(self, actions: np.ndarray) -> np.ndarray:
        """Map clipped actions ``(..., A)`` to MuJoCo controls ``(..., nu)`` as ``step`` applies them."""
        raise NotImplementedError(f"{type(self).__name__} does not support oracle rollouts")

    def task_state_from_qpos(self, qpos: np.ndarray) -> np.ndarray:
        """``task_state()`` computed from generalized positions ``(..., nq)`` (for oracle rollouts)."""
        raise NotImplementedError(f"{type(self).__name__} does not support oracle rollouts")

    def _observation(self) -> Any:
        raise NotImplementedError

    def _step_result(self) -> tuple[float, bool, dict[str, Any]]:
        """(reward, terminated, info) after a control interval."""
        return 0.0, False, {}

    def _extra_state(self) -> np.ndarray:
        """Env variables outside MuJoCo's state (e.g. the goal) that ``get_state`` must carry."""
        return np.zeros(0)

    def _set_extra_state(self, extra: np.ndarray) -> None:
        pass

    def _before_frame(self, frame_index: int) -> None:
        """Called after the physics of frame ``frame_index`` (0-based within the step), before it
        is rendered: the place for kinematic motion outside the physics (a moving camera)."""

    def _frame_info(self, with_images: bool) -> dict[str, np.ndarray]:
        """Per-frame extras that ``info`` carries stacked over the frames of a step, ``(k, ...)``.

        Called after every rendered frame. Cheap values (camera intrinsics and extrinsics) belong
        here always; per-frame images (depth) only ``with_images``, i.e. when ``return_frames``.
        A dataset recorder stores each key as the feature ``observation.<key>``. Scenes with
        ``camera_frame_info`` report the camera and depth; others report nothing.
        """
        if not self.camera_frame_info:
            return {}
        info = {"intrinsics": self.camera_intrinsics(), "extrinsics": self.camera_extrinsics()}
        if with_images:
            info["depth"] = self.render_depth()[..., None]
        return info

    @property
    def frame_info_keys(self) -> tuple[str, ...]:
        """Keys of the per-frame extras that ``info`` carries (see ``_frame_info``); known after reset."""
        if self._frame_info_keys is None:
            raise RuntimeError(f"{type(self).__name__}.frame_info_keys is known after the first reset()")
        return self._frame_info_keys

    # ----------------------------------------------------------------- timing
    @property
    def frame_dt(self) -> float:
        """Seconds between two rendered frames."""
        return self.model.opt.timestep * self.physics_steps_per_frame

    @property
    def dt(self) -> float:
        """Seconds of one env step (one control interval)."""
        return self.frame_dt * self.frames_per_step

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_dt

    @property
    def scene(self) -> dict[str, Any]:
        """Parameters of the current scene, as recorded into datasets.

        A deep copy: scenes nest lists and dicts, and a caller's edits must not reach the env.
        """
        return copy.deepcopy(self._scene)

    # ----------------------------------------------------------------- model and rendering
    def _load_scene(self, scene: dict[str, Any]) -> None:
        if scene == self._scene and self.model is not None:
            mujoco.mj_resetData(self.model, self.data)
            return
        self.model = mujoco.MjModel.from_xml_string(self._build_xml(scene))
        self.data = mujoco.MjData(self.model)
        self._scene = scene
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    @property
    def renderer(self) -> mujoco.Renderer:
        if self._renderer is None:
            try:
                self._renderer = mujoco.Renderer(self.model, self.height, self.width)
            except Exception as exc:  # GL context creation: turn into an actionable message
                raise renderer_error(exc) from exc
        return self._renderer

    def render_rgb(self) -> np.ndarray:
        """Render the observation camera: ``uint8 (H, W, 3)``."""
        renderer = self.renderer
        renderer.update_scene(self.data, self.camera_name)
        return renderer.render().copy()

    def render_depth(self) -> np.ndarray:
        """Render metric depth along the camera axis: ``float32 (H, W)`` in metres."""
        renderer = self.renderer
        renderer.enable_depth_rendering()
        try:
            renderer.update_scene(self.data, self.camera_name)
            return renderer.render().astype(np.float32)
        finally:
            renderer.disable_depth_rendering()

    def render_segmentation(self) -> np.ndarray:
        """Render geom ids: ``int32 (H, W)``, -1 for background."""
        renderer = self.renderer
        renderer.enable_segmentation_rendering()
        try:
            renderer.update_scene(self.data, self.camera_name)
            seg = renderer.render()
        finally:
            renderer.disable_segmentation_rendering()
        ids = seg[..., 0].astype(np.int32)
        ids[seg[..., 1] != int(mujoco.mjtObj.mjOBJ_GEOM)] = -1
        return ids

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called with render_mode=None; pass render_mode='rgb_array' to make().")
            return None
        if self._last_frame is None:
            self._last_frame = self.render_rgb()
        return self._last_frame.copy()

    def __getstate__(self) -> dict[str, Any]:
        # A GL context cannot cross processes; the copy makes its own renderer on first use.
        state = self.__dict__.copy()
        state["_renderer"] = None
        return state

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # ----------------------------------------------------------------- camera geometry
    def camera_intrinsics(self) -> np.ndarray:
        """Pinhole matrix ``K`` (3, 3) of the observation camera at the env's resolution, in pixels.

        OpenCV convention: pixel ``(u, v)`` has its centre at integer coordinates, ``u`` to the
        right, ``v`` down, so the principal point of the centred MuJoCo camera is
        ``((W - 1) / 2, (H - 1) / 2)``. MuJoCo's ``fovy`` spans the full image height and pixels
        are square, so ``fx = fy = (H / 2) / tan(fovy / 2)``.
        """
        cam_id = self.model.camera(self.camera_name).id
        if np.any(self.model.cam_sensorsize[cam_id] > 0):
            raise ValueError(
                f"{type(self).__name__}: camera {self.camera_name!r} sets sensorsize; "
                "camera_intrinsics supports fovy cameras only"
            )
        focal = 0.5 * self.height / math.tan(math.radians(self.model.cam_fovy[cam_id]) / 2)
        return np.array(
            [[focal, 0.0, (self.width - 1) / 2], [0.0, focal, (self.height - 1) / 2], [0.0, 0.0, 1.0]]
        )

    def camera_extrinsics(self) -> np.ndarray:
        """Camera-to-world transform (4, 4) of the observation camera, OpenCV axes.

        OpenCV camera axes are x right, y down, z forward (the viewing direction); MuJoCo's are
        x right, y up, z backward, so the rotation is MuJoCo's ``cam_xmat`` with its y and z
        columns negated. A world point is ``T[:3, :3] @ p_cam + T[:3, 3]``. Reads ``data.cam_xpos``
        and ``cam_xmat``, i.e. the pose of the last ``mj_forward``/``mj_kinematics``.
        """
        cam_id = self.model.camera(self.camera_name).id
        transform = np.eye(4)
        transform[:3, :3] = self.data.cam_xmat[cam_id].reshape(3, 3) * np.array([1.0, -1.0, -1.0])
        transform[:3, 3] = self.data.cam_xpos[cam_id]
        return transform

    # ----------------------------------------------------------------- state
    def get_state(self) -> np.ndarray:
        """Full state vector (float64): MuJoCo integration state + warm start, then env extras."""
        physics = np.empty(mujoco.mj_stateSize(self.model, STATE_SPEC))
        mujoco.mj_getState(self.model, self.data, physics, STATE_SPEC)
        return np.concatenate([physics, self._extra_state()])

    def set_state(self, state: np.ndarray) -> None:
        """Restore a vector from ``get_state()`` of this env's current scene."""
        state = np.asarray(state, dtype=np.float64)
        n_physics = mujoco.mj_stateSize(self.model, STATE_SPEC)
        expected = n_physics + self._extra_state().size
        if state.shape != (expected,):
            raise ValueError(
                f"{type(self).__name__}.set_state: expected a state vector of shape ({expected},), "
                f"got {state.shape}"
            )
        mujoco.mj_setState(self.model, self.data, state[:n_physics], STATE_SPEC)
        self._set_extra_state(state[n_physics:])
        mujoco.mj_forward(self.model, self.data)
        self._last_frame = None

    # ----------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - self.reset_options
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.reset: unknown options {sorted(unknown)}; known: {sorted(self.reset_options)}"
            )
        flag = options.get("domain_randomization")
        if flag is not None and not isinstance(flag, (bool, np.bool_)):
            raise ValueError(
                f"{type(self).__name__}.reset: options['domain_randomization'] must be True or False, got {flag!r}"
            )
        running = (
            (self._scene, self.get_state()) if self.model is not None and self._scene is not None else None
        )
        try:
            self._load_scene(self._sample_scene(options))
            self._initialize(options)
        except Exception:
            if running is not None:  # a refused reset leaves the running episode as it was
                self._load_scene(running[0])
                self.set_state(running[1])
            raise
        mujoco.mj_forward(self.model, self.data)
        self._last_frame = None
        obs = self._observation()
        info: dict[str, Any] = {"state": self.task_state(), **self._reset_info()}
        extras = self._frame_info(self.return_frames)
        self._frame_info_keys = tuple(extras)
        info.update({k: v[None] for k, v in extras.items()})
        if self.return_frames:
            info["frames"] = self._last_rgb()[None]  # (1, H, W, 3)
            info["frame_states"] = self.task_state()[None]  # (1, S)
        return obs, info

    def _reset_info(self) -> dict[str, Any]:
        return {}

    def _last_rgb(self) -> np.ndarray:
        if self._last_frame is None:
            self._last_frame = self.render_rgb()
        return self._last_frame

    def _validate_action(self, action: Any) -> np.ndarray:
        space: gym.spaces.Box = self.action_space
        arr = np.asarray(action, dtype=np.float64)
        if arr.shape != space.shape:
            raise ValueError(
                f"{type(self).__name__}.step: action must have shape {space.shape}, got {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{type(self).__name__}.step: action contains NaN or inf: {arr.tolist()}")
        # Out-of-range actions are clipped to the space (documented in every env's Action Space).
        return np.clip(arr, space.low, space.high)

    def step(self, action: Any):
        if self.model is None or self._scene is None:
            raise RuntimeError(f"{type(self).__name__}.step called before reset()")
        applied = self._validate_action(action)
        self._apply_action(applied)
        frames, frame_infos, states = [], [], []
        for frame_index in range(self.frames_per_step):
            mujoco.mj_step(self.model, self.data, nstep=self.physics_steps_per_frame)
            self._before_frame(frame_index)
            # mj_step leaves positions computed *before* its integration; bring them up to date
            # so the frame shows the state that task_state() reports.
            mujoco.mj_forward(self.model, self.data)
            self._last_frame = None
            frame_infos.append(self._frame_info(self.return_frames))
            if self.return_frames:
                frames.append(self._last_rgb())
                states.append(self.task_state())
        obs = self._observation()
        reward, terminated, info = self._step_result()
        info["state"] = self.task_state()
        info["action"] = applied.astype(self.action_space.dtype)  # after clipping to the space
        for key in frame_infos[0]:
            info[key] = np.stack([fi[key] for fi in frame_infos])  # (k, ...)
        if self.return_frames:
            info["frames"] = np.stack(frames)  # (k, H, W, 3)
            info["frame_states"] = np.stack(states)  # (k, S)
        return obs, float(reward), bool(terminated), False, info


def wrap_angle(angle):
    """Wrap radians to [-pi, pi) (numpy arrays and floats)."""
    return (angle + math.pi) % (2 * math.pi) - math.pi
