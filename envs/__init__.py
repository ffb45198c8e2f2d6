"""cosmos-sim environments, registered with Gymnasium under the ``cosmos_sim/`` namespace.

``import cosmos_sim.envs`` registers every id (string entry points: nothing heavy is imported
until ``gym.make``), then ``gym.make("cosmos_sim/PushBlock-v0")``.
"""

import gymnasium as gym

# id -> (entry point, max_episode_steps, default kwargs)
ENV_SPECS: dict[str, tuple[str, int, dict]] = {
    "cosmos_sim/PushBlock-v0": ("cosmos_sim.envs.mujoco.push_block:PushBlockEnv", 50, {}),
    # Passive physics (physics-alignment benchmark): one id per scenario of passive_physics.SCENARIOS,
    # with that scenario's episode length (tests/envs/test_passive_physics.py keeps the two in step).
    "cosmos_sim/Physics-FreeFall-v0": (
        "cosmos_sim.envs.mujoco.passive_physics:PassivePhysicsEnv",
        8,
        {"scenario": "free_fall"},
    ),
    "cosmos_sim/Physics-Projectile-v0": (
        "cosmos_sim.envs.mujoco.passive_physics:PassivePhysicsEnv",
        10,
        {"scenario": "projectile"},
    ),
    "cosmos_sim/Physics-Bounce-v0": (
        "cosmos_sim.envs.mujoco.passive_physics:PassivePhysicsEnv",
        12,
        {"scenario": "bounce"},
    ),
    "cosmos_sim/Physics-Sliding-v0": (
        "cosmos_sim.envs.mujoco.passive_physics:PassivePhysicsEnv",
        8,
        {"scenario": "sliding"},
    ),
    "cosmos_sim/Physics-Collision-v0": (
        "cosmos_sim.envs.mujoco.passive_physics:PassivePhysicsEnv",
        8,
        {"scenario": "collision"},
    ),
    "cosmos_sim/Physics-Pendulum-v0": (
        "cosmos_sim.envs.mujoco.passive_physics:PassivePhysicsEnv",
        16,
        {"scenario": "pendulum"},
    ),
    "cosmos_sim/Physics-Toppling-v0": (
        "cosmos_sim.envs.mujoco.passive_physics:PassivePhysicsEnv",
        10,
        {"scenario": "toppling"},
    ),
    "cosmos_sim/CameraOrbit-v0": ("cosmos_sim.envs.mujoco.camera_orbit:CameraOrbitEnv", 50, {}),
    # World-model envs (envs/wfm): a trained WFM in place of the scene, with that scene's episode length.
    "cosmos_sim/WFM-PushBlock-v0": (
        "cosmos_sim.envs.wfm.world_model_env:WorldModelEnv",
        50,
        {"task_env_id": "cosmos_sim/PushBlock-v0"},
    ),
}

# id -> entry point of its native vector env, for gym.make_vec(..., vectorization_mode="vector_entry_point").
VECTOR_ENTRY_POINTS: dict[str, str] = {
    "cosmos_sim/WFM-PushBlock-v0": "cosmos_sim.envs.wfm.vector_env:WorldModelVectorEnv",
}


def register_envs() -> None:
    for env_id, (entry_point, max_steps, kwargs) in ENV_SPECS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=entry_point,
                vector_entry_point=VECTOR_ENTRY_POINTS.get(env_id),
                max_episode_steps=max_steps,
                kwargs=kwargs,
                # Gymnasium's passive checker (1.x) marks reset as checked before calling it, so after a
                # first reset that raises (a bad seed or option) every later step fails inside the checker
                # with "cannot unpack non-iterable NoneType". These envs pass the full check_env in tests.
                disable_env_checker=True,
            )


register_envs()
