"""PassivePhysicsEnv: env contract for every Physics-* id, scene handling and per-scenario physics.

The physics checks compare against closed-form mechanics (free fall, projectile, pendulum
period, momentum) at the precision the 1 ms semi-implicit Euler step allows.
"""

from __future__ import annotations

import colorsys
import math
import pickle

import gymnasium as gym
import numpy as np
import pytest

from cosmos_sim.envs import ENV_SPECS
from cosmos_sim.envs.mujoco.passive_physics import GRAVITY, SCENARIOS, PassivePhysicsEnv
from cosmos_sim.planners.mujoco_oracle import MujocoOracleDynamics

# mujoco is imported inside the tests that need it: it reads MUJOCO_GL once, at import, and the
# cosmos_sim imports above must choose the offscreen backend first.

PHYSICS_IDS = sorted(env_id for env_id in ENV_SPECS if env_id.startswith("cosmos_sim/Physics-"))


def _rollout(env, seed: int, steps: int, options=None):
    """``(obs, info)`` of the reset and of each of ``steps`` no-op steps."""
    obs, info = env.reset(seed=seed, options=options)
    out = [(obs, info)]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(np.zeros(1, dtype=np.float32))
        assert reward == 0.0 and not terminated and not truncated
        out.append((obs, info))
    return out


def _frame_states(env, seed: int, steps: int, options=None) -> np.ndarray:
    """Task state at t = 0 and after every frame: ``(1 + steps * k, n_objects, 7)``."""
    _, info = env.reset(seed=seed, options=options)
    states = [info["state"]]
    for _ in range(steps):
        *_, info = env.step(np.zeros(1))
        states.extend(info["frame_states"])
    return np.array(states).reshape(len(states), len(env.object_names), 7)


def _assert_same(a, b) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    else:
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------------------- registry
def test_every_scenario_has_an_id_with_its_episode_length():
    registered = {
        spec[2]["scenario"]: (spec[0], spec[1]) for env_id, spec in ENV_SPECS.items() if env_id in PHYSICS_IDS
    }
    assert set(registered) == set(SCENARIOS)
    for name, (entry_point, max_steps) in registered.items():
        assert entry_point == "cosmos_sim.envs.mujoco.passive_physics:PassivePhysicsEnv"
        assert max_steps == SCENARIOS[name].max_episode_steps
    for env_id in PHYSICS_IDS:
        env = gym.make(env_id)
        assert env.spec.max_episode_steps == SCENARIOS[env.unwrapped.scenario.name].max_episode_steps
        assert env.unwrapped.fps == 25 and env.unwrapped.dt == pytest.approx(0.16)
        env.close()


def test_unknown_scenario_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown passive-physics scenario 'avalanche'") as err:
        PassivePhysicsEnv("avalanche")
    for name in SCENARIOS:
        assert name in str(err.value)


# --------------------------------------------------------------------------------------- env contract
@pytest.mark.parametrize("env_id", PHYSICS_IDS)
def test_contract(env_id):
    """Identical 50-step rollouts per seed (obs, states, infos), spaces, seeds differ.

    check_env, pickling and bad actions run for every id in test_env_contract.py."""
    env_a, env_b = gym.make(env_id).unwrapped, gym.make(env_id).unwrapped  # 50 steps: past the TimeLimit
    run_a, run_b = _rollout(env_a, 11, 50), _rollout(env_b, 11, 50)
    for (obs_a, info_a), (obs_b, info_b) in zip(run_a, run_b, strict=True):
        _assert_same(obs_a, obs_b)
        _assert_same(info_a, info_b)
        assert env_a.observation_space.contains(obs_a)
        assert info_a["state"].shape == (7 * len(env_a.object_names),)
    assert env_a.scene == env_b.scene
    _, info_c = env_b.reset(seed=12)
    assert env_b.scene != env_a.scene
    assert not np.array_equal(info_c["state"], run_a[0][1]["state"])
    assert not np.array_equal(run_a[1][0], _rollout(env_b, 12, 1)[1][0]), (
        "a different seed must look different"
    )


