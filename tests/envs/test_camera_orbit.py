"""CameraOrbitEnv: env contract, orbit control, a static scene, and exact camera geometry.

The geometry tests check the intrinsics and camera-to-world extrinsics in ``info`` against
the renderer itself: known world points land on their own pixels, depth unprojects onto the
known surfaces (the floor z = 0, a box's faces), and the point clouds of two viewpoints agree.
"""

from __future__ import annotations

import math
import pickle

import gymnasium as gym
import numpy as np
import pytest
from scipy.spatial import cKDTree

from cosmos_sim.envs.mujoco.camera_orbit import (
    DISTANCE_RANGE,
    ELEVATION_RANGE,
    MAX_AZIMUTH_DELTA,
    MAX_DISTANCE_DELTA,
    MAX_ELEVATION_DELTA,
    CameraOrbitEnv,
)

ENV_ID = "cosmos_sim/CameraOrbit-v0"


def _assert_same(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    else:
        np.testing.assert_array_equal(a, b)


def _unproject(depth: np.ndarray, K: np.ndarray, T: np.ndarray) -> np.ndarray:
    """World points ``(H * W, 3)`` of a depth map ``(H, W)`` (metres along the viewing axis)."""
    v, u = np.mgrid[0 : depth.shape[0], 0 : depth.shape[1]]
    pixels = np.stack([u.ravel(), v.ravel(), np.ones(u.size)])  # (3, N), OpenCV pixel centres
    cam = np.linalg.inv(K) @ pixels * depth.ravel()
    return (T[:3, :3] @ cam + T[:3, 3:]).T


def _project(points: np.ndarray, K: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels ``(N, 2)`` and camera depths ``(N,)`` of world points ``(N, 3)``."""
    cam = (points - T[:3, 3]) @ T[:3, :3]  # world -> camera: R^T (p - t)
    uv = cam @ K.T
    return uv[:, :2] / uv[:, 2:], cam[:, 2]


# --------------------------------------------------------------------------------------- contract
def test_contract_and_determinism():
    env = gym.make(ENV_ID)  # check_env, pickling and bad actions: test_env_contract.py
    assert env.spec.max_episode_steps == 50 and env.unwrapped.dt == pytest.approx(0.2)
    actions = np.random.default_rng(0).uniform(-1, 1, (50, 3)).astype(np.float32)
    runs = []
    for _ in range(2):
        env = gym.make(ENV_ID).unwrapped
        out = [env.reset(seed=5, options={"domain_randomization": True})]
        out += [env.step(a) for a in actions]
        runs.append(out)
    for first, second in zip(*runs, strict=True):
        for a, b in zip(first, second, strict=True):
            _assert_same(a, b)
        obs, info = first[0], first[-1]
        assert env.observation_space.contains(obs)
        assert info["intrinsics"].shape[1:] == (3, 3) and info["extrinsics"].shape[1:] == (4, 4)
        assert info["state"].shape == (6,)
    _, info_other = env.reset(seed=6)
    assert not np.array_equal(info_other["state"], runs[0][0][1]["state"])


def test_state_round_trip_and_pickle_continue_bit_for_bit():
    env = gym.make(ENV_ID, return_frames=True)
    env.reset(seed=2, options={"domain_randomization": True})
    env.step(np.array([0.7, -0.3, 0.5], dtype=np.float32))
    saved = env.unwrapped.get_state()
    clone = pickle.loads(pickle.dumps(env))
    actions = np.array([[1.0, 1.0, -1.0], [-0.5, 0.2, 1.0], [0.3, -1.0, 0.0]], dtype=np.float32)
    first = [env.step(a) for a in actions]
    env.unwrapped.set_state(saved)
    np.testing.assert_array_equal(env.unwrapped.get_state(), saved)
    for restored in (env, clone):
        for action, out in zip(actions, first, strict=True):
            again = restored.step(action)
            _assert_same(again[0], out[0])
            _assert_same(again[4], out[4])


def test_bad_inputs_raise_clear_errors():
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"options\['orbit'\].*got \[0.0, 1.5, 1.0\]"):
        env.reset(options={"orbit": [0.0, 1.5, 1.0]})  # elevation above 70 degrees
    with pytest.raises(ValueError, match=r"unknown options \['zoom'\]"):
        env.reset(options={"zoom": 2})
    with pytest.raises(ValueError, match="keys from"):
        env.reset(options={"scene": {"sky": 1}})
    with pytest.raises(ValueError, match=r"objects\['crate'\].size must be 3 positive numbers"):
        scene = env.unwrapped.scene
        scene["objects"]["crate"]["size"] = [0.1, -0.1, 0.1]
        env.reset(options={"scene": {"objects": scene["objects"]}})
    for field, value, message in (
        ("xy", [np.nan, 0.0], "needs xy"),
        ("yaw", "north", "needs xy"),
        ("rgb", [5.0, 0.0, 0.0], r"rgb \(3 numbers in \[0, 1\]\)"),
        ("texture_seed", -1, r"texture_seed must be an integer in \[0, 2\*\*32\)"),
    ):
        objects = env.unwrapped.scene["objects"]
        objects["crate"][field] = value
        with pytest.raises(ValueError, match=rf"objects\['crate'\].*{message}"):
            env.reset(options={"scene": {"objects": objects}})


def test_the_scene_is_copied_from_the_options_not_shared_with_the_caller():
    env = gym.make(ENV_ID).unwrapped
    objects = env.scene["objects"]
    first = env.reset(seed=0, options={"scene": {"objects": objects}})[0]["rgb"]
    for obj in objects.values():
        obj["rgb"] = [1.0, 0.0, 1.0]  # the caller edits its dict after the reset
    assert env.scene["objects"]["crate"]["rgb"] != [1.0, 0.0, 1.0]
    second = env.reset(seed=0, options={"scene": {"objects": objects}})[0]["rgb"]
    assert env.scene["objects"]["crate"]["rgb"] == [1.0, 0.0, 1.0] and not np.array_equal(first, second)


# --------------------------------------------------------------------------------------- orbit control
def test_actions_move_the_camera_every_frame_by_the_documented_deltas():
    env = CameraOrbitEnv(return_frames=True)
    _, info = env.reset(seed=0, options={"orbit": [0.5, math.radians(30), 1.2]})
    start = info["state"][:3]
    _, _, _, _, info = env.step(np.array([1.0, -1.0, 0.5], dtype=np.float32))
    expected = start + np.array([MAX_AZIMUTH_DELTA, -MAX_ELEVATION_DELTA, 0.5 * MAX_DISTANCE_DELTA])
    np.testing.assert_allclose(info["state"][:3], expected, atol=1e-12)
    # Every frame of the interval shows its share of the move: 1/k, 2/k, ..., k/k.
    k = env.frames_per_step
    for i, state in enumerate(info["frame_states"], start=1):
        np.testing.assert_allclose(state[:3], start + (expected - start) * i / k, atol=1e-12)
    positions = info["extrinsics"][:, :3, 3]
    assert np.all(np.linalg.norm(np.diff(positions, axis=0), axis=1) > 1e-3), "the camera moves every frame"
    # The state's camera position is the last frame's, on the orbit around the look-at point.
    az, el, dist = info["state"][:3]
    lookat = np.asarray(env.scene["lookat"])
    orbit_pos = lookat + dist * np.array(
        [math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)]
    )
    np.testing.assert_allclose(info["state"][3:], orbit_pos, atol=1e-12)
    np.testing.assert_allclose(positions[-1], orbit_pos, atol=1e-12)
    # The camera looks at the look-at point: it projects to the principal point, level (no roll).
    uv, _ = _project(lookat[None], info["intrinsics"][-1], info["extrinsics"][-1])
    np.testing.assert_allclose(uv[0], [(env.width - 1) / 2, (env.height - 1) / 2], atol=1e-9)
    assert abs(info["extrinsics"][-1][2, 0]) < 1e-12, "camera x axis is horizontal"


def test_elevation_and_distance_are_clamped_and_azimuth_wraps():
    env = CameraOrbitEnv()
    env.reset(seed=1, options={"orbit": [3.0, math.radians(60), 1.9]})
    for _ in range(5):
        _, _, _, _, info = env.step(np.array([1.0, 1.0, 1.0], dtype=np.float32))
    az, el, dist = info["state"][:3]
    assert el == ELEVATION_RANGE[1] and dist == DISTANCE_RANGE[1]
    assert -math.pi <= az < math.pi and az == pytest.approx(3.0 + 5 * MAX_AZIMUTH_DELTA - 2 * math.pi)
    for _ in range(20):
        _, _, _, _, info = env.step(np.array([0.0, -1.0, -1.0], dtype=np.float32))
    assert info["state"][1] == ELEVATION_RANGE[0] and info["state"][2] == DISTANCE_RANGE[0]


def test_reset_draws_the_orbit_per_seed_and_keeps_the_nominal_scene():
    env = CameraOrbitEnv()
    _, info_a = env.reset(seed=0)
    scene = env.scene
    _, info_b = env.reset(seed=1)
    assert env.scene == scene, "without domain randomization the scene is the nominal one"
    assert not np.allclose(info_a["state"][:3], info_b["state"][:3])
    for info in (info_a, info_b):
        assert math.radians(20) <= info["state"][1] <= math.radians(50) and 1.0 <= info["state"][2] <= 1.6


def test_domain_randomization_changes_placement_colours_and_textures_but_never_moves_the_scene():
    env = CameraOrbitEnv()
    env.reset(seed=0, options={"orbit": [0.3, 0.6, 1.4]})
    nominal_rgb, nominal_scene = env.render_rgb(), env.scene
    texture = env.model.tex_data.copy()
    env.reset(seed=0, options={"orbit": [0.3, 0.6, 1.4], "domain_randomization": True})
    scene = env.scene
    assert scene["floor_texture_seed"] != nominal_scene["floor_texture_seed"]
    for name, obj in scene["objects"].items():
        assert obj["xy"] != nominal_scene["objects"][name]["xy"]
        assert obj["rgb"] != nominal_scene["objects"][name]["rgb"]
    assert not np.array_equal(env.model.tex_data[: texture.size], texture)
    assert np.abs(env.render_rgb().astype(int) - nominal_rgb).mean() > 10
    # Objects do not overlap.
    names = list(scene["objects"])
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            gap = np.linalg.norm(np.subtract(scene["objects"][a]["xy"], scene["objects"][b]["xy"]))
            assert gap > 0.05
    # Static: nothing but the camera has a degree of freedom, and no geom moves while it orbits.
    assert env.model.nq == 0 and env.model.nmocap == 1
    geoms = env.data.geom_xpos.copy()
    for _ in range(3):
        env.step(np.array([1.0, 0.5, -0.5], dtype=np.float32))
    np.testing.assert_array_equal(env.data.geom_xpos, geoms)


# --------------------------------------------------------------------------------------- camera geometry
def test_object_centres_project_onto_their_own_pixels():
    env = CameraOrbitEnv()
    seen = set()
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        K, T = info["intrinsics"][0], info["extrinsics"][0]
        seg = env.render_segmentation()
        for name in env.scene["objects"]:
            geom = env.model.geom(name).id
            uv, z = _project(env.data.geom_xpos[geom][None], K, T)
            u, v = (round(float(c)) for c in uv[0])
            if 0 <= u < env.width and 0 <= v < env.height and seg[v, u] == geom:
                seen.add(name)
                # The visible surface at that pixel lies in front of the centre, within the object.
                surface = obs["depth"][v, u, 0]
                assert z[0] - env.model.geom_rbound[geom] - 1e-3 < surface < z[0]
    assert len(seen) >= 5, f"only {sorted(seen)} were seen at their projected centres"


def test_depth_unprojects_onto_the_floor_and_the_crate_in_every_frame():
    env = CameraOrbitEnv(return_frames=True)
    env.reset(seed=0, options={"orbit": [0.4, math.radians(35), 1.1]})
    _, _, _, _, info = env.step(np.array([1.0, 1.0, -1.0], dtype=np.float32))
    twin = CameraOrbitEnv()  # renders each frame's segmentation from that frame's orbit
    crate = env.model.geom("crate").id
    half = env.model.geom_size[crate]
    for i in range(env.frames_per_step):
        K, T = info["intrinsics"][i], info["extrinsics"][i]
        twin.reset(options={"orbit": info["frame_states"][i][:3]})
        np.testing.assert_array_equal(twin.camera_extrinsics(), T)
        seg = twin.render_segmentation().ravel()
        points = _unproject(info["depth"][i, ..., 0], K, T)
        floor = seg == env.model.geom("floor").id
        assert floor.sum() > 500
        np.testing.assert_allclose(points[floor, 2], 0.0, atol=1e-4)
        on_crate = seg == crate
        assert on_crate.sum() > 20
        local = (points[on_crate] - env.data.geom_xpos[crate]) @ env.data.geom_xmat[crate].reshape(3, 3)
        # On the box's surface: inside it, and on (at least) one of its faces.
        np.testing.assert_allclose(np.max(np.abs(local) - half, axis=1), 0.0, atol=1e-4)


def test_two_viewpoints_unproject_to_the_same_point_cloud():
    env = CameraOrbitEnv(width=128, height=128)
    obs_a, info_a = env.reset(seed=3, options={"orbit": [1.0, math.radians(40), 1.2]})
    obs_b, _, _, _, info_b = env.step(np.array([1.0, -0.5, 0.5], dtype=np.float32))
    clouds = []
    for obs, info in ((obs_a, info_a), (obs_b, info_b)):
        depth = obs["depth"][..., 0]
        points = _unproject(depth, info["intrinsics"][-1], info["extrinsics"][-1])
        clouds.append(points[(depth.ravel() < 3.0)])  # the floor near the scene and the objects
    # Points of view A that view B also sees (in its image and not behind anything).
    uv, z = _project(clouds[0], info_b["intrinsics"][-1], info_b["extrinsics"][-1])
    inside = np.all((uv > 0) & (uv < 127), axis=1) & (z > 0)
    u, v = np.round(uv[inside]).astype(int).T
    visible = z[inside] < obs_b["depth"][v, u, 0] + 0.02
    shared = clouds[0][inside][visible]
    assert len(shared) > 3000
    distance, _ = cKDTree(clouds[1]).query(shared)
    # Pixels of B are ~1 cm apart on the nearby surfaces: a shared point is within that of one.
    assert np.median(distance) < 0.005 and np.percentile(distance, 90) < 0.015
    # The same test with view B's pose 2 cm too high fails: the check has teeth.
    shifted = info_b["extrinsics"][-1].copy()
    shifted[:3, 3] += [0.0, 0.0, 0.02]
    wrong = _unproject(obs_b["depth"][..., 0], info_b["intrinsics"][-1], shifted)
    wrong_distance, _ = cKDTree(wrong[obs_b["depth"][..., 0].ravel() < 3.0]).query(shared)
    assert np.median(wrong_distance) > 0.01
