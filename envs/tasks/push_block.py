"""The PushBlock task: state layout, reward, success and a scripted expert.

Defined once and applied everywhere (DESIGN.md, "Tasks"): the MuJoCo env applies them to the
true state, a world-model env to the state its ``predict_state`` head reads from latents, and
planners to predicted rollouts. Every function is batched over leading dimensions and works on
numpy arrays and torch tensors alike (only elementwise ops and sums over the last axis).

State ``(..., 5)``: pusher x, pusher y, block x, block y, block yaw (metres, radians; table frame,
x right, y up in the top-down image). Goal ``(..., 3)``: block x, y, yaw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from cosmos_sim.configs import check_finite

STATE_NAMES = ("pusher_x", "pusher_y", "block_x", "block_y", "block_yaw")
GOAL_NAMES = ("goal_x", "goal_y", "goal_yaw")
STATE_DIM = len(STATE_NAMES)
GOAL_DIM = len(GOAL_NAMES)


def _norm(v):
    return (v * v).sum(-1) ** 0.5


@dataclass(frozen=True)
class PushBlockTask:
    """Reward and success of pushing the block onto its goal position."""

    success_threshold: float = 0.03
    """Block-to-goal distance (m) under which the task counts as solved. The block is 0.08 m wide."""
    goal_distance_weight: float = 1.0
    """Weight of the negative block-to-goal distance (m) in the reward."""
    pusher_distance_weight: float = 0.1
    """Weight of the negative pusher-to-block distance (m): a shaping term that draws the pusher in."""
    success_bonus: float = 1.0
    """Reward added on every step the block is within ``success_threshold`` of the goal."""
    goal_dim: ClassVar[int] = GOAL_DIM
    """Size of a goal (x, y, yaw): what a planning cost checks the goals it is given against."""

    def __post_init__(self) -> None:
        check_finite(self, "success_threshold", above=0)
        check_finite(self, "goal_distance_weight", "pusher_distance_weight", "success_bonus", at_least=0)

    @staticmethod
    def goal_distance(state, goal):
        """Block-to-goal distance (m), shape ``(...)``."""
        return _norm(state[..., 2:4] - goal[..., 0:2])

    @staticmethod
    def pusher_distance(state):
        """Pusher-to-block distance (m), shape ``(...)``."""
        return _norm(state[..., 0:2] - state[..., 2:4])

    def success(self, state, goal):
        """Boolean ``(...)``: block within ``success_threshold`` of the goal position."""
        return self.goal_distance(state, goal) < self.success_threshold

    def reward_terms(self, state, goal) -> dict:
        """Each weighted reward component, shape ``(...)``; ``reward`` is their sum."""
        return {
            "reward_goal": -self.goal_distance_weight * self.goal_distance(state, goal),
            "reward_pusher": -self.pusher_distance_weight * self.pusher_distance(state),
            "reward_success": self.success_bonus * (self.success(state, goal) * 1.0),
        }

    def reward(self, state, goal):
        terms = self.reward_terms(state, goal)
        return terms["reward_goal"] + terms["reward_pusher"] + terms["reward_success"]


@dataclass(frozen=True)
class PushBlockExpert:
    """Scripted pusher: get behind the block on the goal line, then push it to the goal.

    Phase 1 moves the pusher to a staging point behind the block (opposite the goal), going
    around the block when it stands on the wrong side. Phase 2 pushes along the block-to-goal
    line with a proportional correction that keeps the pusher on that line. Actions are pusher
    velocities in [-1, 1]^2 (fraction of the env's maximum speed).
    """

    max_speed: float = 0.3
    """The env's pusher speed (m/s) at action 1; converts position errors to actions."""
    control_dt: float = 0.2
    """Seconds per env step; the expert aims to close its error within about one step."""
    standoff: float = 0.085
    """Distance (m) from block centre to the staging point behind it (half block + pusher radius + margin)."""
    clearance: float = 0.1
    """Radius (m) the pusher keeps around the block while walking around it."""
    stop_distance: float = 0.01
    """Block-to-goal distance (m) at which the expert holds still instead of pushing on."""
    noise: float = 0.0
    """Std of Gaussian noise added to each action (for policies of graded quality)."""

    def __call__(self, state: np.ndarray, goal: np.ndarray, rng: np.random.Generator | None = None):
        state = np.asarray(state, dtype=np.float64)
        goal = np.asarray(goal, dtype=np.float64)
        pusher, block = state[0:2], state[2:4]
        to_goal = goal[0:2] - block
        distance = float(np.linalg.norm(to_goal))
        direction = to_goal / max(distance, 1e-6)
        staging = block - self.standoff * direction

        rel = pusher - block
        along = float(rel @ direction)  # > 0: pusher is on the goal side of the block
        lateral = rel - along * direction
        behind_and_aligned = along < -0.5 * self.standoff and np.linalg.norm(lateral) < 0.02

        if distance < self.stop_distance:
            target = pusher  # done: stay put rather than disturb the block
        elif behind_and_aligned:
            # Push: aim past the block towards the goal, correcting lateral drift.
            target = block + direction * min(distance, self.max_speed * self.control_dt) - lateral * 0.5
            target = target - self.standoff * direction * 0.8
        elif along > -0.5 * self.standoff and np.linalg.norm(rel) < self.clearance:
            # Wrong side and close: step sideways around the block first.
            side = lateral / max(float(np.linalg.norm(lateral)), 1e-6)
            if np.linalg.norm(lateral) < 1e-6:
                side = np.array([-direction[1], direction[0]])
            target = block + side * self.clearance - direction * 0.5 * self.standoff
        else:
            target = staging
        velocity = (target - pusher) / self.control_dt
        action = velocity / self.max_speed
        if self.noise > 0:
            rng = rng if rng is not None else np.random.default_rng()
            action = action + rng.normal(0.0, self.noise, size=2)
        peak = np.max(np.abs(action))
        if peak > 1.0:
            action = action / peak  # keep the direction when saturating
        return action.astype(np.float32)
