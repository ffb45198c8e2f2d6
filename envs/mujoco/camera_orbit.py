"""CameraOrbit-v0: a camera orbits a static, textured scene; ground truth for 3D consistency.

The scene never moves; only the camera does, so every difference between two frames is
viewpoint. With the exact intrinsics, camera-to-world extrinsics and metric depth of every
frame, a benchmark can check a video model's multi-view geometry (epipolar error, depth
reprojection) against the truth.
"""

from __future__ import annotations

import colorsys
import copy
import math
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces

from cosmos_sim.envs.mujoco.base import MujocoSceneEnv, visual_xml, wrap_angle

MAX_AZIMUTH_DELTA = math.radians(15.0)  # rad per control interval at |action| = 1
MAX_ELEVATION_DELTA = math.radians(5.0)
MAX_DISTANCE_DELTA = 0.1  # m
ELEVATION_RANGE = (math.radians(10.0), math.radians(70.0))  # above the horizon, looking down
DISTANCE_RANGE = (0.8, 2.0)  # m from the look-at point
# Reset draws the starting orbit from these (a sub-range, so the first moves can go either way).
START_ELEVATION = (math.radians(20.0), math.radians(50.0))
START_DISTANCE = (1.0, 1.6)
CAMERA_FOVY = 45.0  # degrees

SHAPE_SIZES = {"box": 3, "cylinder": 2, "sphere": 1, "capsule": 2, "ellipsoid": 3}
FLOOR_TEXTURE_SIZE = 512  # texels across one floor tile
FLOOR_TILE = 2.5  # m; the 10 m floor repeats its texture 4 x 4 times
OBJECT_TEXTURE_SIZE = 64  # texels across each of a cube texture's 6 faces

# Static objects resting on the floor, of different shapes and heights. ``size`` is MuJoCo's geom
# size; ``xy`` the centre on the floor, ``yaw`` in rad; ``rgb`` the base colour that the object's
# texture modulates; ``texture_seed`` seeds its pattern.
NOMINAL_OBJECTS: dict[str, dict[str, Any]] = {
    "crate": {"shape": "box", "size": [0.1, 0.1, 0.1], "xy": [0.3, 0.15], "yaw": 0.3},
    "pillar": {"shape": "box", "size": [0.05, 0.05, 0.25], "xy": [-0.25, 0.3], "yaw": -0.2},
    "drum": {"shape": "cylinder", "size": [0.09, 0.07], "xy": [-0.3, -0.2], "yaw": 0.0},
    "ball": {"shape": "sphere", "size": [0.08], "xy": [0.12, -0.32], "yaw": 0.8},
    "post": {"shape": "capsule", "size": [0.04, 0.12], "xy": [0.42, -0.15], "yaw": 0.0},
    "egg": {"shape": "ellipsoid", "size": [0.12, 0.07, 0.06], "xy": [-0.02, 0.02], "yaw": 1.1},
}
NOMINAL_RGB = {
    "crate": [0.85, 0.35, 0.2],
    "pillar": [0.2, 0.45, 0.85],
    "drum": [0.25, 0.7, 0.3],
    "ball": [0.85, 0.75, 0.2],
    "post": [0.7, 0.25, 0.75],
    "egg": [0.2, 0.75, 0.75],
}
PLACEMENT_RADIUS = (0.1, 0.55)  # domain randomization: object centres in this annulus (m)
MIN_GAP = 0.04  # m between the bounding circles of two randomized objects


def _height(shape: str, size: list[float]) -> float:
    """Half-height of a geom standing upright, i.e. the z of its centre when it rests on the floor."""
    if shape == "capsule":
        return size[0] + size[1]  # radius + half-length of the cylinder part
    if shape == "cylinder":
        return size[1]
    return size[-1]  # box and ellipsoid: z half-size; sphere: radius


def _footprint(shape: str, size: list[float]) -> float:
    """Radius of the geom's bounding circle on the floor."""
    return math.hypot(size[0], size[1]) if shape in ("box", "ellipsoid") else size[0]


