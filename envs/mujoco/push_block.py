"""PushBlock-v0: a planar pusher pushes a block onto a goal pose, seen from above."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from cosmos_sim.envs.mujoco.base import MujocoSceneEnv, visual_xml
from cosmos_sim.envs.tasks.push_block import GOAL_DIM, STATE_DIM, PushBlockTask

TABLE_HALF = 0.3  # walls stand at +-TABLE_HALF; the camera sees +-0.32 m
PUSHER_RADIUS = 0.025
PUSHER_RANGE = TABLE_HALF - PUSHER_RADIUS - 0.01
MAX_SPEED = 0.3  # m/s at |action| = 1

NOMINAL_SCENE: dict[str, Any] = {
    "block_half_size": 0.04,
    "block_mass": 0.2,
    "block_friction": 0.6,  # Coulomb coefficient against the table
    "block_rgba": [0.85, 0.15, 0.15, 1.0],
    "pusher_rgba": [0.15, 0.35, 0.9, 1.0],
    "goal_rgba": [0.2, 0.8, 0.25, 0.55],
    "table_rgba": [0.82, 0.8, 0.75, 1.0],
}

# Ranges sampled by reset(options={"domain_randomization": True}); colours are jittered by +-0.1.
RANDOMIZATION: dict[str, tuple[float, float]] = {
    "block_half_size": (0.03, 0.05),
    "block_mass": (0.1, 0.4),
    "block_friction": (0.3, 0.9),
}
COLOR_JITTER = 0.1
SCENE_LIMITS: dict[str, float] = {"block_half_size": 0.1, "block_mass": 100.0, "block_friction": 10.0}
"""Largest value a scene override may take: a block up to 20 cm wide still leaves the pusher room to
start clear of it on the 60 cm table (a wider one could never be placed, and reset would search
forever); masses and frictions beyond these are not a pushing task any more."""


def _checked_scene_value(key: str, value: Any) -> Any:
    """Validate one scene override against the nominal value's kind and a sane range."""
    nominal = NOMINAL_SCENE[key]
    if key.endswith("rgba"):
        arr = np.asarray(value, dtype=float) if isinstance(value, (list, tuple, np.ndarray)) else None
        if arr is None or arr.shape != (4,) or not np.all((arr >= 0) & (arr <= 1)):  # NaN fails too
            raise ValueError(f"PushBlockEnv.reset: scene[{key!r}] must be 4 numbers in [0, 1], got {value!r}")
        return [float(c) for c in arr]
    limit = SCENE_LIMITS[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not 0 < value <= limit
    ):
        raise ValueError(
            f"PushBlockEnv.reset: scene[{key!r}] must be a number in (0, {limit:g}] (nominal {nominal}), "
            f"got {value!r}"
        )
    return float(value)


