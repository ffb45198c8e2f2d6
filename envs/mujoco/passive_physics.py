"""Passive physics scenarios: ground truth for the physics-alignment benchmark.

Objects fall, fly, bounce, slide, collide, swing and topple with nothing acting on them but
gravity and contacts; a benchmark compares a video model's continuation of the first frames
with MuJoCo's. Each scenario draws its scene (sizes, masses, frictions, restitution, initial
poses and velocities, colours) from the reset seed, so one id yields many physically distinct
clips. ``SCENARIOS`` lists them by name; ``PassivePhysicsEnv(scenario)`` runs one.
"""

from __future__ import annotations

import colorsys
import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np
from gymnasium import spaces

from cosmos_sim.envs.mujoco.base import MujocoSceneEnv, visual_xml

TIMESTEP = 0.001  # s; stiff, bouncy contacts (natural frequency CONTACT_OMEGA) need >= 6 steps per impact
PHYSICS_STEPS_PER_FRAME = 40  # 40 ms between frames: 25 fps
FRAMES_PER_STEP = 4  # 0.16 s per env step
# Contact stiffness as a natural frequency (rad/s, mass-normalized as in MuJoCo's solref): an
# impact lasts pi / 500 s ~ 6 ms and a 1 m drop penetrates the floor by < 1 cm at its deepest.
CONTACT_OMEGA = 500.0
# Impedance near 1 makes the contact a plain spring-damper, so `restitution` maps onto the damping
# ratio in closed form; the realized coefficient is within ~0.05 of the requested one for e >= 0.3.
CONTACT_SOLIMP = "0.99 0.99 0.001"
GRAVITY = 9.81
TORSIONAL_FRICTION = 0.005  # m; MuJoCo's default
ROLLING_FRICTION = 0.003  # m; slows a rolling 5 cm ball at ~0.4 m/s^2, like a ball on felt

# Shape -> number of MuJoCo geom size numbers: [r], half sides [hx, hy, hz], [r, half height].
SHAPE_SIZES = {"sphere": 1, "box": 3, "cylinder": 2}
FLOOR_RGB = ((0.5, 0.5, 0.5), (0.62, 0.62, 0.62))  # grey checker: visible, never mistaken for an object
FIXTURE_RGBA = "0.3 0.3 0.3 1"  # pendulum stand and rod: dark grey


# --------------------------------------------------------------------------------------- sampling helpers
def _colours(rng: np.random.Generator, n: int) -> list[list[float]]:
    """``n`` saturated colours with hues spread evenly around the wheel from a random start.

    Jitter of +-1/4 of the spacing keeps neighbouring hues at least half a spacing apart (60
    degrees for 3 objects, 30 for 6), so nearest-colour masks separate the objects.
    """
    start = rng.uniform(0.0, 1.0)
    colours = []
    for i in range(n):
        hue = (start + (i + rng.uniform(-0.25, 0.25)) / n) % 1.0
        rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.8, 1.0), rng.uniform(0.85, 1.0))
        colours.append([round(c, 4) for c in rgb] + [1.0])
    return colours


def _random_quat(rng: np.random.Generator) -> list[float]:
    quat = rng.normal(size=4)  # an isotropic 4-vector, normalized, is a uniform rotation
    quat *= np.sign(quat[0]) / np.linalg.norm(quat)
    return quat.tolist()


def _yaw_quat(yaw: float) -> list[float]:
    return [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]


def _tilted_quat(rng: np.random.Generator, max_tilt: float) -> list[float]:
    """Uniform yaw, then a tilt of up to ``max_tilt`` rad about a random horizontal axis."""
    yaw, tilt, axis_angle = rng.uniform(-np.pi, np.pi), rng.uniform(0.0, max_tilt), rng.uniform(-np.pi, np.pi)
    tilt_quat = [
        math.cos(tilt / 2),
        math.sin(tilt / 2) * math.cos(axis_angle),
        math.sin(tilt / 2) * math.sin(axis_angle),
        0.0,
    ]
    quat = np.empty(4)
    mujoco.mju_mulQuat(quat, np.asarray(tilt_quat), np.asarray(_yaw_quat(yaw)))
    return quat.tolist()


def _free_object(
    rng: np.random.Generator,
    shape: str,
    size: list[float],
    pos: list[float],
    *,
    quat: list[float] | None = None,
    linvel: list[float] | None = None,
    angvel: list[float] | None = None,
    mass: tuple[float, float] = (0.1, 1.0),
    friction: tuple[float, float] = (0.3, 0.9),
    restitution: tuple[float, float] = (0.1, 0.5),
) -> dict[str, Any]:
    """Scene parameters of a free-floating rigid body (ranges are uniform sampling bounds)."""
    return {
        "shape": shape,
        "size": [float(s) for s in size],
        "mass": float(rng.uniform(*mass)),
        "friction": float(rng.uniform(*friction)),
        "restitution": float(rng.uniform(*restitution)),
        "pos": [float(p) for p in pos],
        "quat": [float(q) for q in (quat if quat is not None else [1.0, 0.0, 0.0, 0.0])],
        "linvel": [float(v) for v in (linvel if linvel is not None else [0.0, 0.0, 0.0])],
        "angvel": [float(w) for w in (angvel if angvel is not None else [0.0, 0.0, 0.0])],
    }