# --------------------------------------------------------------------------------------- textures
def _value_noise(rng: np.random.Generator, size: int, cells: tuple[int, ...]) -> np.ndarray:
    """Tileable multi-octave value noise ``(size, size)`` in [0, 1]; coarse octaves weigh more.

    Each octave draws a ``c x c`` grid of random values and interpolates it (smoothstep) up to
    ``size`` texels, wrapping around so the texture tiles without seams.
    """
    total = np.zeros((size, size))
    weights = 0.0
    for c in cells:
        grid = rng.uniform(size=(c, c))
        x = np.arange(size) * c / size
        i0 = x.astype(int)
        i1 = (i0 + 1) % c
        f = x - i0
        f = f * f * (3 - 2 * f)
        rows = grid[i0] * (1 - f)[:, None] + grid[i1] * f[:, None]  # (size, c)
        octave = rows[:, i0] * (1 - f)[None] + rows[:, i1] * f[None]  # (size, size)
        total += octave / c
        weights += 1.0 / c
    return total / weights


def _paint(
    rng: np.random.Generator, size: int, base: np.ndarray, accents: list[np.ndarray], cells: tuple[int, ...]
) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 texture: ``base`` shaded by smooth noise, overlaid with sharp-edged
    blobs of each accent colour (the corners and edges that feature matchers latch onto).

    Blobs come from the finer octaves ``cells[1:]``, so they are smaller than the shading.
    """
    shade = 0.7 + 0.6 * _value_noise(rng, size, cells)  # (size, size), around 1
    rgb = np.clip(base[None, None] * shade[..., None], 0, 1)
    for accent in accents:
        rgb[_value_noise(rng, size, cells[1:]) > 0.62] = accent
    return (rgb * 255).round().astype(np.uint8)


class CameraOrbitEnv(MujocoSceneEnv):
    """A camera orbits a static, textured scene: ground truth for multi-view 3D consistency.

    ## Description
    Six static objects of different shapes and heights (box, tall box, cylinder, sphere,
    capsule, ellipsoid) stand on a 10 x 10 m floor; every surface carries a procedural texture
    (multi-octave value noise with sharp-edged blobs, drawn from a seed) so frames have the
    corners and edges that feature matching needs. Lighting is two fixed directional lights with
    ambient (no headlight, no specular, no shadows), so a surface looks the same from every
    viewpoint. Nothing in the scene moves during an episode.

    The camera is a mocap body carrying the camera ``main``, posed from the orbit parameters
    around the look-at point ``scene["lookat"]`` (default ``(0, 0, 0.1)``): azimuth ``az``
    (rad, counter-clockwise from +x, wrapped to ``[-pi, pi)``), elevation ``el`` (rad above the
    horizontal, in ``[10, 70]`` degrees) and distance ``d`` (m, in ``[0.8, 2.0]``); the camera
    sits at ``lookat + d (cos el cos az, cos el sin az, sin el)`` and looks at the look-at point
    with no roll. The pose is in MuJoCo's state (``mocap_pos``/``mocap_quat``) and the orbit
    parameters in ``get_state``'s extras, so ``set_state`` restores both exactly.

    ## Action Space
    ``Box(-1, 1, (3,), float32)``: the change of (azimuth, elevation, distance) over one control
    interval, as a fraction of the maximum deltas 15 degrees, 5 degrees and 0.1 m. The camera
    moves every frame, along a straight line in (azimuth, elevation, distance) from the start
    to the end pose of the interval (``1 / frames_per_step`` of the change per frame).
    Elevation and distance are clamped to their ranges; out-of-range actions are clipped to the
    space; a wrong shape or NaN/inf raises ``ValueError``.

    ## Observation Space
    ``Dict``: ``rgb`` ``Box(0, 255, (height, width, 3), uint8)`` and ``depth``
    ``Box(0, inf, (height, width, 1), float32)``, metric depth along the viewing axis (sky
    pixels read the far plane, 50 m), both at the end of the control interval.

    ``task_state()`` (also ``info["state"]``) is ``(az, el, d, x, y, z)``: the orbit parameters
    and the camera's world position (m). ``info`` of every step carries, per frame of the interval
    (``k = frames_per_step``): ``intrinsics`` ``(k, 3, 3)`` and ``extrinsics`` ``(k, 4, 4)``,
    and with ``return_frames=True`` also ``depth`` ``(k, H, W, 1)``; a reset carries them for its
    single frame (``k = 1``). Intrinsics use the OpenCV pixel convention (pixel centres at
    integer coordinates, ``u`` right, ``v`` down); extrinsics are camera-to-world in OpenCV
    camera axes: x right, y down, z forward (the viewing direction). A pixel ``(u, v)`` with depth
    ``D`` is the world point ``T[:3, :3] @ (D * inv(K) @ [u, v, 1]) + T[:3, 3]``.

    ## Rewards
    None: the reward is always 0.

    ## Starting State
    The orbit is drawn per seed: azimuth uniform over the circle, elevation in 20-50 degrees,
    distance in 1.0-1.6 m; ``options={"orbit": (az, el, d)}`` sets it (elevation and distance
    must lie in their ranges). The scene is the nominal one unless
    ``options={"domain_randomization": True}``, which also draws object positions (in a 0.1-0.55 m
    annulus around the look-at point, not overlapping), yaws, colours and texture seeds, and the
    floor's colours and texture seed. ``options={"scene": {...}}`` replaces top-level scene
    parameters (``lookat``, ``floor_rgb``, ``floor_accent``, ``floor_texture_seed``, ``objects``).

    ## Episode End
    Never terminates; truncated after 50 steps (10 s) by the registered ``TimeLimit``.

    ## Arguments
    ``width``, ``height`` (64), ``frames_per_step`` (4), ``physics_steps_per_frame`` (5 steps of
    10 ms: 20 fps, a 0.2 s control period, as PushBlock), ``return_frames`` (every frame of the
    interval in ``info["frames"]``, its depth in ``info["depth"]``).

    ## Version History
    - v0: initial release.
    """

    camera_name = "main"
    camera_frame_info = True
    task_description = "orbit the camera around a static textured scene"
    reset_options = frozenset({"domain_randomization", "scene", "orbit"})

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
        self._orbit = np.array([0.0, START_ELEVATION[0], START_DISTANCE[0]])  # (az, el, d)
        # The move of the current control interval, shown 1/k per frame by _before_frame.
        self._move_start = self._orbit.copy()
        self._move_delta = np.zeros(3)
        super().__init__(
            width=width,
            height=height,
            frames_per_step=frames_per_step,
            physics_steps_per_frame=physics_steps_per_frame,
            return_frames=return_frames,
            render_mode=render_mode,
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)
        self.observation_space = spaces.Dict(
            {
                "rgb": spaces.Box(0, 255, shape=(self.height, self.width, 3), dtype=np.uint8),
                "depth": spaces.Box(0.0, np.inf, shape=(self.height, self.width, 1), dtype=np.float32),
            }
        )
        self._max_delta = np.array([MAX_AZIMUTH_DELTA, MAX_ELEVATION_DELTA, MAX_DISTANCE_DELTA])

    # ----------------------------------------------------------------- scene
    def _nominal_scene(self) -> dict[str, Any]:
        objects = {
            name: {**obj, "size": list(obj["size"]), "xy": list(obj["xy"]), "rgb": list(NOMINAL_RGB[name])}
            for name, obj in NOMINAL_OBJECTS.items()
        }
        for seed, obj in enumerate(objects.values(), start=1):
            obj["texture_seed"] = seed
        return {
            "lookat": [0.0, 0.0, 0.1],
            "floor_rgb": [0.55, 0.5, 0.42],
            "floor_accent": [0.15, 0.13, 0.12],
            "floor_texture_seed": 0,
            "objects": objects,
        }

    def _sample_scene(self, options: dict[str, Any]) -> dict[str, Any]:
        scene = self._nominal_scene()
        if options.get("domain_randomization", False):
            self._randomize(scene)
        overrides = options.get("scene", {})
        if not isinstance(overrides, dict) or set(overrides) - set(scene):
            raise ValueError(
                f"CameraOrbitEnv.reset: options['scene'] must be a dict with keys from {sorted(scene)}, "
                f"got {overrides!r}"
            )
        scene.update(copy.deepcopy(overrides))  # the caller's dict may change later; the scene may not
        self._validate_scene(scene)
        return scene

    def _randomize(self, scene: dict[str, Any]) -> None:
        rng = self.np_random
        hues = (rng.uniform() + np.arange(len(scene["objects"])) / len(scene["objects"])) % 1.0
        rng.shuffle(hues)
        placed: list[tuple[np.ndarray, float]] = []
        for obj, hue in zip(scene["objects"].values(), hues, strict=True):
            radius = _footprint(obj["shape"], obj["size"])
            for _ in range(1000):  # rejection sampling; the annulus has room for far more than six
                r, angle = rng.uniform(*PLACEMENT_RADIUS), rng.uniform(-np.pi, np.pi)
                xy = r * np.array([math.cos(angle), math.sin(angle)])
                if all(np.linalg.norm(xy - p) > radius + q + MIN_GAP for p, q in placed):
                    break
            placed.append((xy, radius))
            obj["xy"] = xy.tolist()
            obj["yaw"] = float(rng.uniform(-np.pi, np.pi))
            obj["rgb"] = [float(c) for c in _hsv(hue, rng.uniform(0.5, 0.8), rng.uniform(0.7, 0.9))]
            obj["texture_seed"] = int(rng.integers(2**31))
        floor_hue = rng.uniform()
        scene["floor_rgb"] = [
            float(c) for c in _hsv(floor_hue, rng.uniform(0.1, 0.35), rng.uniform(0.45, 0.65))
        ]
        scene["floor_accent"] = [float(c) for c in _hsv(floor_hue + 0.5, 0.3, rng.uniform(0.1, 0.25))]
        scene["floor_texture_seed"] = int(rng.integers(2**31))

    @staticmethod
    def _validate_scene(scene: dict[str, Any]) -> None:
        def bad(what: str, value: Any) -> ValueError:
            return ValueError(f"CameraOrbitEnv.reset: scene {what}, got {value!r}")

        def numbers(value, shape: tuple[int, ...], low: float = -np.inf, high: float = np.inf) -> bool:
            """Whether ``value`` is real numbers of ``shape``, finite and within [low, high]."""
            try:
                array = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                return False
            return array.shape == shape and bool(
                np.all(np.isfinite(array) & (array >= low) & (array <= high))
            )

        def seed(value) -> bool:
            return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < 2**32

        for key in ("floor_rgb", "floor_accent"):
            if not numbers(scene[key], (3,), 0.0, 1.0):
                raise bad(f"{key} must be 3 numbers in [0, 1]", scene[key])
        if not numbers(scene["lookat"], (3,)):
            raise bad("lookat must be 3 finite numbers", scene["lookat"])
        if not seed(scene["floor_texture_seed"]):
            raise bad("floor_texture_seed must be an integer in [0, 2**32)", scene["floor_texture_seed"])
        if not isinstance(scene["objects"], dict) or not scene["objects"]:
            raise bad("objects must be a non-empty dict name -> object", scene["objects"])
        for name, obj in scene["objects"].items():
            needed = {"shape", "size", "xy", "yaw", "rgb", "texture_seed"}
            if not isinstance(obj, dict) or set(obj) != needed:
                raise bad(f"objects[{name!r}] must have exactly the keys {sorted(needed)}", obj)
            if obj["shape"] not in SHAPE_SIZES:
                raise bad(f"objects[{name!r}].shape must be one of {sorted(SHAPE_SIZES)}", obj["shape"])
            if not numbers(obj["size"], (SHAPE_SIZES[obj["shape"]],), 0.0) or not np.all(
                np.asarray(obj["size"]) > 0
            ):
                raise bad(
                    f"objects[{name!r}].size must be {SHAPE_SIZES[obj['shape']]} positive numbers",
                    obj["size"],
                )
            if not (
                numbers(obj["xy"], (2,)) and numbers(obj["yaw"], ()) and numbers(obj["rgb"], (3,), 0.0, 1.0)
            ):
                raise bad(
                    f"objects[{name!r}] needs xy (2 finite numbers), yaw (a finite number) and rgb (3 numbers "
                    f"in [0, 1])",
                    obj,
                )
            if not seed(obj["texture_seed"]):
                raise bad(
                    f"objects[{name!r}].texture_seed must be an integer in [0, 2**32)", obj["texture_seed"]
                )

    def _build_xml(self, scene: dict[str, Any]) -> str:
        def fmt(values) -> str:
            return " ".join(f"{float(v):.6g}" for v in values)

        assets, geoms = [], []
        for name, obj in scene["objects"].items():
            # Builtin textures only reserve the texel buffers; _paint_textures fills them.
            assets.append(
                f'<texture name="{name}" type="cube" builtin="flat" width="{OBJECT_TEXTURE_SIZE}" '
                f'height="{OBJECT_TEXTURE_SIZE}" rgb1="1 1 1"/>'
                f'<material name="{name}" texture="{name}" specular="0" shininess="0" reflectance="0"/>'
            )
            z = _height(obj["shape"], obj["size"])
            geoms.append(
                f'<geom name="{name}" type="{obj["shape"]}" size="{fmt(obj["size"])}" '
                f'pos="{fmt([*obj["xy"], z])}" euler="0 0 {obj["yaw"]:.6g}" material="{name}"/>'
            )
        repeat = 10.0 / FLOOR_TILE
        lookat = np.asarray(scene["lookat"])
        return f"""
