"""The contract every trajectory optimizer follows, and the pieces they share.

An optimizer searches for action sequences that minimise an objective it cannot look inside: it
only calls the objective on batches of candidates (DESIGN.md, "Contracts": planners never import
a model or an env). Everything is batched over ``N`` independent problems (one per vector sub-env,
say): candidates are ``(N, P, H, A)``, costs ``(N, P)``, and a single problem is simply ``N = 1``.
``batch_objective`` and ``stack_objectives`` lift per-problem objectives ``(P, H, A) -> (P,)`` to
that form.

``TrajectoryOptimizer.optimize(objective, init) -> Solution`` validates its inputs once, here;
subclasses implement only their update rule (mbrl-lib ``trajectory_opt.py``, tdmpc2 ``_plan``),
built from the helpers below: seeded sampling, clipping to the action box, evaluation chunked to a
memory budget, and best-so-far tracking.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

Objective = Callable[[torch.Tensor], torch.Tensor]
"""One problem: actions ``float32 (P, H, A)`` -> costs ``(P,)``, lower is better."""

BatchedObjective = Callable[[torch.Tensor], torch.Tensor]
"""``N`` independent problems: actions ``float32 (N, P, H, A)`` -> costs ``(N, P)``, row n scored by
problem n. Every optimizer calls this form; candidates must be scored independently of each other
(as any rollout is), which is what makes chunked evaluation exact."""


def batch_objective(objective: Objective) -> BatchedObjective:
    """Score every problem with the same ``objective``, in one call of ``N * P`` candidates."""

    def batched(actions: torch.Tensor) -> torch.Tensor:
        n, p = actions.shape[:2]
        costs = objective(actions.reshape(n * p, *actions.shape[2:]))  # (N * P,)
        if costs.shape != (n * p,):
            raise ValueError(f"objective must return costs of shape ({n * p},), got {tuple(costs.shape)}")
        return costs.reshape(n, p)

    return batched


def stack_objectives(objectives: Sequence[Objective]) -> BatchedObjective:
    """Score problem n with ``objectives[n]`` (a goal per sub-env, say)."""
    objectives = list(objectives)

    def batched(actions: torch.Tensor) -> torch.Tensor:
        if actions.shape[0] != len(objectives):
            raise ValueError(f"got {actions.shape[0]} problems for {len(objectives)} objectives")
        return torch.stack([objective(a) for objective, a in zip(objectives, actions, strict=True)])  # (N, P)

    return batched


def check_positive(owner: object, *names: str, integer: bool = True) -> None:
    """Raise a ValueError quoting the value of every field in ``names`` that is not > 0."""
    for name in names:
        value = getattr(owner, name)
        if (
            (integer and (not isinstance(value, int) or isinstance(value, bool)))
            or not value > 0
            or not math.isfinite(value)
        ):
            kind = "an integer" if integer else "a finite number"
            raise ValueError(f"{type(owner).__name__}.{name} must be {kind} > 0, got {value!r}")


@dataclass
class ActionBounds:
    """The box actions live in; every candidate an optimizer evaluates or returns is clipped to it."""

    low: torch.Tensor | float = -1.0
    """Lower bound, a float or ``(A,)``; DESIGN.md normalizes actions to [-1, 1]."""
    high: torch.Tensor | float = 1.0
    """Upper bound, a float or ``(A,)``, at least ``low`` everywhere."""

    def __post_init__(self) -> None:
        low = torch.as_tensor(self.low, dtype=torch.float32)
        high = torch.as_tensor(self.high, dtype=torch.float32)
        if low.ndim > 1 or high.ndim > 1:
            raise ValueError(
                f"ActionBounds: low and high must be floats or (A,), got {low.shape}, {high.shape}"
            )
        try:
            torch.broadcast_shapes(low.shape, high.shape)
        except RuntimeError:
            raise ValueError(
                f"ActionBounds: low {tuple(low.shape)} and high {tuple(high.shape)} differ"
            ) from None
        if not (torch.isfinite(low).all() and torch.isfinite(high).all()):
            raise ValueError(
                f"ActionBounds: bounds must be finite, got low={low.tolist()}, high={high.tolist()}"
            )
        if (low > high).any():
            raise ValueError(f"ActionBounds: low > high: low={low.tolist()}, high={high.tolist()}")
        self.low, self.high = low, high

    def for_actions(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(low, high)`` on ``like``'s device and dtype, checked against its action dim."""
        action_dim = like.shape[-1]
        for bound in (self.low, self.high):
            if bound.numel() not in (1, action_dim):
                raise ValueError(
                    f"ActionBounds of shape {tuple(bound.shape)} do not fit action dim A={action_dim}"
                )
        return self.low.to(like), self.high.to(like)

    def clip(self, actions: torch.Tensor) -> torch.Tensor:
        """Clip ``actions (..., A)`` into the box."""
        low, high = self.for_actions(actions)
        return torch.clamp(actions, low, high)