class PushBlockEnv(MujocoSceneEnv):
    """Push a block onto a goal pose with a velocity-controlled pusher, seen from above.

    ## Description
    A square table with low walls at +-0.3 m holds a red block (planar joints: x, y, yaw) and a
    blue cylindrical pusher (planar slide joints). A translucent green square drawn on the
    table marks the goal pose of the block. Block-table friction is modelled as Coulomb
    ``frictionloss`` on the block's planar joints (``mu * m * g``), so a pushed block stops when
    the pusher leaves it. A top-down camera renders the whole table.

    Visual settings (chosen for speed and for video models): no shadows (``shadowsize=0``;
    ~0.6 ms instead of ~20 ms a 64x64 frame on software EGL, see ``cosmos-sim bench speed``),
    4x multisampling, a headlight
    only, flat colours, so frames are a clean function of the state.

    ## Action Space
    ``Box(-1, 1, (2,), float32)``: pusher velocity in x and y as a fraction of 0.3 m/s, tracked by
    velocity actuators and held for the whole control interval. Out-of-range actions are clipped
    to the space; a wrong shape or NaN/inf raises ``ValueError``.

    ## Observation Space
    ``Box(0, 255, (height, width, 3), uint8)``: the top-down RGB frame at the end of the control
    interval. With ``depth=True`` or ``segmentation=True`` the observation is a ``Dict`` with
    ``rgb``, ``depth`` (``float32 (H, W, 1)``, metres) and ``segmentation`` (``int32 (H, W, 1)``,
    MuJoCo geom id, -1 for background). The low-dimensional state ``(5,)`` (pusher x, y, block
    x, y, yaw) is in ``info["state"]`` and ``task_state()``; the goal ``(3,)`` in ``info["goal"]``.

    ## Rewards
    ``PushBlockTask.reward(state, goal)``: ``-goal_distance_weight * |block - goal|
    - pusher_distance_weight * |pusher - block| + success_bonus * success``; each weighted term
    is in ``info`` (``reward_goal``, ``reward_pusher``, ``reward_success``).

    ## Starting State
    Pusher uniform in +-0.25 m; block uniform in +-0.15 m with uniform yaw, at least 0.09 m from
    the pusher; goal uniform in +-0.2 m with uniform yaw, 0.1 to 0.3 m from the block.
    ``options={"domain_randomization": True}`` also samples block size (0.03-0.05 m half side),
    mass (0.1-0.4 kg), friction (0.3-0.9) and jitters colours; ``options={"scene": {...}}``
    sets scene parameters explicitly, ``options={"state": ..., "goal": ...}`` the initial
    state ``(5,)`` and goal ``(3,)``.

    ## Episode End
    Never terminates by default (``terminate_on_success=True`` ends an episode on success);
    truncated after 50 steps (10 s) by the registered ``TimeLimit``. ``info["is_success"]``
    reports success after every step.

    ## Arguments
    ``width``, ``height`` (64), ``frames_per_step`` (4 frames per control interval),
    ``physics_steps_per_frame`` (5 steps of 10 ms: 20 fps, a 0.2 s control period),
    ``return_frames`` (put every frame of the interval in ``info["frames"]``), ``depth``,
    ``segmentation``, ``task`` (a ``PushBlockTask`` with the reward weights),
    ``terminate_on_success``.

    ## Version History
    - v0: initial release.
    """

    camera_name = "top"
    task_description = "push the red block onto the green goal square"
    reset_options = frozenset({"domain_randomization", "scene", "state", "goal"})

    def __init__(
        self,
        *,
        width: int = 64,
        height: int = 64,
        frames_per_step: int = 4,
        physics_steps_per_frame: int = 5,
        return_frames: bool = False,
        depth: bool = False,
        segmentation: bool = False,
        task: PushBlockTask | None = None,
        terminate_on_success: bool = False,
        render_mode: str | None = "rgb_array",
    ) -> None:
        if isinstance(task, dict):  # as JSON gives it (cosmos-sim generate --env-kwargs)
            try:
                task = PushBlockTask(**task)
            except TypeError as error:
                raise ValueError(
                    f"PushBlockEnv: task {task!r} is not PushBlockTask fields: {error}"
                ) from None
        if task is not None and not isinstance(task, PushBlockTask):
            raise ValueError(
                f"PushBlockEnv: task must be a PushBlockTask or a dict of its fields, got {task!r}"
            )
        self.task = task if task is not None else PushBlockTask()
        self.depth = bool(depth)
        self.segmentation = bool(segmentation)
        self.terminate_on_success = bool(terminate_on_success)
        self.goal = np.zeros(GOAL_DIM)
        super().__init__(
            width=width,
            height=height,
            frames_per_step=frames_per_step,
            physics_steps_per_frame=physics_steps_per_frame,
            return_frames=return_frames,
            render_mode=render_mode,
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        rgb = spaces.Box(0, 255, shape=(self.height, self.width, 3), dtype=np.uint8)
        if self.depth or self.segmentation:
            parts = {"rgb": rgb}
            if self.depth:
                parts["depth"] = spaces.Box(0.0, np.inf, shape=(self.height, self.width, 1), dtype=np.float32)
            if self.segmentation:
                parts["segmentation"] = spaces.Box(
                    -1, self.model.ngeom, shape=(self.height, self.width, 1), dtype=np.int32
                )
            self.observation_space = spaces.Dict(parts)
        else:
            self.observation_space = rgb
        self._joint_qpos = {
            name: self.model.joint(name).qposadr[0]
            for name in ("pusher_x", "pusher_y", "block_x", "block_y", "block_yaw")
        }

    # ----------------------------------------------------------------- scene
    def _nominal_scene(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, list) else v) for k, v in NOMINAL_SCENE.items()}

    def _sample_scene(self, options: dict[str, Any]) -> dict[str, Any]:
        scene = self._nominal_scene()
        if options.get("domain_randomization", False):
            rng = self.np_random
            for key, (low, high) in RANDOMIZATION.items():
                scene[key] = float(rng.uniform(low, high))
            for key in ("block_rgba", "pusher_rgba", "goal_rgba", "table_rgba"):
                rgb = np.clip(np.asarray(scene[key][:3]) + rng.uniform(-COLOR_JITTER, COLOR_JITTER, 3), 0, 1)
                scene[key] = [float(c) for c in rgb] + [scene[key][3]]
        overrides = options.get("scene", {})
        if not isinstance(overrides, dict):
            raise ValueError(f"PushBlockEnv.reset: options['scene'] must be a dict, got {overrides!r}")
        unknown = set(overrides) - set(NOMINAL_SCENE)
        if unknown:
            raise ValueError(
                f"PushBlockEnv.reset: unknown scene parameters {sorted(unknown)}; known: {sorted(NOMINAL_SCENE)}"
            )
        for key, value in overrides.items():
            scene[key] = _checked_scene_value(key, value)
        return scene

    def _build_xml(self, scene: dict[str, Any]) -> str:
        h = scene["block_half_size"]
        friction_force = scene["block_friction"] * scene["block_mass"] * 9.81
        # Rotational friction: the same Coulomb coefficient integrated over a uniform square
        # contact patch gives a torque of about 0.38 * mu * m * g * side.
        friction_torque = 0.38 * friction_force * 2 * h
        rgba = {k: " ".join(f"{c:.4f}" for c in scene[k]) for k in NOMINAL_SCENE if k.endswith("rgba")}
        wall = TABLE_HALF + 0.01
        return f"""
<mujoco model="push_block">
  <option timestep="0.01" gravity="0 0 -9.81"/>
  {visual_xml(self.width, self.height)}
  <default>
    <geom contype="1" conaffinity="1" friction="0.3 0.005 0.0001"/>
  </default>
  <worldbody>
    <geom name="table" type="plane" size="{TABLE_HALF + 0.1} {TABLE_HALF + 0.1} 0.1" rgba="{rgba["table_rgba"]}" contype="0" conaffinity="0"/>
    <geom name="wall_px" type="box" pos="{wall} 0 0.02" size="0.01 {wall + 0.01} 0.02" rgba="0.35 0.33 0.3 1"/>
    <geom name="wall_nx" type="box" pos="{-wall} 0 0.02" size="0.01 {wall + 0.01} 0.02" rgba="0.35 0.33 0.3 1"/>
    <geom name="wall_py" type="box" pos="0 {wall} 0.02" size="{wall + 0.01} 0.01 0.02" rgba="0.35 0.33 0.3 1"/>
    <geom name="wall_ny" type="box" pos="0 {-wall} 0.02" size="{wall + 0.01} 0.01 0.02" rgba="0.35 0.33 0.3 1"/>
    <camera name="top" pos="0 0 1.0" xyaxes="1 0 0 0 1 0" fovy="35.5"/>
    <body name="goal" mocap="true" pos="0 0 0.0005">
      <geom name="goal" type="box" size="{h} {h} 0.0005" rgba="{rgba["goal_rgba"]}" contype="0" conaffinity="0"/>
    </body>
    <body name="block" pos="0 0 {h / 2}">
      <joint name="block_x" type="slide" axis="1 0 0" frictionloss="{friction_force:.6f}" damping="0.05"/>
      <joint name="block_y" type="slide" axis="0 1 0" frictionloss="{friction_force:.6f}" damping="0.05"/>
      <joint name="block_yaw" type="hinge" axis="0 0 1" frictionloss="{friction_torque:.6f}" damping="0.001"/>
      <geom name="block" type="box" size="{h} {h} {h / 2}" mass="{scene["block_mass"]}" rgba="{rgba["block_rgba"]}"/>
    </body>
    <body name="pusher" pos="0 0 0.02">
      <joint name="pusher_x" type="slide" axis="1 0 0" limited="true" range="{-PUSHER_RANGE} {PUSHER_RANGE}"/>
      <joint name="pusher_y" type="slide" axis="0 1 0" limited="true" range="{-PUSHER_RANGE} {PUSHER_RANGE}"/>
      <geom name="pusher" type="cylinder" size="{PUSHER_RADIUS} 0.02" mass="0.5" rgba="{rgba["pusher_rgba"]}"/>
    </body>
  </worldbody>
  <actuator>
    <velocity name="pusher_vx" joint="pusher_x" kv="40" ctrlrange="{-MAX_SPEED} {MAX_SPEED}" forcerange="-20 20"/>
    <velocity name="pusher_vy" joint="pusher_y" kv="40" ctrlrange="{-MAX_SPEED} {MAX_SPEED}" forcerange="-20 20"/>
  </actuator>
</mujoco>
"""

    # ----------------------------------------------------------------- reset and step
    def _initialize(self, options: dict[str, Any]) -> None:
        rng = self.np_random
        block_range = TABLE_HALF - self._scene["block_half_size"]
        if "state" in options:
            state = self._checked_vector(options["state"], STATE_DIM, "state")
            if np.any(np.abs(state[0:2]) > PUSHER_RANGE) or np.any(np.abs(state[2:4]) > block_range):
                raise ValueError(
                    f"PushBlockEnv.reset: options['state'] {state.tolist()} puts the pusher outside "
                    f"+-{PUSHER_RANGE:.3f} m or the block outside +-{block_range:.3f} m (the table)"
                )
        else:
            block = rng.uniform(-0.15, 0.15, 2)
            clearance = 0.09 + self._scene["block_half_size"]
            for _ in range(1000):  # bounded, as _sample_goal: SCENE_LIMITS keep a start reachable
                pusher = rng.uniform(-0.25, 0.25, 2)
                if np.linalg.norm(pusher - block) > clearance:
                    break
            else:
                raise ValueError(
                    f"PushBlockEnv.reset: no pusher start within +-0.25 m lies {clearance:.3f} m from the block "
                    f"at {block.tolist()}; pass options['state']"
                )
            state = np.array([*pusher, *block, rng.uniform(-np.pi, np.pi)])
        if "goal" in options:
            goal = self.check_goal(options["goal"], "PushBlockEnv.reset: options['goal']", self._scene)
        else:
            goal = self._sample_goal(state[2:4])
        for name, value in zip(self._joint_qpos, state, strict=True):
            self.data.qpos[self._joint_qpos[name]] = value
        self.data.qvel[:] = 0.0
        self._set_goal(goal)

    def _sample_goal(self, block_xy: np.ndarray) -> np.ndarray:
        """A goal 0.1-0.3 m from the block, inside +-0.2 m, with uniform yaw."""
        for _ in range(1000):
            goal_xy = self.np_random.uniform(-0.2, 0.2, 2)
            if 0.1 <= np.linalg.norm(goal_xy - block_xy) <= 0.3:
                return np.array([*goal_xy, self.np_random.uniform(-np.pi, np.pi)])
        # Unreachable for blocks on the table (the goal area always has points 0.1-0.3 m away);
        # a bounded loop all the same, so a future change of ranges fails loudly instead of hanging.
        raise ValueError(
            f"PushBlockEnv.reset: no goal within +-0.2 m lies 0.1-0.3 m from the block at {block_xy.tolist()}; "
            "pass options['goal'] as well"
        )

    def check_goal(self, goal: Any, what: str = "goal", scene: dict[str, Any] | None = None) -> np.ndarray:
        """``goal`` as float64 (x, y, yaw), or a ValueError naming ``what`` when it is not 3 finite
        numbers with (x, y) where the block can reach: the table less the block's half size in ``scene``
        (default: the nominal scene, whatever the last reset drew; the world-model env holds the goals
        it is handed to it)."""
        try:
            arr = np.asarray(goal, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.shape != (GOAL_DIM,) or not np.all(np.isfinite(arr)):
            raise ValueError(f"{what} must be {GOAL_DIM} finite numbers (x, y, yaw), got {goal!r}")
        block_range = TABLE_HALF - (scene or NOMINAL_SCENE)["block_half_size"]
        if np.any(np.abs(arr[0:2]) > block_range):
            raise ValueError(f"{what} {arr.tolist()} lies outside the reachable +-{block_range:.3f} m")
        return arr

    @staticmethod
    def _checked_vector(value: Any, size: int, name: str) -> np.ndarray:
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (size,) or not np.all(np.isfinite(arr)):
            raise ValueError(
                f"PushBlockEnv.reset: options[{name!r}] must be {size} finite numbers, got {value!r}"
            )
        return arr

    def _set_goal(self, goal: np.ndarray) -> None:
        self.goal = np.asarray(goal, dtype=np.float64).copy()
        self.data.mocap_pos[0] = [goal[0], goal[1], 0.0005]
        half = goal[2] / 2
        self.data.mocap_quat[0] = [np.cos(half), 0.0, 0.0, np.sin(half)]

    def controls_from_actions(self, actions: np.ndarray) -> np.ndarray:
        return actions * MAX_SPEED  # velocity actuators track m/s

    def _apply_action(self, action: np.ndarray) -> None:
        self.data.ctrl[:] = self.controls_from_actions(action)

    def task_state_from_qpos(self, qpos: np.ndarray) -> np.ndarray:
        return qpos[..., list(self._joint_qpos.values())]

    def task_state(self) -> np.ndarray:
        return self.task_state_from_qpos(self.data.qpos).copy()

    def _extra_state(self) -> np.ndarray:
        return self.goal.copy()

    def _set_extra_state(self, extra: np.ndarray) -> None:
        self._set_goal(extra)

    def _observation(self):
        rgb = self._last_rgb().copy()
        if not (self.depth or self.segmentation):
            return rgb
        obs = {"rgb": rgb}
        if self.depth:
            obs["depth"] = self.render_depth()[..., None]
        if self.segmentation:
            obs["segmentation"] = self.render_segmentation()[..., None]
        return obs

    def _reset_info(self) -> dict[str, Any]:
        return {"goal": self.goal.copy(), "is_success": bool(self.task.success(self.task_state(), self.goal))}

    def _step_result(self) -> tuple[float, bool, dict[str, Any]]:
        state = self.task_state()
        terms = {k: float(v) for k, v in self.task.reward_terms(state, self.goal).items()}
        success = bool(self.task.success(state, self.goal))
        info = {**terms, "goal": self.goal.copy(), "is_success": success}
        return sum(terms.values()), self.terminate_on_success and success, info