<mujoco model="camera_orbit">
  <compiler angle="radian"/>
  <option timestep="0.01" gravity="0 0 0"/>
  <statistic extent="1" center="{fmt(lookat)}"/>
  {visual_xml(self.width, self.height)}
  <visual>
    <!-- A headlight shades surfaces by the viewing direction; fixed lights keep each surface's
         colour the same from every viewpoint. znear/zfar are in units of the extent (1 m). -->
    <headlight active="0"/>
    <map znear="0.02" zfar="50"/>
  </visual>
  <asset>
    <texture name="floor" type="2d" builtin="flat" width="{FLOOR_TEXTURE_SIZE}"
             height="{FLOOR_TEXTURE_SIZE}" rgb1="1 1 1"/>
    <material name="floor" texture="floor" texrepeat="{repeat:g} {repeat:g}" specular="0" shininess="0"
              reflectance="0"/>
    <texture name="sky" type="skybox" builtin="gradient" width="32" height="32"
             rgb1="0.75 0.8 0.88" rgb2="0.35 0.4 0.5"/>
    {"".join(assets)}
  </asset>
  <worldbody>
    <light name="key" directional="true" pos="0 0 3" dir="0.4 0.25 -1" diffuse="0.55 0.55 0.55"
           ambient="0.35 0.35 0.35" specular="0 0 0" castshadow="false"/>
    <light name="fill" directional="true" pos="0 0 3" dir="-0.5 -0.3 -0.6" diffuse="0.25 0.25 0.25"
           specular="0 0 0" castshadow="false"/>
    <geom name="floor" type="plane" size="5 5 0.1" material="floor"/>
    {"".join(geoms)}
    <body name="camera_rig" mocap="true" pos="{fmt(lookat + [1.0, 0.0, 0.5])}">
      <camera name="main" fovy="{CAMERA_FOVY}"/>
    </body>
  </worldbody>
