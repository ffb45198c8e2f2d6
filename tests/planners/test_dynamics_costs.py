"""Dynamics adapters and costs (planners/dynamics.py, planners/costs.py): shapes, batching over problems,
candidates and samples, the world model's differentiable rollout, the oracle against env stepping, and
bad input. The world model is tiny and untrained, so its predictions are meaningless: these tests pin
the plumbing; the closed-loop quality is measured by ``cosmos-sim bench planning``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import cosmos_sim.envs  # noqa: F401  (registers the ids)
from cosmos_sim.envs.tasks.push_block import PushBlockTask
from cosmos_sim.planners import CEM, CEMConfig, Gradient, GradientConfig
from cosmos_sim.planners.closed_loop import LatentTracker
from cosmos_sim.planners.costs import CallableCost, LatentGoalCost, PlanningObjective, TaskStateCost
from cosmos_sim.planners.dynamics import OracleDynamics, Prediction, WorldModelDynamics
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model

SCENE_ID = "cosmos_sim/PushBlock-v0"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def world(tiny_pushblock_world_model):
    return load_world_model(tiny_pushblock_world_model, task=SCENE_ID, device="cpu")


@pytest.fixture(scope="module")
def action_sensitive_world(tiny_pushblock_world_model):
    """The tiny model with its zero-initialized layers (AdaLN-LoRA, output projections) filled with
    small random weights, so that, as in a trained model, the actions move its predictions."""
    world = load_world_model(tiny_pushblock_world_model, task=SCENE_ID, device="cpu")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in world.model.parameters():
            if not parameter.any():
                parameter.copy_(0.05 * torch.randn(parameter.shape, generator=generator))
    return world


def _envs(n: int):
    return [gym.make(SCENE_ID, return_frames=True).unwrapped for _ in range(n)]


def _tracked_state(world, n: int):
    envs = _envs(n)
    first = np.stack([env.reset(seed=i)[0] for i, env in enumerate(envs)])
    tracker = LatentTracker(world)
    tracker.reset(first)
    actions = np.full((n, 2), 0.5, np.float32)
    frames = np.stack([env.step(a)[4]["frames"] for env, a in zip(envs, actions, strict=True)])
    return tracker.observe(frames, actions), envs


def test_world_model_dynamics_batches_problems_candidates_and_samples(world):
    state, _ = _tracked_state(world, 2)
    assert state.latents.shape[:3] == (2, world.config.latent_channels, world.config.window - 1)
    dynamics = WorldModelDynamics(world, generator=torch.Generator().manual_seed(0), samples=3)
    dynamics.set_state(state)
    actions = torch.rand(2, 5, 4, 2) * 2 - 1  # N=2 problems, P=5 candidates, H=4 steps
    prediction = dynamics.predict(actions)
    h, w = world.config.latent_size
    assert prediction.states.shape == (2, 5, 3, 4, 5)
    assert prediction.latents.shape == (2, 5, 3, world.config.latent_channels, 4, h, w)
    # Samples of one candidate differ (each sample its own noise); a seed fixes everything.
    assert not torch.equal(prediction.latents[:, :, 0], prediction.latents[:, :, 1])
    again = WorldModelDynamics(world, generator=torch.Generator().manual_seed(0), samples=3)
    again.set_state(state)
    assert torch.equal(again.predict(actions).latents, prediction.latents)


def test_common_noise_makes_candidates_differ_only_by_their_actions(action_sensitive_world):
    world = action_sensitive_world
    state, _ = _tracked_state(world, 2)
    same = torch.full((2, 3, 2, 2), 0.5)  # three identical candidates per problem
    for common, identical in ((True, True), (False, False)):
        dynamics = WorldModelDynamics(world, generator=torch.Generator().manual_seed(0), common_noise=common)
        dynamics.set_state(state)
        latents = dynamics.predict(same).latents  # (2, 3, 1, C, H, h, w)
        assert torch.equal(latents[:, 0], latents[:, 1]) == identical
        assert torch.equal(latents[:, 0], latents[:, 2]) == identical
    dynamics = WorldModelDynamics(
        world, generator=torch.Generator().manual_seed(0), samples=2, common_noise=True
    )
    dynamics.set_state(state)
    latents = dynamics.predict(torch.cat([same[:, :1], -same[:, :1]], dim=1)).latents
    assert not torch.equal(latents[:, 0], latents[:, 1])  # other actions, same noise: they differ
    assert not torch.equal(latents[:, :, 0], latents[:, :, 1])  # the samples keep their own noise
    assert not torch.equal(latents[0], latents[1])  # and so do the problems


def test_noise_groups_are_checked(world):
    state, _ = _tracked_state(world, 2)
    actions = torch.zeros(2, 1, 4, 2)
    for groups in (torch.tensor([0, 1, 2]), torch.tensor([0.0, 1.0]), torch.tensor([0, -1]), [0, 1]):
        with pytest.raises(ValueError, match="noise_groups must be an int64 tensor of shape"):
            world.rollout(state, actions, torch.Generator(), noise_groups=groups)


def test_differentiable_rollout_gives_action_gradients(action_sensitive_world):
    world = action_sensitive_world
    state, _ = _tracked_state(world, 1)
    dynamics = WorldModelDynamics(world, generator=torch.Generator().manual_seed(0), differentiable=True)
    dynamics.set_state(state)
    actions = torch.zeros(1, 2, 3, 2, requires_grad=True)
    goals = np.zeros((1, 3))
    cost = TaskStateCost(PushBlockTask(), goals)(dynamics.predict(actions))  # (1, 2, 1)
    cost.sum().backward()
    assert actions.grad is not None and actions.grad.abs().sum() > 0
    # The frozen model collects no gradients.
    assert all(p.grad is None for p in world.model.parameters())

    planner = Gradient(GradientConfig(num_restarts=2, num_iterations=3), generator=torch.Generator())
    objective = PlanningObjective(dynamics, TaskStateCost(PushBlockTask(), goals))
    solution = planner.optimize(objective, torch.zeros(1, 3, 2))
    assert solution.actions.shape == (1, 3, 2) and solution.history.shape == (3, 1)


def test_oracle_dynamics_predicts_what_env_stepping_does():
    envs = _envs(2)
    for seed, env in enumerate(envs):
        env.reset(seed=seed)
    dynamics = OracleDynamics(envs, num_threads=1)
    dynamics.set_state()
    plan = torch.rand(2, 3, 4, 2) * 2 - 1  # 3 candidates per problem
    prediction = dynamics.predict(plan)
    assert prediction.states.shape == (2, 3, 1, 4, 5) and prediction.latents is None
    for n, env in enumerate(envs):  # candidate 2 of each problem, stepped for real
        for t in range(4):
            env.step(plan[n, 2, t].numpy())
            assert np.allclose(env.task_state(), prediction.states[n, 2, 0, t].numpy(), atol=1e-5)


def test_task_state_cost_is_the_negated_task_reward():
    task = PushBlockTask()
    goals = np.array([[0.1, 0.0, 0.0], [0.0, -0.1, 0.0]])
    states = torch.rand(2, 3, 1, 4, 5) * 0.4 - 0.2
    cost = TaskStateCost(task, goals, discount=0.5)(Prediction(states))
    g = torch.tensor(goals, dtype=torch.float32)
    expected = torch.zeros(2, 3, 1)
    for t in range(4):
        expected -= 0.5**t * task.reward(states[:, :, :, t], g[:, None, None])
    assert torch.allclose(cost, expected, atol=1e-6)


def test_latent_goal_cost_prefers_the_goal_latent():
    goal = torch.randn(1, 4, 2, 2)
    at_goal = goal[:, None, None, :, None].expand(1, 1, 1, 4, 3, 2, 2)
    away = at_goal + 1.0
    latents = torch.cat([away, at_goal], dim=1)  # (1, 2, 1, C, H, h, w)
    cost = LatentGoalCost(goal)(Prediction(torch.zeros(1, 2, 1, 3, 5), latents))
    assert cost.shape == (1, 2, 1) and cost[0, 1, 0] == 0 and cost[0, 0, 0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="needs latent predictions"):
        LatentGoalCost(goal)(Prediction(torch.zeros(1, 2, 1, 3, 5)))


def test_uncertainty_penalty_adds_the_spread_of_samples(world):
    state, _ = _tracked_state(world, 1)
    dynamics = WorldModelDynamics(world, generator=torch.Generator().manual_seed(0), samples=4)
    dynamics.set_state(state)
    cost = CallableCost(lambda p: p.states[..., 0].sum(-1))  # (N, P, M)
    actions = torch.zeros(1, 2, 2, 2)
    plain = PlanningObjective(dynamics, cost)
    dynamics.generator.manual_seed(0)
    mean = plain(actions)
    per_sample = cost(_predict_seeded(dynamics, actions, 0))
    assert torch.allclose(mean, per_sample.mean(2), atol=1e-6)
    dynamics.generator.manual_seed(0)
    penalized = PlanningObjective(dynamics, cost, spread_weight=2.0)(actions)
    assert torch.allclose(penalized, per_sample.mean(2) + 2.0 * per_sample.std(2), atol=1e-6)


def _predict_seeded(dynamics, actions, seed):
    dynamics.generator.manual_seed(seed)
    return dynamics.predict(actions)


def test_cem_runs_on_the_world_model_objective(world):
    state, _ = _tracked_state(world, 2)
    dynamics = WorldModelDynamics(world, generator=torch.Generator().manual_seed(0))
    dynamics.set_state(state)
    objective = PlanningObjective(dynamics, TaskStateCost(PushBlockTask(), np.zeros((2, 3))))
    planner = CEM(
        CEMConfig(population_size=8, num_elites=2, num_iterations=2, max_batch=6), generator=torch.Generator()
    )
    solution = planner.optimize(objective, torch.zeros(2, 3, 2))
    assert solution.actions.shape == (2, 3, 2) and torch.isfinite(solution.cost).all()


def test_bad_input_is_a_clear_error(world):
    state, _ = _tracked_state(world, 1)
    dynamics = WorldModelDynamics(world, generator=torch.Generator())
    with pytest.raises(RuntimeError, match="set_state"):
        dynamics.predict(torch.zeros(1, 2, 3, 2))
    dynamics.set_state(state)
    with pytest.raises(ValueError, match=r"\(N=1, P, H, A=2\)"):
        dynamics.predict(torch.zeros(2, 2, 3, 2))  # wrong number of problems
    with pytest.raises(ValueError, match=r"\(N=1, P, H, A=2\)"):
        dynamics.predict(torch.zeros(1, 2, 3, 3))  # wrong action dim
    with pytest.raises(ValueError, match="NaN"):
        dynamics.predict(torch.full((1, 2, 3, 2), float("nan")))
    with pytest.raises(ValueError, match="samples"):
        WorldModelDynamics(world, generator=torch.Generator(), samples=0)
    with pytest.raises(ValueError, match="samples >= 2"):
        PlanningObjective(dynamics, CallableCost(lambda p: p.states.sum((-1, -2))), spread_weight=1.0)
    for weight in (float("inf"), float("nan"), -1.0, "1"):  # inf would make every candidate's cost inf
        with pytest.raises(ValueError, match="spread_weight must be a finite number >= 0"):
            PlanningObjective(dynamics, CallableCost(lambda p: p.states.sum((-1, -2))), spread_weight=weight)
    with pytest.raises(ValueError, match=r"\(N, G=3\)"):
        TaskStateCost(PushBlockTask(), np.zeros(3))
    with pytest.raises(ValueError, match=r"goals must be \(N, G=3\), got shape \(1, 5\)"):
        TaskStateCost(PushBlockTask(), np.zeros((1, 5)))  # a state vector passed as the goal
    with pytest.raises(ValueError, match=r"goal latents \(1, 16, 4, 4\) do not fit predicted latents"):
        LatentGoalCost(torch.zeros(1, 16, 4, 4))(
            Prediction(torch.zeros(1, 2, 1, 3, 5), torch.zeros(1, 2, 1, 16, 3, 8, 8))
        )
    with pytest.raises(
        ValueError, match=r"latents must be \(N, C=16, T, h=8, w=8\) for this model, got \(1, 16, 2, 4, 4\)"
    ):
        dynamics.set_state(type(state)(state.latents[..., :4, :4], state.actions))
    with pytest.raises(ValueError, match=r"actions must be \(N=1, T-1=1, k=4, A=2\), got \(1, 1, 4, 3\)"):
        dynamics.set_state(type(state)(state.latents, torch.zeros(1, 1, 4, 3)))
    with pytest.raises(ValueError, match="2 goals for 1 problems"):
        TaskStateCost(PushBlockTask(), np.zeros((2, 3)))(Prediction(torch.zeros(1, 1, 1, 2, 5)))
    with pytest.raises(ValueError, match=r"\(N, P, M\)"):
        CallableCost(lambda p: p.states.sum())(Prediction(torch.zeros(1, 2, 1, 3, 5)))
    tracker = LatentTracker(world)
    with pytest.raises(ValueError, match="uint8"):
        tracker.reset(np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(ValueError, match=r"frames must be uint8 \(N, 64, 64, 3\) \(the model's frame size\)"):
        tracker.reset(np.zeros((1, 32, 32, 3), np.uint8))
    tracker.reset(np.zeros((1, 64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match=r"k=4"):
        tracker.observe(np.zeros((1, 3, 64, 64, 3), np.uint8), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"\(N=1, k=4, 64, 64, 3\), got uint8 \(1, 4, 96, 96, 3\)"):
        tracker.observe(np.zeros((1, 4, 96, 96, 3), np.uint8), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"actions must be finite \(N=1, A=2\), got \(1, 2\) with NaN"):
        tracker.observe(np.zeros((1, 4, 64, 64, 3), np.uint8), np.full((1, 2), np.nan))
