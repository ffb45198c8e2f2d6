"""Trajectory optimizers behind ``optimize(objective, init) -> Solution``, the receding-horizon MPC
controller, and the MuJoCo oracle dynamics (``cosmos_sim.planners.mujoco_oracle``)."""

from cosmos_sim.planners.base import ActionBounds, Solution, batch_objective, stack_objectives
from cosmos_sim.planners.cem import CEMConfig, CEMPlanner
from cosmos_sim.planners.gradient import GradientConfig, GradientPlanner
from cosmos_sim.planners.icem import ICEMConfig, ICEMPlanner
from cosmos_sim.planners.mpc import MPCController
from cosmos_sim.planners.mppi import MPPIConfig, MPPIPlanner
from cosmos_sim.planners.random_shooting import RandomShootingConfig, RandomShootingPlanner

# Short names, as users write them: ``from cosmos_sim.planners import CEM``.
CEM, ICEM, MPPI, RandomShooting, Gradient = (
    CEMPlanner,
    ICEMPlanner,
    MPPIPlanner,
    RandomShootingPlanner,
    GradientPlanner,
)

__all__ = [
    "CEM",
    "ICEM",
    "MPPI",
    "ActionBounds",
    "CEMConfig",
    "CEMPlanner",
    "Gradient",
    "GradientConfig",
    "GradientPlanner",
    "ICEMConfig",
    "ICEMPlanner",
    "MPCController",
    "MPPIConfig",
    "MPPIPlanner",
    "RandomShooting",
    "RandomShootingConfig",
    "RandomShootingPlanner",
    "Solution",
    "batch_objective",
    "stack_objectives",
]