</mujoco>
"""

    def _load_scene(self, scene: dict[str, Any]) -> None:
        rebuilt = self.model is None or scene != self._scene
        super()._load_scene(scene)
        if rebuilt:
            self._paint_textures(scene)

    def _paint_textures(self, scene: dict[str, Any]) -> None:
        """Write the procedural textures into the freshly compiled model, before any renderer
        uploads them (the base class opens a new renderer for every new model)."""
        model = self.model

        def texels(name: str) -> np.ndarray:
            tex = model.texture(name)
            count = int(tex.height[0] * tex.width[0] * tex.nchannel[0])
            return model.tex_data[tex.adr[0] : tex.adr[0] + count]

        rng = np.random.default_rng(scene["floor_texture_seed"])
        base = np.asarray(scene["floor_rgb"])
        # Dark and light blobs 4-30 cm across: resolvable at 64x64 from 1-2 m (a pixel spans ~2 cm).
        floor = _paint(
            rng,
            FLOOR_TEXTURE_SIZE,
            base,
            [np.asarray(scene["floor_accent"]), 0.5 + 0.5 * base],
            (8, 16, 32, 64),
        )
        texels("floor")[:] = floor.ravel()
        for name, obj in scene["objects"].items():
            rng = np.random.default_rng(obj["texture_seed"])
            base = np.asarray(obj["rgb"])
            accent = 1.0 - 0.8 * base  # a darker or lighter complement, so blobs stand out
            faces = [_paint(rng, OBJECT_TEXTURE_SIZE, base, [accent], (2, 4, 8)) for _ in range(6)]
            texels(name)[:] = np.concatenate(faces, axis=0).ravel()  # cube: 6 faces stacked

    # ----------------------------------------------------------------- camera
    def _place_camera(self, orbit: np.ndarray) -> None:
        """Pose the camera's mocap body for orbit ``(az, el, d)`` and update the kinematics."""
        az, el, dist = orbit
        lookat = np.asarray(self._scene["lookat"])
        offset = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        forward = -offset
        right = np.array([-math.sin(az), math.cos(az), 0.0])  # forward x world-z, normalized
        up = np.cross(right, forward)
        # MuJoCo cameras look along their -z axis with +y up: columns (right, up, -forward).
        rotation = np.stack([right, up, -forward], axis=1)
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, rotation.ravel())
        self.data.mocap_pos[0] = lookat + dist * offset
        self.data.mocap_quat[0] = quat
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_camlight(self.model, self.data)

    def _checked_orbit(self, value: Any) -> np.ndarray:
        orbit = np.asarray(value, dtype=np.float64)
        if (
            orbit.shape != (3,)
            or not np.all(np.isfinite(orbit))
            or not ELEVATION_RANGE[0] <= orbit[1] <= ELEVATION_RANGE[1]
            or not DISTANCE_RANGE[0] <= orbit[2] <= DISTANCE_RANGE[1]
        ):
            raise ValueError(
                "CameraOrbitEnv.reset: options['orbit'] must be (azimuth, elevation, distance) with "
                f"elevation in [{ELEVATION_RANGE[0]:.4f}, {ELEVATION_RANGE[1]:.4f}] rad and distance in "
                f"{list(DISTANCE_RANGE)} m, got {value!r}"
            )
        return np.array([wrap_angle(orbit[0]), orbit[1], orbit[2]])

    # ----------------------------------------------------------------- reset and step
    def _initialize(self, options: dict[str, Any]) -> None:
        if "orbit" in options:
            orbit = self._checked_orbit(options["orbit"])
        else:
            rng = self.np_random
            orbit = np.array(
                [rng.uniform(-np.pi, np.pi), rng.uniform(*START_ELEVATION), rng.uniform(*START_DISTANCE)]
            )
        self._set_orbit(orbit)

    def _set_orbit(self, orbit: np.ndarray) -> None:
        self._orbit = np.asarray(orbit, dtype=np.float64).copy()
        self._place_camera(self._orbit)

    def _apply_action(self, action: np.ndarray) -> None:
        target = self._orbit + action * self._max_delta
        target[1] = np.clip(target[1], *ELEVATION_RANGE)
        target[2] = np.clip(target[2], *DISTANCE_RANGE)
        self._move_start = self._orbit.copy()
        self._move_delta = target - self._orbit

    def _before_frame(self, frame_index: int) -> None:
        # The camera takes the frame's pose along the interval's move: 1/k of it per frame.
        orbit = self._move_start + self._move_delta * ((frame_index + 1) / self.frames_per_step)
        self._orbit = np.array([wrap_angle(orbit[0]), orbit[1], orbit[2]])
        self._place_camera(self._orbit)

    def task_state(self) -> np.ndarray:
        return np.concatenate([self._orbit, self.data.mocap_pos[0]])

    def _extra_state(self) -> np.ndarray:
        return self._orbit.copy()

    def _set_extra_state(self, extra: np.ndarray) -> None:
        # The mocap pose itself comes back with MuJoCo's state; only the orbit parameters are ours.
        self._orbit = np.asarray(extra, dtype=np.float64).copy()

    def _observation(self) -> dict[str, np.ndarray]:
        return {"rgb": self._last_rgb().copy(), "depth": self.render_depth()[..., None]}


def _hsv(hue: float, saturation: float, value: float) -> np.ndarray:
    """HSV to RGB (hue wraps around 1)."""
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, saturation, value))
