"""Diffusion world model after the Cosmos diffusion WFM: a latent DiT trained with EDM (Video2World)."""

from cosmos_sim.world_models.diffusion.config import DiffusionWorldModelConfig, EDMConfig
from cosmos_sim.world_models.diffusion.model import CONTROL_SAMPLER, LatentDiffusionModel, SamplerConfig
from cosmos_sim.world_models.diffusion.world_model import DiffusionWorldModel

__all__ = [
    "CONTROL_SAMPLER",
    "DiffusionWorldModel",
    "DiffusionWorldModelConfig",
    "EDMConfig",
    "LatentDiffusionModel",
    "SamplerConfig",
]
