"""Gymnasium environments backed by trained world models (``cosmos_sim/WFM-*`` ids).

``WorldModelEnv`` is one env, ``WorldModelVectorEnv`` many stepped in one batched model call; both
imitate a MuJoCo scene (same spaces, control period and task) and share ``core.WorldModelCore``.
"""

from cosmos_sim.envs.wfm.vector_env import WorldModelVectorEnv
from cosmos_sim.envs.wfm.world_model_env import WorldModelEnv

__all__ = ["WorldModelEnv", "WorldModelVectorEnv"]
