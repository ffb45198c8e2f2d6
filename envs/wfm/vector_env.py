"""WFM-PushBlock-v0 vectorized: ``N`` world-model episodes advanced by one batched model call per step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from cosmos_sim.envs.wfm.core import WorldModelCore
from cosmos_sim.world_models.diffusion.model import SamplerConfig


class WorldModelVectorEnv(VectorEnv):
    """``num_envs`` copies of ``WorldModelEnv`` stepped together in one batched ``world.step``.

    ## Description
    The vectorized form of ``WorldModelEnv`` (same model, starts, decoding and task rules, from
    ``cosmos_sim.envs.wfm.core``): a step advances every running sub-env by one latent frame in a
    single batched model call, then decodes each sub-env's new frames through the streaming decoder of
    its episode (one batched stream per group of sub-envs that started together). Each sub-env has its
    own ``np_random`` and ``torch.Generator``, seeded by ``reset(seed=...)``. The batched call takes one
    generator, seeded by a draw from each sub-env's, and batched float math differs in the last bits
    from unbatched, so sub-env ``i`` matches a single env of the same seed exactly in its start (the
    drawn scene, goal and start frame) but not in its predicted frames.

    ## Action Space
    ``Box(-1, 1, (num_envs, 2), float32)`` for PushBlock (``single_action_space`` is the scene's);
    clipped to the space; a wrong shape (e.g. another batch size) or NaN/inf raises ``ValueError``.

    ## Observation Space
    ``Box(0, 255, (num_envs, 64, 64, 3), uint8)`` for PushBlock (``single_observation_space`` is the
    scene's): the last decoded frame of each sub-env's interval. ``info`` holds each key of
    ``WorldModelEnv``'s info batched over sub-envs, with a ``_key`` mask of the sub-envs that have it.

    ## Rewards
    As ``WorldModelEnv``: the scene's task applied to each sub-env's predicted state.

    ## Starting State
    As ``WorldModelEnv``; ``options`` with ``frames`` take a leading ``num_envs`` axis on ``frames``
    ``(N, 1 + k*n, H, W, 3)``, ``actions`` ``(N, k*n, A)`` and ``goal`` ``(N, G)``; other options go to
    every sub-env's scene reset.

    ## Episode End
    A sub-env terminates as ``WorldModelEnv`` does and is truncated after ``max_episode_steps`` (default
    the scene's registered episode length, 50 for PushBlock; ``make_vec`` passes the registered one).
    Autoreset is ``AutoresetMode.NEXT_STEP`` (Gymnasium's default): the step after a sub-env ends resets
    it instead of stepping it (its action is ignored, its reward is 0, its info is the reset info).

    ## Arguments
    ``num_envs``, ``max_episode_steps``, and ``WorldModelEnv``'s arguments.

    ## Version History
    - v0: initial release.
    """

    metadata: dict[str, Any] = {
        "render_modes": ["rgb_array"],
        "render_fps": 20,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        *,
        checkpoint: str | Path | None = None,
        task_env_id: str | None = None,
        device: str | torch.device | None = None,
        bf16: bool = True,
        compile: bool = False,
        sampler: SamplerConfig | dict | None = None,
        reset_source: str = "mujoco",
        dataset: str | Path | None = None,
        task: Any = None,
        terminate_on_success: bool = False,
        max_episode_steps: int | None = None,
        render_mode: str | None = "rgb_array",
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"WorldModelVectorEnv: render_mode {render_mode!r} is not one of "
                f"{self.metadata['render_modes']}"
            )
        self.core = WorldModelCore(
            num_envs,
            checkpoint=checkpoint,
            task_env_id=task_env_id,
            device=device,
            bf16=bf16,
            compile=compile,
            sampler=sampler,
            reset_source=reset_source,
            dataset=dataset,
            task=task,
            terminate_on_success=terminate_on_success,
            owner=type(self).__name__,
        )
        if max_episode_steps is None:
            max_episode_steps = self.core.scene_max_episode_steps
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool)
            or not isinstance(max_episode_steps, (int, np.integer))
            or max_episode_steps < 1
        ):
            raise ValueError(
                f"WorldModelVectorEnv: max_episode_steps must be a positive integer or None, got {max_episode_steps!r}"
            )
        self.num_envs = self.core.num_envs
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self.single_observation_space = self.core.observation_space
        self.single_action_space = self.core.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {**type(self).metadata, "render_fps": self.core.fps}

        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)

    @property
    def world(self):
        """The ``DiffusionWorldModel`` all sub-envs share."""
        return self.core.world

    @property
    def dt(self) -> float:
        return self.core.dt

    def _seeds(self, seed: int | list[int | None] | None) -> list[int | None]:
        if seed is None:
            return [None] * self.num_envs
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            return [int(seed) + i for i in range(self.num_envs)]  # as Gymnasium's SyncVectorEnv
        if (
            isinstance(seed, (list, tuple))
            and len(seed) == self.num_envs
            and all(
                s is None or (isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0)
                for s in seed
            )
        ):
            return [None if s is None else int(s) for s in seed]
        raise ValueError(
            f"WorldModelVectorEnv.reset: seed must be None, an int or a list of {self.num_envs} seeds (each None "
            f"or an int >= 0), got {seed!r}"
        )

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        seeds = self._seeds(seed)
        starts, scene_options = self.core.parse_options(options, batch=self.num_envs)
        super().reset(seed=int(seed) if isinstance(seed, (int, np.integer)) else None)
        # Every stream is made before any is kept: a reset that fails leaves the old ones in place.
        rngs = [
            seeding.np_random(sub_seed)[0] if sub_seed is not None or old is None else old
            for sub_seed, old in zip(seeds, self._rngs, strict=True)
        ]
        obs, infos = self.core.reset(range(self.num_envs), rngs, starts, scene_options)
        self._rngs = rngs
        self._elapsed[:] = 0
        self._autoreset[:] = False
        return obs, self._batch_infos(infos)

    def step(self, actions: Any):
        applied = self.core.check_actions(actions, self.action_space.shape)
        n = self.num_envs
        obs = np.empty(self.observation_space.shape, dtype=np.uint8)
        rewards = np.zeros(n, dtype=np.float64)
        terminated = np.zeros(n, dtype=bool)
        truncated = np.zeros(n, dtype=bool)
        infos: list[dict[str, Any]] = [{}] * n

        running = np.flatnonzero(~self._autoreset)
        if running.size:
            obs[running], rewards[running], terminated[running], stepped = self.core.step(
                running, applied[running]
            )
            self._elapsed[running] += 1
            if self.max_episode_steps is not None:
                truncated[running] = self._elapsed[running] >= self.max_episode_steps
            for row, info in zip(running, stepped, strict=True):
                infos[row] = info
        ending = np.flatnonzero(self._autoreset)  # ended last step: reset now (NEXT_STEP autoreset)
        if ending.size:
            obs[ending], fresh = self.core.reset(ending, [self._rngs[i] for i in ending], None, {})
            self._elapsed[ending] = 0
            for row, info in zip(ending, fresh, strict=True):
                infos[row] = info
        self._autoreset = terminated | truncated
        return obs, rewards, terminated, truncated, self._batch_infos(infos)

    def _batch_infos(self, infos: list[dict[str, Any]]) -> dict[str, Any]:
        """Per-sub-env infos -> Gymnasium's vector info: each key batched, with a ``_key`` mask."""
        batched: dict[str, Any] = {}
        for row, info in enumerate(infos):
            batched = self._add_info(batched, info, row)
        return batched

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode is None:
            return None
        if not self.core.started.all():
            raise RuntimeError("WorldModelVectorEnv.render called before reset()")
        return tuple(frame.copy() for frame in self.core.last_frames)

    def close_extras(self, **kwargs: Any) -> None:
        self.core.close()