@dataclass(kw_only=True)
class PlannerConfig:
    """Settings every optimizer shares; each optimizer's config extends it (keyword arguments only,
    so a population size can never land in ``max_batch`` by position)."""

    max_batch: int | None = None
    """Memory budget: at most this many candidate sequences per objective call, counted over all N
    problems (so ``max_batch // N`` per problem). None: the whole population in one call."""

    def __post_init__(self) -> None:
        if self.max_batch is not None:
            check_positive(self, "max_batch")


@dataclass
class Solution:
    """What ``optimize`` returns, for all N problems."""

    actions: torch.Tensor
    """The optimizer's answer ``(N, H, A)``, inside the bounds: the best candidate evaluated (MPPI: the
    final weighted mean)."""
    cost: torch.Tensor
    """The objective's cost of ``actions``, ``(N,)``."""
    iterations: int
    """Update iterations run."""
    history: torch.Tensor
    """Best cost among the candidates evaluated up to each iteration, ``(iterations, N)``; non-increasing."""
    mean: torch.Tensor | None = None
    """Final mean of the sampling distribution ``(N, H, A)``, for optimizers that keep one."""
    std: torch.Tensor | None = None
    """Final standard deviation ``(N, H, A)``, for optimizers that keep one."""
    elites: torch.Tensor | None = None
    """Final elite sequences ``(N, K, H, A)``, best first, for optimizers that carry them to the next
    MPC step (iCEM); pass them back, shifted, as ``optimize(..., elites=...)``."""


class BestSoFar:
    """Tracks, per problem, the lowest-cost candidate evaluated so far and its cost after each iteration."""

    def __init__(self) -> None:
        self.actions: torch.Tensor | None = None  # (N, H, A)
        self.cost: torch.Tensor | None = None  # (N,)
        self.history: list[torch.Tensor] = []

    def update(self, candidates: torch.Tensor, costs: torch.Tensor) -> None:
        """Fold in one iteration's ``candidates (N, P, H, A)`` with their ``costs (N, P)``."""
        # argmin + gather rather than min(dim=1): the same values, but min(dim) was measured to hand
        # even a handful of costs to the thread pool, stalling for milliseconds on busy cores.
        index = costs.argmin(dim=1)  # (N,)
        cost = costs.gather(1, index[:, None])[:, 0]  # (N,)
        actions = candidates[torch.arange(candidates.shape[0]), index]  # (N, H, A)
        if self.cost is None:
            self.actions, self.cost = actions, cost
        else:
            better = cost < self.cost  # strict: ties keep the earlier candidate
            self.actions = torch.where(better[:, None, None], actions, self.actions)
            self.cost = torch.where(better, cost, self.cost)
        self.history.append(self.cost)

    def solution(self, **fields: torch.Tensor | None) -> Solution:
        """A Solution of the best candidate; ``fields`` add (or, for MPPI's mean, replace) fields."""
        best = {"actions": self.actions, "cost": self.cost}
        return Solution(**{**best, **fields}, iterations=len(self.history), history=torch.stack(self.history))


