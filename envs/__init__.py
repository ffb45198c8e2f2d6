"""cosmos-sim environments, registered with Gymnasium under the ``cosmos_sim/`` namespace.

``import cosmos_sim.envs`` registers every id (string entry points: nothing heavy is imported
until ``gym.make``), then ``gym.make("cosmos_sim/PushBlock-v0")``.
"""

import gymnasium as gym

# id -> (entry point, max_episode_steps, default kwargs)
ENV_SPECS: dict[str, tuple[str, int, dict]] = {
    "cosmos_sim/PushBlock-v0": ("cosmos_sim.envs.mujoco.push_block:PushBlockEnv", 50, {}),
}


def register_envs() -> None:
    for env_id, (entry_point, max_steps, kwargs) in ENV_SPECS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, max_episode_steps=max_steps, kwargs=kwargs)


register_envs()