@pytest.mark.parametrize("env_id", PHYSICS_IDS)
def test_state_round_trip_and_pickle_continue_bit_for_bit(env_id):
    env = gym.make(env_id, depth=True)
    env.reset(seed=4)
    for _ in range(2):
        env.step(np.zeros(1))
    saved = env.unwrapped.get_state()
    clone = pickle.loads(pickle.dumps(env))
    first = [env.step(np.zeros(1)) for _ in range(3)]
    env.unwrapped.set_state(saved)
    np.testing.assert_array_equal(env.unwrapped.get_state(), saved)
    for restored in (env, clone):
        for out in first:
            again = restored.unwrapped.step(np.zeros(1))
            _assert_same(again[0], out[0])
            _assert_same(again[4], out[4])


@pytest.mark.parametrize("env_id", PHYSICS_IDS)
def test_out_of_range_action_is_clipped_to_the_only_valid_one(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([5.0]))
    np.testing.assert_array_equal(info["action"], [0.0])
    assert info["state"].shape == (7 * len(env.unwrapped.object_names),)


# --------------------------------------------------------------------------------------- scene and layout
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scene_records_names_sizes_and_distinct_saturated_colours(name):
    env = PassivePhysicsEnv(name)
    for seed in range(3):
        env.reset(seed=seed)
        scene = env.scene
        assert scene["object_names"] == list(env.object_names) == list(scene["objects"])
        hues = []
        for obj in scene["objects"].values():
            assert min(obj["size"]) > 0
            hue, saturation, value = colorsys.rgb_to_hsv(*obj["rgba"][:3])
            assert saturation >= 0.8 and value >= 0.85
            hues.append(hue)
        n = len(hues)
        for i in range(n):
            for j in range(i + 1, n):
                gap = abs(hues[i] - hues[j])
                assert min(gap, 1 - gap) >= 0.5 / n - 1e-9, f"hues {hues} too close"
        # task_state is the concatenated body poses, in object_names order.
        ids = [env.model.body(obj).id for obj in env.object_names]
        expected = np.concatenate([env.data.xpos[ids], env.data.xquat[ids]], axis=1).ravel()
        np.testing.assert_allclose(env.task_state(), expected, atol=1e-12)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_object_stays_in_view_for_the_whole_episode(name):
    """The 8 corners of every object's bounding box project inside the image in every frame."""
    import mujoco

    env = PassivePhysicsEnv(name, return_frames=True)
    steps = SCENARIOS[name].max_episode_steps
    for seed in range(2):
        _, info = env.reset(seed=seed)
        # Half extents of each object's bounding box: sphere [r], cylinder [r, half height], box.
        half = []
        for obj in env.object_names:
            size = env.scene["objects"][obj]["size"]
            half.append(np.array(size if len(size) == 3 else [size[0], size[0], size[-1]]))
        corners = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)], dtype=float)
        frames = [(info["state"], info["intrinsics"][0], info["extrinsics"][0])]
        for _ in range(steps):
            *_, info = env.step(np.zeros(1))
            frames += zip(info["frame_states"], info["intrinsics"], info["extrinsics"], strict=True)
        for state, K, T in frames:
            for pose, h in zip(state.reshape(-1, 7), half, strict=True):
                rotation = np.empty(9)
                mujoco.mju_quat2Mat(rotation, pose[3:])
                world = (corners * h) @ rotation.reshape(3, 3).T + pose[:3]
                cam = (world - T[:3, 3]) @ T[:3, :3]
                uv = cam @ K.T
                uv = uv[:, :2] / uv[:, 2:]
                assert np.all(cam[:, 2] > 0)
                assert np.all((uv > -0.5) & (uv < 63.5)), f"{name} seed {seed}: object leaves the image"


