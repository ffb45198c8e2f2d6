"""Trajectory optimizers: known optima, exact memory chunking, seeding, iCEM's pieces, clear errors."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from cosmos_sim.planners.base import ActionBounds, batch_objective, stack_objectives
from cosmos_sim.planners.cem import CEMConfig, CEMPlanner
from cosmos_sim.planners.gradient import GradientConfig, GradientPlanner
from cosmos_sim.planners.icem import ICEMConfig, ICEMPlanner, colored_noise
from cosmos_sim.planners.mppi import MPPIConfig, MPPIPlanner
from cosmos_sim.planners.random_shooting import RandomShootingConfig, RandomShootingPlanner

N, H, A = 3, 4, 2

# Small budgets: enough to exercise every code path (elites, decay, chunks) in milliseconds.
SMALL = {
    "cem": (CEMPlanner, CEMConfig(population_size=20, num_elites=4, num_iterations=3)),
    "icem": (ICEMPlanner, ICEMConfig(population_size=20, num_elites=4, num_iterations=3)),
    "mppi": (MPPIPlanner, MPPIConfig(population_size=20, num_iterations=3)),
    "random_shooting": (RandomShootingPlanner, RandomShootingConfig(population_size=20)),
    "gradient_tanh": (GradientPlanner, GradientConfig(num_restarts=5, num_iterations=4)),
    "gradient_clamp": (GradientPlanner, GradientConfig(num_restarts=5, num_iterations=4, squash="clamp")),
}


def make(name: str, seed: int = 0, bounds: ActionBounds | None = None, **overrides):
    cls, config = SMALL[name]
    config = dataclasses.replace(config, **overrides)
    return cls(config, generator=torch.Generator().manual_seed(seed), bounds=bounds)


def quadratic(targets: torch.Tensor):
    """sum((a - target_n)^2) for problem n: minimum 0 at ``targets (N, H, A)``."""
    return lambda actions: ((actions - targets[:, None]) ** 2).sum(dim=(-2, -1))  # (N, P)


def random_targets(n: int, h: int, a: int, seed: int = 1) -> torch.Tensor:
    # Inside [-0.8, 0.8]: the unconstrained optimum lies in the action box, away from its faces.
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, h, a, generator=g) * 1.6 - 0.8


def recording(objective):
    """Wrap ``objective``, keeping every batch it was called with."""
    calls: list[torch.Tensor] = []

    def wrapped(actions):
        calls.append(actions.clone())
        return objective(actions)

    return wrapped, calls


def assert_same_solution(a, b) -> None:
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y), field.name
        else:
            assert x == y, field.name


# ---- known optima ---------------------------------------------------------------------------------

# Tolerances are on the largest |action - target| over N=3 problems x H=4 x A=2 entries, starting from
# zeros (initial error up to 0.8). Each was measured over 200 seeds; the bound is the worst seed with
# margin, so the test fails on a regression, not on an unlucky draw:
# - CEM (100 samples, 20 elites, 15 iterations, std 1): worst 0.027 -> 0.05 (2.5% of [-1, 1]).
# - MPPI (sigma 0.1, lambda 0.02): each iteration moves the mean lambda / (lambda + 2 sigma^2) = 1/2
#   of the remaining way, so 20 iterations leave 0.8 / 2^20 of bias; what remains is the Monte-Carlo
#   error of the weighted mean (posterior std (1/sigma^2 + 2/lambda)^-1/2 = 0.07 over the effective
#   samples): worst 0.040 -> 0.05.
# - Adam (lr 0.05, 100 steps): near the optimum its normalised steps circle it at a fraction of lr:
#   worst 0.008 -> 0.02.
CONVERGENCE = {
    "cem": (CEMPlanner, CEMConfig(population_size=100, num_elites=20, num_iterations=15, init_std=1.0), 0.05),
    "mppi": (
        MPPIPlanner,
        MPPIConfig(population_size=128, num_iterations=20, noise_std=0.1, temperature=0.02),
        0.05,
    ),
    "gradient_tanh": (GradientPlanner, GradientConfig(num_restarts=2, num_iterations=100), 0.02),
    "gradient_clamp": (
        GradientPlanner,
        GradientConfig(num_restarts=2, num_iterations=100, squash="clamp"),
        0.02,
    ),
}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_optimizer_reaches_the_optimum_of_a_quadratic(name):
    cls, config, tolerance = CONVERGENCE[name]
    targets = random_targets(N, H, A)
    objective = quadratic(targets)
    solution = cls(config, generator=torch.Generator().manual_seed(0)).optimize(
        objective, torch.zeros(N, H, A)
    )
    assert solution.actions.shape == (N, H, A) and solution.cost.shape == (N,)
    assert (solution.actions - targets).abs().max() < tolerance
    # The reported cost is the objective's cost of the returned actions (MPPI: of its mean).
    torch.testing.assert_close(solution.cost, objective(solution.actions[:, None])[:, 0])
    assert solution.history.shape == (solution.iterations, N)
    assert (solution.history[1:] <= solution.history[:-1]).all()  # best-so-far never gets worse


def test_icem_reaches_the_optimum_through_warm_started_calls():
    # iCEM is built for MPC: a few iterations per call, sigma reset every call, the previous elites
    # carried over. Here 20 calls of its default 3 iterations (paper defaults: beta = 2, gamma = 1.25,
    # xi = 0.3) on a fixed quadratic. Colored noise puts 1/4 of the low-frequency power at the highest
    # frequency for H = 4, so it refines per-step targets more slowly than CEM: worst over 200 seeds
    # 0.067 -> tolerance 0.1 (5% of [-1, 1]).
    targets = random_targets(N, H, A)
    objective = quadratic(targets)
    planner = ICEMPlanner(generator=torch.Generator().manual_seed(0))
    init, elites, costs = torch.zeros(N, H, A), None, []
    for _ in range(20):
        solution = planner.optimize(objective, init, elites=elites)
        init, elites = solution.actions, solution.elites
        costs.append(solution.cost)
    assert (solution.actions - targets).abs().max() < 0.1
    # The carried elites contain the previous best, so the cost never rises from call to call.
    costs = torch.stack(costs)  # (calls, N)
    assert (costs[1:] <= costs[:-1]).all()


def test_random_shooting_finds_the_optimum_in_two_dimensions():
    # With H * A = 2 and 2,000 uniform samples in [-1, 1]^2, the chance that none falls within 0.1 of
    # an interior target is (1 - pi 0.1^2 / 4)^2000 = e^-15.7 ~ 2e-7 per problem.
    targets = random_targets(N, 2, 1)
    planner = RandomShootingPlanner(RandomShootingConfig(population_size=2000), generator=torch.Generator())
    solution = planner.optimize(quadratic(targets), torch.zeros(N, 2, 1))
    assert (solution.actions - targets).norm(dim=(-2, -1)).max() < 0.1
    # In 8 dimensions the same budget is hopeless (the ball holds 4e-5 of the box): the best sample
    # stays far from the optimum that CEM reaches to 0.05 above.
    targets = random_targets(N, H, A)
    solution = planner.optimize(quadratic(targets), torch.zeros(N, H, A))
    assert (solution.actions - targets).norm(dim=(-2, -1)).min() > 0.2


def test_random_shooting_keeps_the_warm_start():
    targets = random_targets(N, H, A)
    solution = make("random_shooting").optimize(quadratic(targets), targets.clone())
    assert torch.equal(solution.actions, targets) and torch.equal(solution.cost, torch.zeros(N))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_solutions_respect_per_dimension_bounds(name):
    # Targets beyond the box (and a box that is not symmetric about 0 in the second dim).
    bounds = ActionBounds(low=torch.tensor([-0.5, -1.0]), high=torch.tensor([0.5, 0.2]))
    targets = torch.tensor([0.9, 0.6]).expand(N, H, A)
    objective, calls = recording(quadratic(targets))
    solution = make(name, bounds=bounds).optimize(objective, torch.zeros(N, H, A))
    for actions in [solution.actions, *calls]:
        assert (actions >= bounds.low).all() and (actions <= bounds.high).all()
    # Never worse than the start (random shooting's 20 samples rarely beat it in 8 dimensions).
    assert (solution.cost <= quadratic(targets)(torch.zeros(N, 1, H, A))[:, 0]).all()


def test_mppi_temperature_interpolates_between_best_sample_and_average():
    targets = random_targets(N, H, A)
    objective, calls = recording(quadratic(targets))
    # lambda -> 0: all weight on the best sample (costs are taken relative to the best, so no NaN).
    greedy = make("mppi", num_iterations=1, temperature=1e-12).optimize(objective, torch.zeros(N, H, A))
    samples, costs = calls[0], objective(calls[0])
    best = samples[torch.arange(N), costs.argmin(dim=1)]
    torch.testing.assert_close(greedy.mean, best)
    # lambda -> inf: the plain average of the samples.
    calls.clear()
    flat = make("mppi", num_iterations=1, temperature=1e12).optimize(objective, torch.zeros(N, H, A))
    torch.testing.assert_close(flat.mean, calls[0].mean(dim=1))


def test_objective_helpers_lift_single_problem_objectives():
    targets = random_targets(N, H, A)
    per_problem = [lambda a, t=t: ((a - t) ** 2).sum(dim=(-2, -1)) for t in targets]  # (P, H, A) -> (P,)
    actions = torch.randn(N, 5, H, A, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(stack_objectives(per_problem)(actions), quadratic(targets)(actions))
    shared = batch_objective(lambda a: (a**2).sum(dim=(-2, -1)))
    torch.testing.assert_close(shared(actions), (actions**2).sum(dim=(-2, -1)))


# ---- memory budget ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SMALL))
def test_chunked_evaluation_gives_exactly_the_unchunked_solution(name):
    targets = random_targets(N, H, A)

    def objective(actions):  # nonlinear, so that every candidate's own cost matters
        return quadratic(targets)(actions) + torch.sin(3 * actions).sum(dim=(-2, -1))

    whole_objective, whole_calls = recording(objective)
    whole = make(name).optimize(whole_objective, torch.zeros(N, H, A))
    max_batch = 3 * 2  # 2 candidates per problem per call: uneven chunks of every population
    chunked_objective, chunked_calls = recording(objective)
    chunked = make(name, max_batch=max_batch).optimize(chunked_objective, torch.zeros(N, H, A))
    assert_same_solution(whole, chunked)
    assert all(c.shape[0] * c.shape[1] <= max_batch for c in chunked_calls)
    assert len(chunked_calls) > len(whole_calls)
    # The same candidates were scored, just in pieces.
    torch.testing.assert_close(torch.cat(chunked_calls, dim=1), torch.cat(whole_calls, dim=1), rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_a_budget_below_one_candidate_per_problem_is_refused(name):
    with pytest.raises(ValueError, match="max_batch=2 cannot fit one candidate per problem for N=3"):
        make(name, max_batch=2).optimize(quadratic(random_targets(N, H, A)), torch.zeros(N, H, A))
    with pytest.raises(ValueError, match="max_batch must be an integer > 0, got 0"):
        make(name, max_batch=0)


# ---- seeding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_seed_same_solution_different_seed_different_samples(name):
    targets = random_targets(N, H, A)
    runs = {}
    for seed in (0, 0, 1):
        objective, calls = recording(quadratic(targets))
        runs.setdefault(seed, []).append(
            (make(name, seed=seed).optimize(objective, torch.zeros(N, H, A)), calls)
        )
    (first, first_calls), (again, again_calls) = runs[0]
    assert_same_solution(first, again)
    assert all(torch.equal(x, y) for x, y in zip(first_calls, again_calls, strict=True))
    other, other_calls = runs[1][0]
    assert not torch.equal(other_calls[0], first_calls[0])
    if not name.startswith("gradient"):  # its restart 0 starts at init and may win whatever the seed
        assert not torch.equal(other.actions, first.actions)


def test_optimizers_leave_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    for name in SMALL:
        make(name).optimize(quadratic(random_targets(N, H, A)), torch.zeros(N, H, A))
    assert torch.equal(torch.rand(3), expected)


# ---- iCEM's pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_colored_noise_has_unit_variance_and_the_autocorrelation_of_its_spectrum(beta):
    t = 16
    noise = colored_noise((20_000, t), beta, generator=torch.Generator().manual_seed(0), like=torch.zeros(()))
    assert noise.shape == (20_000, t) and noise.dtype == torch.float32
    torch.testing.assert_close(noise.var(dim=0), torch.ones(t), atol=0.05, rtol=0)  # every step
    # The FFT method makes the noise circular-stationary with autocorrelation = inverse DFT of the PSD
    # (DC given the lowest frequency's power), so lag-1 correlation is pinned by beta alone.
    freqs = torch.fft.rfftfreq(t, dtype=torch.float64)
    psd = torch.cat([freqs[1:2], freqs[1:]]) ** -beta
    weight = torch.full_like(psd, 2.0)
    weight[[0, -1]] = 1.0  # DC and Nyquist appear once in the full spectrum
    expected = (weight * psd * torch.cos(2 * math.pi * freqs)).sum() / (weight * psd).sum()
    measured = (noise[:, 1:] * noise[:, :-1]).mean()
    assert abs(measured - expected) < 0.02
    if beta == 0.0:
        assert abs(expected) < 1e-9  # white
    if beta == 2.0:
        assert expected > 0.75  # smooth: neighbouring steps move together


def test_icem_population_decays_and_carries_elites():
    config = ICEMConfig(population_size=40, num_elites=5, num_iterations=4, population_decay=2.0)
    assert [config.population_at(i) for i in range(4)] == [40, 20, 10, 10]  # floor at 2K
    assert config.num_kept == 1
    objective, calls = recording(quadratic(random_targets(N, H, A)))
    solution = ICEMPlanner(config, generator=torch.Generator()).optimize(objective, torch.zeros(N, H, A))
    # + the kept elite after the first iteration, + the mean in the last.
    assert [c.shape[1] for c in calls] == [40, 20 + 1, 10 + 1, 10 + 1 + 1]
    assert solution.elites.shape == (N, 5, H, A)
    assert torch.equal(solution.elites[:, 0], solution.actions)  # the best ever is carried to the end
    # Elites handed back (an MPC step's shifted elites) join the first iteration's samples.
    calls.clear()
    ICEMPlanner(config, generator=torch.Generator()).optimize(
        objective, torch.zeros(N, H, A), elites=solution.elites
    )
    assert calls[0].shape[1] == 40 + 1 and torch.equal(calls[0][:, -1], solution.elites[:, 0])


# ---- bad inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SMALL))
def test_bad_inits_are_refused_with_clear_errors(name):
    planner = make(name)
    objective = quadratic(random_targets(N, H, A))
    bad = torch.zeros(N, H, A)
    bad[1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match="init contains 1 NaN or inf entries"):
        planner.optimize(objective, bad)
    with pytest.raises(ValueError, match=r"init must be a non-empty \(N, H, A\) mean sequence, got \(4, 2\)"):
        planner.optimize(objective, torch.zeros(H, A))
    with pytest.raises(ValueError, match="do not fit action dim A=3"):
        make(name, bounds=ActionBounds(torch.tensor([-1.0, -1.0]), torch.tensor([1.0, 1.0]))).optimize(
            objective, torch.zeros(N, H, 3)
        )
    with pytest.raises(ValueError, match=r"elites must be \(N, K, H, A\)"):
        planner.optimize(objective, torch.zeros(N, H, A), elites=torch.zeros(N, H, A))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_bad_objectives_are_refused_with_clear_errors(name):
    with pytest.raises(ValueError, match=r"objective must return costs of shape \(N, P\)"):
        make(name).optimize(lambda a: a.sum(dim=(-1,)), torch.zeros(N, H, A))
    with pytest.raises(ValueError, match="objective returned NaN costs"):
        make(name).optimize(lambda a: a.sum(dim=(-2, -1)) * float("nan"), torch.zeros(N, H, A))
    with pytest.raises(
        ValueError, match=r"objective returned -inf costs for \d+ candidates; costs must be finite"
    ):
        make(name).optimize(lambda a: a.sum(dim=(-2, -1)) - math.inf, torch.zeros(N, H, A))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_a_problem_with_only_infeasible_candidates_does_not_poison_the_others(name):
    targets = random_targets(N, H, A)

    def objective(actions):  # problem 1 has no feasible candidate at all
        costs = quadratic(targets)(actions)
        return torch.cat([costs[:1], torch.full_like(costs[1:2], math.inf), costs[2:]])

    solution = make(name).optimize(objective, torch.zeros(N, H, A))
    assert torch.isfinite(solution.actions).all()
    assert torch.isinf(solution.cost[1]) and torch.isfinite(solution.cost[[0, 2]]).all()
    # The other problems draw the same samples and reach the same answers as when all are feasible.
    feasible = make(name).optimize(quadratic(targets), torch.zeros(N, H, A))
    assert torch.equal(solution.actions[[0, 2]], feasible.actions[[0, 2]])


def test_bounds_with_low_above_high_are_refused():
    with pytest.raises(ValueError, match=r"low > high: low=\[0.0, 0.5\], high=\[1.0, 0.0\]"):
        ActionBounds(low=torch.tensor([0.0, 0.5]), high=torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="must be finite"):
        ActionBounds(low=-float("inf"))


@pytest.mark.parametrize("squash", ["tanh", "clamp"])
def test_gradient_planner_refuses_a_non_differentiable_objective(squash):
    targets = random_targets(N, H, A)
    planner = make("gradient_" + squash)
    with pytest.raises(ValueError, match="needs a differentiable objective"):
        planner.optimize(lambda a: quadratic(targets)(a.detach()), torch.zeros(N, H, A))
    with pytest.raises(ValueError, match="do not depend on the actions"):
        offset = torch.zeros((), requires_grad=True)
        planner.optimize(lambda a: offset + torch.zeros(a.shape[:2]), torch.zeros(N, H, A))
    # Called from a no_grad control loop it still differentiates (it enables grad itself).
    with torch.no_grad():
        solution = planner.optimize(quadratic(targets), torch.zeros(N, H, A))
    assert (solution.cost < quadratic(targets)(torch.zeros(N, 1, H, A))[:, 0]).all()


@pytest.mark.parametrize(
    ("config_class", "kwargs", "message"),
    [
        (CEMConfig, {"num_elites": 30, "population_size": 20}, "num_elites=30 exceeds population_size=20"),
        (CEMConfig, {"alpha": 1.0}, r"alpha must be in \[0, 1\), got 1.0"),
        (CEMConfig, {"init_std": -0.1}, "init_std must be a finite number > 0, got -0.1"),
        (ICEMConfig, {"num_elites": 60}, "2 \\* num_elites = 120, which must not exceed population_size=100"),
        (ICEMConfig, {"population_decay": 0.5}, "population_decay must be >= 1, got 0.5"),
        (ICEMConfig, {"keep_elites_fraction": 1.5}, r"keep_elites_fraction must be in \[0, 1\], got 1.5"),
        (MPPIConfig, {"temperature": 0.0}, "temperature must be a finite number > 0, got 0.0"),
        (CEMConfig, {"init_std": math.inf}, "init_std must be a finite number > 0, got inf"),
        (MPPIConfig, {"population_size": 2.5}, "population_size must be an integer > 0, got 2.5"),
        (RandomShootingConfig, {"population_size": 0}, "population_size must be an integer > 0, got 0"),
        (GradientConfig, {"squash": "sigmoid"}, "squash must be one of .*, got 'sigmoid'"),
        (GradientConfig, {"num_iterations": True}, "num_iterations must be an integer > 0, got True"),
    ],
)
def test_bad_configs_are_refused_quoting_the_value(config_class, kwargs, message):
    with pytest.raises(ValueError, match=message):
        config_class(**kwargs)


def test_planners_need_an_explicit_generator_and_their_own_config():
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        CEMPlanner(generator=0)
    with pytest.raises(TypeError, match="CEMPlanner needs a CEMConfig, got MPPIConfig"):
        CEMPlanner(MPPIConfig(), generator=torch.Generator())