class TrajectoryOptimizer(ABC):
    """Base of every optimizer: ``optimize(objective, init) -> Solution``.

    ``generator`` drives all sampling (never the global RNG), so a seed fixes the solution; it must
    live on the device of ``init``. ``bounds`` defaults to the normalized box [-1, 1].
    """

    config_class: ClassVar[type[PlannerConfig]] = PlannerConfig

    def __init__(
        self,
        config: PlannerConfig | None = None,
        *,
        generator: torch.Generator,
        bounds: ActionBounds | None = None,
    ) -> None:
        config = self.config_class() if config is None else config
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}"
            )
        if not isinstance(generator, torch.Generator):
            raise TypeError(
                f"generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), got {generator!r}"
            )
        self.config = config
        self.generator = generator
        self.bounds = ActionBounds() if bounds is None else bounds

    def optimize(
        self, objective: BatchedObjective, init: torch.Tensor, *, elites: torch.Tensor | None = None
    ) -> Solution:
        """Minimise ``objective`` over action sequences for N problems at once.

        ``init``: the initial mean action sequence ``float (N, H, A)`` (the warm start), clipped to the
        bounds. ``elites``: optional earlier good sequences ``(N, K, H, A)`` (an MPC step's shifted
        ``Solution.elites``), evaluated alongside the first population.
        """
        init = self._check_init(init)
        if elites is not None:
            elites = self._check_elites(elites, init)
        return self._optimize(objective, init, elites)

    @abstractmethod
    def _optimize(
        self, objective: BatchedObjective, init: torch.Tensor, elites: torch.Tensor | None
    ) -> Solution:
        """The update rule, on validated inputs."""

    # ---- validation ---------------------------------------------------------------------------

    def _check_init(self, init: torch.Tensor) -> torch.Tensor:
        name = type(self).__name__
        if not isinstance(init, torch.Tensor):
            raise TypeError(
                f"{name}.optimize: init must be a torch.Tensor (N, H, A), got {type(init).__name__}"
            )
        if init.ndim != 3 or init.numel() == 0:
            raise ValueError(
                f"{name}.optimize: init must be a non-empty (N, H, A) mean sequence, got {tuple(init.shape)}"
            )
        if not init.is_floating_point():
            raise ValueError(f"{name}.optimize: init must be a float tensor, got {init.dtype}")
        if not torch.isfinite(init).all():
            bad = int((~torch.isfinite(init)).sum())
            raise ValueError(f"{name}.optimize: init contains {bad} NaN or inf entries")
        if self.generator.device.type != init.device.type:
            raise ValueError(
                f"{name}.optimize: the generator is on {self.generator.device} but init is on {init.device}"
            )
        n = init.shape[0]
        if self.config.max_batch is not None and self.config.max_batch < n:
            raise ValueError(
                f"{name}.optimize: max_batch={self.config.max_batch} cannot fit one candidate per problem "
                f"for N={n} problems; raise max_batch to at least {n}"
            )
        return self.bounds.clip(init)

    def _check_elites(self, elites: torch.Tensor, init: torch.Tensor) -> torch.Tensor:
        n, h, a = init.shape
        if elites.ndim != 4 or elites.shape[0] != n or elites.shape[2:] != (h, a):
            raise ValueError(
                f"{type(self).__name__}.optimize: elites must be (N, K, H, A) = ({n}, K, {h}, {a}), "
                f"got {tuple(elites.shape)}"
            )
        if not torch.isfinite(elites).all():
            raise ValueError(f"{type(self).__name__}.optimize: elites contain NaN or inf")
        return self.bounds.clip(elites.to(init))

    def _check_costs(self, costs: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        expected = tuple(candidates.shape[:2])
        if not isinstance(costs, torch.Tensor) or tuple(costs.shape) != expected:
            got = tuple(costs.shape) if isinstance(costs, torch.Tensor) else type(costs).__name__
            raise ValueError(f"objective must return costs of shape (N, P) = {expected}, got {got}")
        # No silent fallback: a NaN cost would make elite selection arbitrary, and -inf would make every
        # other candidate worthless. +inf is a valid "infeasible".
        if torch.isnan(costs).any():
            raise ValueError(f"objective returned NaN costs for {int(torch.isnan(costs).sum())} candidates")
        if (costs == -math.inf).any():
            raise ValueError(
                f"objective returned -inf costs for {int((costs == -math.inf).sum())} candidates; costs must "
                f"be finite or +inf (infeasible)"
            )
        # A model on another device (a GPU) may score candidates that live on the CPU.
        return costs.to(candidates.device)

    # ---- shared steps -------------------------------------------------------------------------

    def _chunk_size(self, n: int, p: int) -> int:
        """Candidates per problem in one objective call under the memory budget."""
        return p if self.config.max_batch is None else self.config.max_batch // n

    def _evaluate(self, objective: BatchedObjective, candidates: torch.Tensor) -> torch.Tensor:
        """Costs ``(N, P)`` of ``candidates (N, P, H, A)``, in chunks of at most ``max_batch`` sequences.

        Sampling happens before chunking and every candidate is scored on its own, so the chunked
        costs equal the unchunked ones bit for bit.
        """
        size = self._chunk_size(*candidates.shape[:2])
        with torch.no_grad():  # sampling-based optimizers never need the objective's graph
            costs = [
                self._check_costs(objective(chunk.contiguous()), chunk)
                for chunk in candidates.split(size, dim=1)
            ]
        return torch.cat(costs, dim=1)

    def _sample_gaussian(self, mean: torch.Tensor, std: torch.Tensor, population: int) -> torch.Tensor:
        """``population`` sequences per problem from N(mean, std^2) per entry, clipped: ``(N, P, H, A)``."""
        n, h, a = mean.shape
        noise = torch.randn(
            (n, population, h, a), generator=self.generator, device=mean.device, dtype=mean.dtype
        )
        return self.bounds.clip(mean[:, None] + std[:, None] * noise)

    def _sample_uniform(self, like: torch.Tensor, population: int) -> torch.Tensor:
        """``population`` sequences per problem, uniform in the bounds: ``(N, P, H, A)``."""
        n, h, a = like.shape
        low, high = self.bounds.for_actions(like)
        u = torch.rand((n, population, h, a), generator=self.generator, device=like.device, dtype=like.dtype)
        return low + (high - low) * u


def top_k(candidates: torch.Tensor, costs: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` lowest-cost candidates, best first: ``(N, K, H, A)`` and their costs ``(N, K)``."""
    elite_costs, index = torch.topk(costs, k, dim=1, largest=False, sorted=True)  # (N, K)
    h, a = candidates.shape[2:]
    elites = candidates.gather(1, index[:, :, None, None].expand(-1, -1, h, a))  # (N, K, H, A)
    return elites, elite_costs