@pytest.mark.parametrize("name", ["free_fall", "collision"])
def test_camera_geometry_matches_the_render(name):
    """Object centres project onto their own pixels; floor pixels unproject onto z = 0."""
    env = PassivePhysicsEnv(name, depth=True)
    obs, info = env.reset(seed=0)
    K, T = info["intrinsics"][0], info["extrinsics"][0]
    np.testing.assert_allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-9)
    seg = env.render_segmentation()
    for obj in env.object_names:
        cam = (env.data.geom_xpos[env.model.geom(obj).id] - T[:3, 3]) @ T[:3, :3]
        u, v = (K @ cam)[:2] / cam[2]
        assert seg[round(v), round(u)] == env.model.geom(obj).id
    v, u = np.nonzero(seg == env.model.geom("floor").id)
    depth = obs["depth"][v, u, 0]
    rays = np.linalg.inv(K) @ np.stack([u, v, np.ones_like(u)]).astype(float)  # (3, N)
    world = (T[:3, :3] @ (rays * depth) + T[:3, 3:]).T
    np.testing.assert_allclose(world[:, 2], 0.0, atol=2e-4)


# --------------------------------------------------------------------------------------- options
def test_scene_overrides_and_their_errors():
    env = PassivePhysicsEnv("bounce")
    env.reset(
        seed=0, options={"scene": {"objects": {"ball_1": {"restitution": 0.85, "pos": [0.0, 0.0, 0.6]}}}}
    )
    assert env.scene["objects"]["ball_1"]["restitution"] == 0.85
    np.testing.assert_allclose(env.task_state()[7:10], [0.0, 0.0, 0.6])
    with pytest.raises(ValueError, match=r"unknown scene parameter 'scene.objects.ball_9'.*ball_0"):
        env.reset(seed=0, options={"scene": {"objects": {"ball_9": {"mass": 1.0}}}})
    with pytest.raises(ValueError, match=r"scene.objects.ball_0.pos must be finite number\(s\) shaped like"):
        env.reset(seed=0, options={"scene": {"objects": {"ball_0": {"pos": [0.0, 0.0]}}}})
    with pytest.raises(ValueError, match=r"objects.ball_0.mass must be positive, got -1.0"):
        env.reset(seed=0, options={"scene": {"objects": {"ball_0": {"mass": -1.0}}}})
    with pytest.raises(ValueError, match="fixed by the scenario"):
        env.reset(seed=0, options={"scene": {"objects": {"ball_0": {"shape": "box"}}}})
    with pytest.raises(ValueError, match=r"unknown options \['wind'\]"):
        env.reset(seed=0, options={"wind": 3.0})
    with pytest.raises(ValueError, match="initial_state_noise.*got -0.1"):
        env.reset(seed=0, options={"initial_state_noise": -0.1})


def test_initial_state_noise_perturbs_a_fixed_scene_slightly():
    env = PassivePhysicsEnv("toppling", return_frames=True)
    env.reset(seed=3)
    scene = env.scene
    clean = _frame_states(env, 3, 10, {"scene": scene})
    runs = [
        _frame_states(env, seed, 10, {"scene": scene, "initial_state_noise": 1e-5}) for seed in (100, 101)
    ]
    for run in runs:
        assert env.scene == scene
        start = np.abs(run[0] - clean[0])[:, :3]
        assert 0 < start.max() < 1e-4  # positions moved by ~eps, orientation untouched
    assert not np.array_equal(runs[0], runs[1])  # different seeds: different noise
    # The same scene without noise is the same for every seed.
    np.testing.assert_array_equal(_frame_states(env, 7, 2, {"scene": scene}), clean[: 1 + 2 * 4])


def test_nominal_scene_without_randomization():
    env = PassivePhysicsEnv("sliding")
    env.reset(seed=1, options={"domain_randomization": False})
    first = env.scene
    env.reset(seed=2, options={"domain_randomization": False})
    assert env.scene == first


