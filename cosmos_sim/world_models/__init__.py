"""World models: the ``WorldModel`` contract and its implementations (diffusion DiT + EDM)."""

from cosmos_sim.world_models.base import LatentState, WorldModel

__all__ = ["LatentState", "WorldModel"]