# --------------------------------------------------------------------------------------- scenarios
# Each sampler draws one scene's objects. Ranges are chosen so that the motion plays out inside its
# scenario's episode and camera view for every seed (tests/envs/test_passive_physics.py checks both).
def _sample_free_fall(rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    # Dropped from rest at different heights, slowly spinning: the centres follow z0 - g t^2 / 2
    # alike and land after 0.27-0.38 s.
    xs = np.array([-0.28, 0.0, 0.28]) + rng.uniform(-0.03, 0.03, 3)
    zs = rng.uniform(0.35, 0.7, 3)
    sizes = {
        "ball": [rng.uniform(0.05, 0.075)],
        "cube": list(rng.uniform(0.04, 0.065, 3)),
        "can": [rng.uniform(0.04, 0.06), rng.uniform(0.04, 0.075)],
    }
    shapes = {"ball": "sphere", "cube": "box", "can": "cylinder"}
    # The can falls nearly upright, spinning about its axis: a can tilted by more than a few degrees
    # lands on its rim, which flings it out of view. Not exactly upright: MuJoCo 4.0.0's plane-
    # cylinder collision misses the contact of an exactly vertical cylinder that spins about its
    # axis until it is centimetres deep, and the can then shoots up.
    max_tilt = {"ball": np.pi, "cube": math.radians(30), "can": math.radians(2)}
    return {
        name: _free_object(
            rng,
            shapes[name],
            sizes[name],
            [xs[i], rng.uniform(-0.03, 0.03), zs[i]],
            quat=_tilted_quat(rng, max_tilt[name]),
            angvel=[0.0, 0.0, rng.uniform(-3.0, 3.0)] if name == "can" else list(rng.uniform(-1.0, 1.0, 3)),
            restitution=(0.05, 0.3),
        )
        for i, name in enumerate(("ball", "cube", "can"))
    }


def _sample_projectile(rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    # Thrown up and to the right from the left edge (apex 0.1-0.25 m above the start, 0.35-0.5 s
    # of flight), in two depth lanes so they never collide; then they bounce, roll and stop.
    objects = {}
    for name, shape, lane in (("ball", "sphere", -0.1), ("cube", "box", 0.15)):
        size = [rng.uniform(0.045, 0.065)] if shape == "sphere" else list(rng.uniform(0.035, 0.055, 3))
        objects[name] = _free_object(
            rng,
            shape,
            size,
            [rng.uniform(-0.42, -0.36), lane, rng.uniform(0.08, 0.18)],
            quat=_random_quat(rng) if shape == "box" else None,
            linvel=[rng.uniform(0.5, 0.9), 0.0, rng.uniform(1.5, 2.2)],
            angvel=[0.0, rng.uniform(-4.0, 4.0), 0.0]
            if shape == "sphere"
            else list(rng.uniform(-6.0, 6.0, 3)),
            restitution=(0.2, 0.5) if shape == "sphere" else (0.1, 0.4),
        )
    return objects


def _sample_bounce(rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    # Three balls of different restitution dropped side by side: rebound heights ~ e^2 h.
    xs = np.array([-0.25, 0.0, 0.25]) + rng.uniform(-0.02, 0.02, 3)
    return {
        f"ball_{i}": _free_object(
            rng,
            "sphere",
            [rng.uniform(0.04, 0.065)],
            [xs[i], rng.uniform(-0.03, 0.03), rng.uniform(0.45, 0.8)],
            linvel=[rng.uniform(-0.03, 0.03), 0.0, rng.uniform(-0.8, 0.0)],
            restitution=(0.4, 0.9),
        )
        for i in range(3)
    }


def _sample_sliding(rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    # Two flat boxes shoved to the right side by side in two lanes, with different speeds and
    # frictions; friction stops each after v^2 / (2 mu g) = 0.05-0.62 m, within v / (mu g) <= 1.12 s.
    objects = {}
    for i, lane in enumerate((-0.13, 0.13)):
        half = [rng.uniform(0.05, 0.075), rng.uniform(0.05, 0.075), rng.uniform(0.03, 0.045)]
        objects[f"box_{i}"] = _free_object(
            rng,
            "box",
            half,
            [rng.uniform(-0.5, -0.4), lane, half[2]],
            quat=_yaw_quat(rng.uniform(-0.4, 0.4)),
            linvel=[rng.uniform(0.6, 1.1), 0.0, 0.0],
            angvel=[0.0, 0.0, rng.uniform(-1.5, 1.5)],
            friction=(0.1, 0.35),
        )
    return objects


def _sample_collision(rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    # box_0 (slippery) slides into box_1 (grippy), face to face with no yaw, so the impulse is along
    # x. box_0 always arrives: the gap is <= 0.25 m and v0^2 >= 2 mu0 g gap. box_1's friction stops
    # it within ~0.5 m after the hit.
    halves = [[rng.uniform(0.04, 0.06), rng.uniform(0.045, 0.065), rng.uniform(0.03, 0.05)] for _ in range(2)]
    params = (((-0.25, -0.2), (1.0, 1.4), (0.1, 0.2)), ((0.0, 0.08), (-0.2, 0.0), (0.2, 0.3)))
    return {
        f"box_{i}": _free_object(
            rng,
            "box",
            halves[i],
            [rng.uniform(*x_range), 0.0, halves[i][2]],
            linvel=[rng.uniform(*speed), 0.0, 0.0],
            mass=(0.3, 0.8),
            friction=friction,
            restitution=(0.3, 0.7),
        )
        for i, (x_range, speed, friction) in enumerate(params)
    }


def _sample_pendulum(rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    # A bob on a massless rod, hinged about -y so it swings in the image plane; small-angle period
    # 2 pi sqrt(L / g) = 1.1-1.35 s for L = 0.3-0.45 m, so an episode shows about two swings.
    length = rng.uniform(0.3, 0.45)
    angle = rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.8)
    return {
        "bob": {
            "shape": "sphere",
            "size": [float(rng.uniform(0.04, 0.06))],
            "mass": float(rng.uniform(0.1, 1.0)),
            "friction": 0.5,  # the bob touches nothing: friction and restitution are unused
            "restitution": 0.5,
            "pivot": [0.0, 0.0, float(length + 0.2)],
            "length": float(length),
            "angle": float(angle),
            "angle_rate": float(rng.uniform(-0.8, 0.8)),
        }
    }


def _sample_toppling(rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    # A row of dominoes along +x; the first is tipped forward about its front bottom edge and the
    # fall runs down the row. Spacing 0.45-0.6 of the height keeps the chain going for every seed.
    n = 6
    half_height = rng.uniform(0.09, 0.11)
    spacing = 2 * half_height * rng.uniform(0.45, 0.6)
    x0 = -(n - 1) * spacing / 2 - 0.08
    objects = {}
    for i in range(n):
        half = [rng.uniform(0.012, 0.016), rng.uniform(0.05, 0.065), half_height * rng.uniform(0.95, 1.05)]
        linvel, angvel = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
        if i == 0:
            # Rotation rate w about +y around the front bottom edge: centre velocity w x (centre - edge).
            rate = rng.uniform(2.5, 4.0)
            angvel = [0.0, rate, 0.0]
            linvel = [rate * half[2], 0.0, rate * half[0]]
        objects[f"domino_{i}"] = _free_object(
            rng,
            "box",
            half,
            [x0 + i * spacing, 0.0, half[2]],
            linvel=linvel,
            angvel=angvel,
            mass=(0.05, 0.2),
            friction=(0.3, 0.6),
            restitution=(0.1, 0.3),
        )
    return objects


@dataclass(frozen=True)
class PassiveScenario:
    """One passive-physics scenario: what it shows, its objects, its camera and how a seed draws it.

    Benchmark authors iterate ``SCENARIOS`` (name -> scenario) and make each with
    ``PassivePhysicsEnv(name)`` or its registered id ``cosmos_sim/Physics-<Name>-v0``.
    """

    name: str
    """Registry key, e.g. ``"free_fall"``."""
    description: str
    """One line for benchmark reports."""
    object_names: tuple[str, ...]
    """Objects in ``task_state`` order."""
    max_episode_steps: int
    """Episode length in env steps (0.16 s each at the default timing)."""
    camera_pos: tuple[float, float, float]
    """World position of the fixed camera (m)."""
    camera_lookat: tuple[float, float, float]
    """World point at the image centre (m)."""
    camera_fovy: float
    """Vertical field of view (degrees)."""
    sample_objects: Callable[[np.random.Generator], dict[str, dict[str, Any]]]
    """Draws the objects' parameters (everything but colour) from a generator."""

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Scene parameters for one episode: the objects with their colours, drawn from ``rng``."""
        objects = self.sample_objects(rng)
        for obj, rgba in zip(objects.values(), _colours(rng, len(objects)), strict=True):
            obj["rgba"] = rgba
        return {"scenario": self.name, "object_names": list(self.object_names), "objects": objects}

    @property
    def duration(self) -> float:
        """Episode length in seconds at the default timing."""
        return self.max_episode_steps * FRAMES_PER_STEP * PHYSICS_STEPS_PER_FRAME * TIMESTEP


# Cameras look at the scene from -y (x to the right of the image, z up) and frame every object of
# every seed for the whole episode with a few pixels to spare at 64x64 (checked for 80 seeds).
SCENARIOS: dict[str, PassiveScenario] = {
    s.name: s
    for s in (
        PassiveScenario(
            name="free_fall",
            description="a ball, a cube and a can dropped from rest at different heights",
            object_names=("ball", "cube", "can"),
            max_episode_steps=8,  # lands by 0.38 s, at rest by ~1.1 s
            camera_pos=(0.0, -1.75, 1.0),
            camera_lookat=(0.0, 0.0, 0.3),
            camera_fovy=34.0,
            sample_objects=_sample_free_fall,
        ),
        PassiveScenario(
            name="projectile",
            description="a ball and a tumbling cube thrown on parabolic arcs",
            object_names=("ball", "cube"),
            max_episode_steps=10,  # lands by 0.5 s, then bounces and rolls
            camera_pos=(0.03, -2.0, 0.7),
            camera_lookat=(0.03, 0.0, 0.25),
            camera_fovy=33.0,
            sample_objects=_sample_projectile,
        ),
        PassiveScenario(
            name="bounce",
            description="three balls of different restitution dropped onto the floor",
            object_names=("ball_0", "ball_1", "ball_2"),
            max_episode_steps=12,  # first impact by 0.4 s, then two or more rebounds
            camera_pos=(0.0, -1.72, 0.65),
            camera_lookat=(0.0, 0.0, 0.42),
            camera_fovy=34.0,
            sample_objects=_sample_bounce,
        ),
        PassiveScenario(
            name="sliding",
            description="two boxes shoved side by side across the floor, stopped by friction",
            object_names=("box_0", "box_1"),
            max_episode_steps=8,  # both stopped by 1.12 s
            camera_pos=(-0.2, -1.07, 1.12),
            camera_lookat=(-0.2, 0.0, 0.0),
            camera_fovy=36.0,
            sample_objects=_sample_sliding,
        ),
        PassiveScenario(
            name="collision",
            description="a sliding box hits a second box head on",
            object_names=("box_0", "box_1"),
            max_episode_steps=8,  # impact by 0.3 s, both stopped by ~0.8 s
            camera_pos=(0.08, -1.86, 0.9),
            camera_lookat=(0.08, 0.0, 0.04),
            camera_fovy=25.0,
            sample_objects=_sample_collision,
        ),
        PassiveScenario(
            name="pendulum",
            description="a pendulum released from a random angle swings about a fixed pivot",
            object_names=("bob",),
            max_episode_steps=16,  # about two periods
            camera_pos=(0.0, -1.65, 0.55),
            camera_lookat=(0.0, 0.0, 0.38),
            camera_fovy=30.0,
            sample_objects=_sample_pendulum,
        ),
        PassiveScenario(
            name="toppling",
            description="a row of six dominoes knocked over one by one from the left",
            object_names=tuple(f"domino_{i}" for i in range(6)),
            max_episode_steps=10,  # the last domino is down by ~1.1 s
            # Oblique, from the front left: from the side the dominoes' thin edges would face the camera.
            camera_pos=(-0.6, -1.0, 0.55),
            camera_lookat=(0.0, 0.0, 0.08),
            camera_fovy=42.0,
            sample_objects=_sample_toppling,
        ),
    )
}


def get_scenario(name: str) -> PassiveScenario:
    """The scenario registered under ``name``; ``ValueError`` naming the known ones otherwise."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown passive-physics scenario {name!r}; known scenarios: {sorted(SCENARIOS)}")
    return SCENARIOS[name]


# --------------------------------------------------------------------------------------- scene handling
def _merge_overrides(scene: dict[str, Any], overrides: Any, path: str = "scene") -> None:
    """Write ``overrides`` into ``scene`` in place: only existing keys, numbers of the same shape.

    Strings (the scenario, shapes, object names) are fixed by the scenario and cannot change.
    """
    if not isinstance(overrides, dict):
        raise ValueError(f"PassivePhysicsEnv.reset: {path} must be a dict, got {overrides!r}")
    for key, value in overrides.items():
        where = f"{path}.{key}"
        if key not in scene:
            raise ValueError(
                f"PassivePhysicsEnv.reset: unknown scene parameter {where!r}; known: {sorted(scene)}"
            )
        current = scene[key]
        if isinstance(current, dict):
            _merge_overrides(current, value, where)
            continue
        if isinstance(current, str) or (isinstance(current, list) and isinstance(current[0], str)):
            if value != current:
                raise ValueError(
                    f"PassivePhysicsEnv.reset: {where} is fixed by the scenario ({current!r}), got {value!r}"
                )
            continue
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.shape != np.shape(current) or not np.all(np.isfinite(arr)):
            raise ValueError(
                f"PassivePhysicsEnv.reset: {where} must be finite number(s) shaped like {current!r}, "
                f"got {value!r}"
            )
        scene[key] = arr.tolist() if isinstance(current, list) else float(arr)


def _validate_object(name: str, obj: dict[str, Any]) -> None:
    """Physical sanity of one object's parameters, after overrides."""
    expected = SHAPE_SIZES[obj["shape"]]
    checks = [
        ("size", len(obj["size"]) == expected and min(obj["size"]) > 0, f"{expected} positive number(s)"),
        ("mass", obj["mass"] > 0, "positive"),
        ("friction", obj["friction"] >= 0, "non-negative"),
        ("restitution", 0 <= obj["restitution"] < 1, "in [0, 1)"),
        ("rgba", len(obj["rgba"]) == 4 and all(0 <= c <= 1 for c in obj["rgba"]), "4 numbers in [0, 1]"),
    ]
    if "quat" in obj:
        checks.append(("quat", np.linalg.norm(obj["quat"]) > 1e-9, "a non-zero quaternion"))
    if "length" in obj:
        checks.append(
            ("length", 0 < obj["length"] < obj["pivot"][2] - obj["size"][0], "below the pivot height")
        )
    for key, ok, what in checks:
        if not ok:
            raise ValueError(
                f"PassivePhysicsEnv.reset: objects.{name}.{key} must be {what}, got {obj[key]!r}"
            )


def _contact_solref(restitution: float) -> str:
    """Direct (negative) solref: stiffness omega^2, damping 2 zeta omega for restitution e.

    A spring-damper contact returns ``e = exp(-pi zeta / sqrt(1 - zeta^2))``; inverted here.
    """
    if restitution <= 0.0:
        zeta = 1.0
    else:
        log_e = math.log(restitution)
        zeta = -log_e / math.sqrt(math.pi**2 + log_e**2)
    return _fmt([-(CONTACT_OMEGA**2), -2.0 * zeta * CONTACT_OMEGA])


def _fmt(values: Any) -> str:
    # repr: the shortest text that parses back to the same double, so the model holds exactly the
    # scene's numbers (a benchmark computes with those).
    return " ".join(repr(float(v)) for v in np.atleast_1d(values))


def _look_at_xyaxes(pos: np.ndarray, lookat: np.ndarray) -> str:
    """MuJoCo camera ``xyaxes`` (right, up) for a camera at ``pos`` looking at ``lookat``, z up."""
    forward = (lookat - pos) / np.linalg.norm(lookat - pos)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    return _fmt([*right, *np.cross(right, forward)])


class PassivePhysicsEnv(MujocoSceneEnv):
    """Passive physics scenarios (no agent) for the physics-alignment benchmark.

    ## Description
    Rigid objects on a grey checker floor, moved only by gravity and contacts, seen by a fixed
    side/oblique camera that keeps every object in view for the whole episode. One env class
    runs every scenario of ``SCENARIOS`` (``scenario`` argument):

    | scenario | objects (``task_state`` order) | episode |
    |---|---|---|
    | ``free_fall`` | ball, cube, can (sphere, box, cylinder) dropped from 0.35-0.7 m | 8 steps, 1.28 s |
    | ``projectile`` | ball, cube thrown up and to the right on parabolas | 10 steps, 1.6 s |
    | ``bounce`` | ball_0..2, restitution 0.4-0.9, dropped from 0.45-0.8 m | 12 steps, 1.92 s |
    | ``sliding`` | box_0, box_1 shoved side by side, stopped by friction 0.1-0.35 | 8 steps, 1.28 s |
    | ``collision`` | box_0 slides into box_1 head on along x | 8 steps, 1.28 s |
    | ``pendulum`` | bob on a massless rod, hinge about -y, released at 0.3-0.8 rad | 16 steps, 2.56 s |
    | ``toppling`` | domino_0..5 in a row along +x; domino_0 tipped forward | 10 steps, 1.6 s |

    Every object has a distinct saturated colour (hues spread evenly around the colour wheel
    from a random start); the floor is an unsaturated grey checker and the pendulum's stand and
    rod are dark grey, so per-object colour masks separate cleanly. Each object's parameters
    are in ``env.scene["objects"][name]``: ``shape`` (sphere/box/cylinder), ``size`` (MuJoCo
    geom size in m: ``[r]``, half sides ``[hx, hy, hz]``, ``[r, half height]``), ``mass`` (kg),
    ``friction`` (Coulomb coefficient against the floor; object pairs use the larger),
    ``restitution`` (nominal coefficient of restitution; object pairs average theirs), ``rgba``
    and the initial state: ``pos``, ``quat`` (w, x, y, z), ``linvel`` and ``angvel`` (world
    frame, m/s and rad/s), or for the pendulum bob ``pivot``, ``length``, ``angle`` (rad from
    hanging straight down, positive towards +x) and ``angle_rate`` (rad/s).

    Contacts are stiff spring-dampers (natural frequency 500 rad/s, damping from restitution):
    an impact lasts ~6 ms and the deepest floor penetration of a 1 m drop stays under 1 cm, a
    tolerance an interpenetration check (object ``z`` against its ``size``) must allow. A ball's
    realized restitution on the floor lies within about -0.02/+0.15 of the nominal value (most
    for low values): contact starts up to one 1 ms physics step deep, and that spring energy
    comes back. It is deterministic per scene, so the ground truth is exact; only the name is
    approximate.

    ## Action Space
    ``Box(0, 0, (1,), float32)``: a no-op that holds only 0, so planners and recorders can treat
    these envs like any other. Actions are clipped to the space (to 0); a wrong shape or
    NaN/inf raises ``ValueError``.

    ## Observation Space
    ``Box(0, 255, (height, width, 3), uint8)``: the RGB frame of the fixed camera at the end of
    the control interval. With ``depth=True`` a ``Dict`` with ``rgb`` and ``depth``
    (``float32 (H, W, 1)``, metres along the camera's viewing axis).

    ``task_state()`` (also ``info["state"]``) is the pose of every object, concatenated in
    ``env.object_names`` order: ``(x, y, z, qw, qx, qy, qz)`` per object, world frame, metres,
    the object's centre (the geom centre; for the pendulum, the bob's centre). Its size is
    ``7 * len(object_names)``; ``task_state_from_qpos`` computes it from ``qpos`` for oracle
    rollouts.

    ``info`` carries, per rendered frame of the interval (stacked, ``(k, ...)``): ``intrinsics``
    ``(k, 3, 3)`` and ``extrinsics`` ``(k, 4, 4)`` always, and ``depth`` ``(k, H, W, 1)`` with
    ``return_frames=True``. Intrinsics use the OpenCV pixel convention (pixel centres at integer
    coordinates, ``u`` right, ``v`` down); extrinsics are camera-to-world in OpenCV camera axes:
    x right, y down, z forward (the viewing direction). A pixel ``(u, v)`` with depth ``d``
    is the world point ``T[:3, :3] @ (d * inv(K) @ [u, v, 1]) + T[:3, 3]``.

    ## Rewards
    None: the reward is always 0.

    ## Starting State
    Drawn per seed (the point of these scenarios) from the ranges in each scenario's sampler.
    ``options={"scene": {...}}`` overrides parameters by nested key, e.g.
    ``{"objects": {"ball_0": {"restitution": 0.9, "pos": [0, 0, 1]}}}``; unknown keys, values of the
    wrong size and non-physical values raise ``ValueError``. ``options={"initial_state_noise":
    eps}`` adds ``eps * N(0, 1)`` to every initial position coordinate (m; the pendulum angle,
    rad) and velocity coordinate (m/s, rad/s). To measure the physical variance of one scene,
    reset it repeatedly with different seeds and the scene fixed:
    ``env.reset(seed=s, options={"scene": scene, "initial_state_noise": 1e-4})``.
    ``options={"domain_randomization": False}`` gives the scenario's nominal scene (the one
    drawn by ``np.random.default_rng(0)``) for every seed.

    ## Episode End
    Never terminates; truncated after the scenario's episode length by the registered
    ``TimeLimit``, by when each scenario's event has played out for every seed: dropped objects
    have landed and settled, thrown ones landed, boxes stopped, the pendulum swung about twice,
    every domino fallen. Bouncy balls may still bounce and a thrown ball may still roll.

    ## Arguments
    ``scenario`` (a key of ``SCENARIOS``), ``width``, ``height`` (64), ``frames_per_step`` (4),
    ``physics_steps_per_frame`` (40 steps of 1 ms: 25 fps, 0.16 s per env step; at 25 fps the
    fastest object, a ball hitting the floor at ~3.5 m/s, moves ~14 cm or under 10 pixels
    between frames), ``return_frames``
    (every frame of the interval in ``info["frames"]``, its depth in ``info["depth"]``),
    ``depth``.

    ## Version History
    - v0: initial release.
    """

    camera_name = "main"
    camera_frame_info = True
    reset_options = frozenset({"scene", "initial_state_noise", "domain_randomization"})

    def __init__(
        self,
        scenario: str,
        *,
        width: int = 64,
        height: int = 64,
        frames_per_step: int = FRAMES_PER_STEP,
        physics_steps_per_frame: int = PHYSICS_STEPS_PER_FRAME,
        return_frames: bool = False,
        depth: bool = False,
        render_mode: str | None = "rgb_array",
    ) -> None:
        self.scenario = get_scenario(scenario)
        self.depth = bool(depth)
        super().__init__(
            width=width,
            height=height,
            frames_per_step=frames_per_step,
            physics_steps_per_frame=physics_steps_per_frame,
            return_frames=return_frames,
            render_mode=render_mode,
        )
        self.action_space = spaces.Box(0.0, 0.0, shape=(1,), dtype=np.float32)
        rgb = spaces.Box(0, 255, shape=(self.height, self.width, 3), dtype=np.uint8)
        if self.depth:
            depth_space = spaces.Box(0.0, np.inf, shape=(self.height, self.width, 1), dtype=np.float32)
            self.observation_space = spaces.Dict({"rgb": rgb, "depth": depth_space})
        else:
            self.observation_space = rgb
        self.task_description = self.scenario.description
        # Every scene of a scenario has the same joints in the same order: the addresses hold for all.
        self._qpos_adr = {name: int(self.model.joint(name).qposadr[0]) for name in self.object_names}

    @property
    def object_names(self) -> tuple[str, ...]:
        """Objects in ``task_state`` order; their parameters are ``scene["objects"][name]``."""
        return self.scenario.object_names

    # ----------------------------------------------------------------- scene
    def _nominal_scene(self) -> dict[str, Any]:
        return self.scenario.sample(np.random.default_rng(0))

    def _sample_scene(self, options: dict[str, Any]) -> dict[str, Any]:
        if options.get("domain_randomization", True):
            scene = self.scenario.sample(self.np_random)
        else:
            scene = self._nominal_scene()
        _merge_overrides(scene, copy.deepcopy(options.get("scene", {})))
        for name, obj in scene["objects"].items():
            _validate_object(name, obj)
        return scene

    def _build_xml(self, scene: dict[str, Any]) -> str:
        spec = self.scenario
        camera_pos = np.asarray(spec.camera_pos)
        bodies = "\n".join(self._body_xml(name, obj) for name, obj in scene["objects"].items())
        return f"""
<mujoco model="passive_{spec.name}">
  <!-- Elliptic cones: isotropic Coulomb friction; MuJoCo's default pyramid is anisotropic and,
       at near-zero friction, ill-conditioned enough to break momentum conservation. -->
  <option timestep="{TIMESTEP}" gravity="0 0 {-GRAVITY}" cone="elliptic"/>
  {visual_xml(self.width, self.height)}
  <asset>
    <texture name="floor" type="2d" builtin="checker" width="64" height="64"
             rgb1="{_fmt(FLOOR_RGB[0])}" rgb2="{_fmt(FLOOR_RGB[1])}"/>
    <material name="floor" texture="floor" texrepeat="8 8" specular="0" reflectance="0"/>
    <texture name="sky" type="skybox" builtin="gradient" width="32" height="32"
             rgb1="0.82 0.84 0.87" rgb2="0.55 0.57 0.6"/>
  </asset>
  <worldbody>
    <light name="top" directional="true" pos="0 0 3" dir="0.2 0.3 -1" diffuse="0.35 0.35 0.35"
           specular="0 0 0" castshadow="false"/>
    <geom name="floor" type="plane" size="3 3 0.1" material="floor"/>
    <camera name="main" pos="{_fmt(camera_pos)}" fovy="{spec.camera_fovy}"
            xyaxes="{_look_at_xyaxes(camera_pos, np.asarray(spec.camera_lookat))}"/>
    {bodies}
  </worldbody>
</mujoco>
"""

    @staticmethod
    def _body_xml(name: str, obj: dict[str, Any]) -> str:
        # priority="1" beats the floor's 0, so an object-floor contact uses the object's friction and
        # restitution alone; between two objects MuJoCo takes the larger friction and mean solref.
        # Round shapes get rolling resistance (condim 6): without it a rolling ball or can never stops.
        # Boxes do not need it, and dominoes would topple less readily with it.
        condim = 3 if obj["shape"] == "box" else 6
        geom = (
            f'type="{obj["shape"]}" size="{_fmt(obj["size"])}" mass="{_fmt(obj["mass"])}" '
            f'rgba="{_fmt(obj["rgba"])}" condim="{condim}" priority="1" '
            f'friction="{_fmt([obj["friction"], TORSIONAL_FRICTION, ROLLING_FRICTION])}" '
            f'solref="{_contact_solref(obj["restitution"])}" solimp="{CONTACT_SOLIMP}"'
        )
        if "pivot" not in obj:
            return (
                f'<body name="{name}" pos="{_fmt(obj["pos"])}">'
                f'<freejoint name="{name}"/><geom name="{name}" {geom}/></body>'
            )
        # Pendulum: the body frame sits at the bob's centre (so its pose is the bob's), hinged
        # ``length`` above it; the rod is massless and, like the bob, touches nothing.
        length, radius = obj["length"], obj["size"][0]
        pivot = np.asarray(obj["pivot"])
        fixture = f'rgba="{FIXTURE_RGBA}" contype="0" conaffinity="0"'
        return f"""
    <geom name="{name}_stand" type="box" pos="{_fmt(pivot + [0, 0.12, -pivot[2] / 2])}"
          size="0.02 0.02 {_fmt(pivot[2] / 2)}" {fixture}/>
    <geom name="{name}_axle" type="cylinder" pos="{_fmt(pivot + [0, 0.06, 0])}" zaxis="0 1 0"
          size="0.012 0.06" {fixture}/>
    <body name="{name}" pos="{_fmt(pivot - [0, 0, length])}">
      <joint name="{name}" type="hinge" axis="0 -1 0" pos="0 0 {_fmt(length)}"/>
      <geom name="{name}" {geom} contype="0" conaffinity="0"/>
      <geom name="{name}_rod" type="capsule" fromto="0 0 {_fmt(radius)} 0 0 {_fmt(length)}" size="0.005"
            mass="0" {fixture}/>
    </body>"""

    # ----------------------------------------------------------------- reset and step
    def _initialize(self, options: dict[str, Any]) -> None:
        noise = options.get("initial_state_noise", 0.0)
        is_number = isinstance(noise, (int, float, np.floating, np.integer)) and not isinstance(noise, bool)
        if not is_number or not (0.0 <= noise < np.inf):
            raise ValueError(
                "PassivePhysicsEnv.reset: options['initial_state_noise'] must be a finite number >= 0, "
                f"got {noise!r}"
            )
        position_dofs = []  # qpos indices of positions (not quaternion components), for the noise
        for name, obj in self._scene["objects"].items():
            joint = self.model.joint(name)
            qpos, qvel = joint.qposadr[0], joint.dofadr[0]
            if "pivot" in obj:
                self.data.qpos[qpos] = obj["angle"]
                self.data.qvel[qvel] = obj["angle_rate"]
                position_dofs.append(qpos)
                continue
            quat = np.asarray(obj["quat"]) / np.linalg.norm(obj["quat"])
            self.data.qpos[qpos : qpos + 7] = [*obj["pos"], *quat]
            self.data.qvel[qvel : qvel + 3] = obj["linvel"]
            # A free joint's angular velocity is in the body frame: rotate the world-frame one into it.
            rotation = np.empty(9)
            mujoco.mju_quat2Mat(rotation, quat)
            self.data.qvel[qvel + 3 : qvel + 6] = rotation.reshape(3, 3).T @ np.asarray(obj["angvel"])
            position_dofs.extend(range(qpos, qpos + 3))
        if noise > 0:
            self.data.qpos[position_dofs] += noise * self.np_random.normal(size=len(position_dofs))
            self.data.qvel[:] += noise * self.np_random.normal(size=self.model.nv)

    def controls_from_actions(self, actions: np.ndarray) -> np.ndarray:
        return np.zeros((*np.shape(actions)[:-1], 0))  # no actuators: nothing to control

    def _apply_action(self, action: np.ndarray) -> None:
        pass  # passive: the only valid action is 0

    def task_state_from_qpos(self, qpos: np.ndarray) -> np.ndarray:
        """Object poses ``(..., 7 * n_objects)`` from generalized positions ``(..., nq)``."""
        poses = []
        for name, obj in self._scene["objects"].items():
            adr = self._qpos_adr[name]
            if "pivot" in obj:
                # Hinge about -y through the pivot: the bob hangs at pivot + L (sin a, 0, -cos a).
                angle = qpos[..., adr]
                zero = np.zeros_like(angle)
                pos = np.asarray(obj["pivot"]) + obj["length"] * np.stack(
                    [np.sin(angle), zero, -np.cos(angle)], -1
                )
                quat = np.stack([np.cos(angle / 2), zero, -np.sin(angle / 2), zero], -1)
            else:
                pos = qpos[..., adr : adr + 3]
                quat = qpos[..., adr + 3 : adr + 7]
                quat = quat / np.linalg.norm(quat, axis=-1, keepdims=True)  # as MuJoCo's xquat
            poses += [pos, quat]
        return np.concatenate(poses, axis=-1)

    def task_state(self) -> np.ndarray:
        return self.task_state_from_qpos(self.data.qpos)

    def _observation(self):
        rgb = self._last_rgb().copy()
        if not self.depth:
            return rgb
        return {"rgb": rgb, "depth": self.render_depth()[..., None]}