def test_oracle_rollout_reproduces_env_stepping():
    env = PassivePhysicsEnv("collision")
    env.reset(seed=2)
    oracle = MujocoOracleDynamics(env, num_threads=1)
    predicted = oracle.rollout(np.zeros((1, 3, 1))).states[0]
    stepped = [env.step(np.zeros(1))[4]["state"] for _ in range(3)]
    np.testing.assert_allclose(predicted, stepped, atol=1e-12)


# --------------------------------------------------------------------------------------- physics
def test_free_fall_follows_g_t2_over_2_until_impact():
    env = PassivePhysicsEnv("free_fall", return_frames=True)
    for seed in range(3):
        states = _frame_states(env, seed, 4)
        t = np.arange(len(states)) * env.frame_dt
        for i, name in enumerate(env.object_names):
            obj = env.scene["objects"][name]
            z0 = obj["pos"][2]
            predicted = z0 - 0.5 * GRAVITY * t**2
            airborne = predicted > np.linalg.norm(obj["size"]) + 0.005  # even the lowest corner is up
            assert airborne.sum() >= 5
            # Semi-implicit Euler lags the exact parabola by g t h / 2 <= 2 mm at h = 1 ms.
            np.testing.assert_allclose(states[airborne, i, 2], predicted[airborne], atol=3e-3)
            np.testing.assert_allclose(
                states[airborne, i, :2], np.broadcast_to(obj["pos"][:2], (airborne.sum(), 2))
            )
        assert np.all(states[-1, :, 2] < 0.12), "everything has landed by the end of 4 steps"


def test_projectile_flies_a_parabola():
    env = PassivePhysicsEnv("projectile", return_frames=True)
    states = _frame_states(env, 5, 3)
    t = np.arange(len(states)) * env.frame_dt
    for i, name in enumerate(env.object_names):
        obj = env.scene["objects"][name]
        x = obj["pos"][0] + obj["linvel"][0] * t
        z = obj["pos"][2] + obj["linvel"][2] * t - 0.5 * GRAVITY * t**2
        airborne = z > 0.15
        assert airborne.sum() >= 6
        np.testing.assert_allclose(states[airborne, i, 0], x[airborne], atol=3e-3)
        np.testing.assert_allclose(states[airborne, i, 2], z[airborne], atol=3e-3)


def test_bounce_rebounds_with_about_the_scene_restitution():
    import mujoco

    env = PassivePhysicsEnv("bounce", return_frames=True)
    states = _frame_states(env, 0, 12)
    for i in range(3):
        z = states[:, i, 2]
        impact = int(np.argmax(np.diff(z) > 0))  # first frame after which the ball rises
        assert impact > 0 and z[impact:].max() > z[impact] + 0.1, "the ball must rebound visibly"
    # Measure the coefficient at physics resolution: vertical speed just out over just in.
    env.reset(seed=0)
    model, data = env.model, env.data  # the same scene for every reset below: the same model
    for name in env.object_names:
        dof = model.joint(name).dofadr[0] + 2
        env.reset(seed=0)
        v_in = None
        for _ in range(2000):
            before = data.qvel[dof]
            mujoco.mj_step(model, data)
            if v_in is None and data.qvel[dof] > before + 0.05:  # the floor pushes back
                v_in = -before
            elif v_in is not None and data.qvel[dof] < before:  # contact over: gravity only
                break
        nominal = env.scene["objects"][name]["restitution"]
        assert nominal - 0.05 < before / v_in < nominal + 0.17


def test_sliding_boxes_decelerate_at_mu_g_and_stop():
    env = PassivePhysicsEnv("sliding", return_frames=True)
    no_spin = {"objects": {name: {"angvel": [0.0, 0.0, 0.0]} for name in env.object_names}}
    states = _frame_states(env, 1, 8, {"scene": no_spin})
    speed = np.linalg.norm(np.diff(states[:, :, :2], axis=0), axis=2) / env.frame_dt  # (T - 1, 2)
    for i, name in enumerate(env.object_names):
        mu = env.scene["objects"][name]["friction"]
        moving = np.nonzero(speed[:, i] > 0.15)[0]
        slope = np.polyfit(moving * env.frame_dt, speed[moving, i], 1)[0]
        assert slope == pytest.approx(-mu * GRAVITY, rel=0.1)
        assert speed[-1, i] < 1e-3, "friction has stopped the box by the end of the episode"


def test_collision_conserves_momentum_along_x():
    import mujoco

    # Without floor friction nothing outside the two boxes pushes along x, so their momentum
    # before and after the impact must agree (measured at the 1 ms physics resolution).
    env = PassivePhysicsEnv("collision")
    frictionless = {"objects": {name: {"friction": 0.0} for name in env.object_names}}
    for seed in range(3):
        env.reset(seed=seed, options={"scene": frictionless})
        model, data = env.model, env.data
        masses = np.array([env.scene["objects"][name]["mass"] for name in env.object_names])
        dofs = [model.joint(name).dofadr[0] for name in env.object_names]  # free joint: x velocity first
        boxes = {model.geom(name).id for name in env.object_names}
        momentum = masses @ data.qvel[dofs]
        touched = False
        for _ in range(1000):  # box_0 reaches box_1 within 0.3 s; the impact lasts ~10 ms
            mujoco.mj_step(model, data)
            touching = any({c.geom1, c.geom2} == boxes for c in data.contact[: data.ncon])
            if touched and not touching:
                break
            touched |= touching
        assert touched, f"seed {seed}: the boxes never met"
        assert masses @ data.qvel[dofs] == pytest.approx(momentum, rel=0.01)
        assert data.qvel[dofs[1]] > data.qvel[dofs[0]], "box_1 leaves faster than box_0 follows"


def test_pendulum_small_swings_have_period_2pi_sqrt_l_over_g():
    env = PassivePhysicsEnv("pendulum", return_frames=True)
    small = {"objects": {"bob": {"angle": 0.05, "angle_rate": 0.0, "size": [0.03]}}}
    for seed in range(2):
        states = _frame_states(env, seed, 16, {"scene": small})
        bob = env.scene["objects"]["bob"]
        x = states[:, 0, 0] - bob["pivot"][0]
        t = np.arange(len(x)) * env.frame_dt
        i = np.nonzero(np.sign(x[1:]) != np.sign(x[:-1]))[0]
        crossings = t[i] - x[i] * env.frame_dt / (x[i + 1] - x[i])  # linear interpolation
        assert len(crossings) >= 3
        period = 2 * np.mean(np.diff(crossings))
        assert period == pytest.approx(2 * math.pi * math.sqrt(bob["length"] / GRAVITY), rel=0.01)
        # The bob stays on its circle about the pivot.
        radius = np.linalg.norm(states[:, 0, :3] - np.asarray(bob["pivot"]), axis=1)
        np.testing.assert_allclose(radius, bob["length"], atol=1e-9)


def test_toppling_knocks_every_domino_over():
    env = PassivePhysicsEnv("toppling")
    steps = SCENARIOS["toppling"].max_episode_steps
    for seed in range(3):
        _, info = env.reset(seed=seed)
        quat = info["state"].reshape(-1, 7)[:, 3:]
        assert np.all(1 - 2 * (quat[:, 1] ** 2 + quat[:, 2] ** 2) > 0.99), "all upright at the start"
        for _ in range(steps):
            *_, info = env.step(np.zeros(1))
        quat = info["state"].reshape(-1, 7)[:, 3:]
        cos_tilt = 1 - 2 * (quat[:, 1] ** 2 + quat[:, 2] ** 2)  # body z against world z
        assert np.all(cos_tilt < math.cos(math.radians(45))), (
            f"seed {seed}: tilts {np.degrees(np.arccos(cos_tilt))}"
        )
