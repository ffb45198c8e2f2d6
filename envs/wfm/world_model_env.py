"""WFM-PushBlock-v0: a trained world model in place of a MuJoCo scene, as one Gymnasium env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from cosmos_sim.envs.wfm.core import WorldModelCore
from cosmos_sim.world_models.diffusion.model import SamplerConfig


class WorldModelEnv(gym.Env):
    """A trained action-conditioned world model that imitates a MuJoCo scene (default: PushBlock).

    ## Description
    The scene ``task_env_id`` (default: the checkpoint's task) is replaced by a diffusion world
    model (``DiffusionWorldModel``) trained on its recordings. A step samples one latent frame, i.e.
    the ``k`` video frames of one control interval with the action held, decodes only those frames
    with the tokenizer's streaming decoder, reads the task state from the new latent frame with the
    model's state head (``predict_state``) and applies the scene's own task to it. The model
    conditions on its last ``window - 1`` latent frames; a start shorter than that is preceded by its
    first frame held still under a zero action (the scenes start at rest, so that is what a zero
    action would have shown), so the context is full from the first step and memory stays bounded.
    Sampling noise comes from a ``torch.Generator`` seeded at every reset from ``np_random``.
    ``WorldModelVectorEnv`` runs many of these in one batched model call and shares this code
    (``cosmos_sim.envs.wfm.core``).

    ## Action Space
    The scene's, e.g. ``Box(-1, 1, (2,), float32)`` for PushBlock: pusher velocity as a fraction of
    0.3 m/s, held for the ``k`` frames of the interval. Out-of-range actions are clipped to the space
    (``info["action"]`` is the clipped one); a wrong shape or NaN/inf raises ``ValueError``.

    ## Observation Space
    The scene's, e.g. ``Box(0, 255, (64, 64, 3), uint8)``: the last decoded frame of the interval (at
    reset, the tokenizer's reconstruction of the start frame). The predicted state ``(S,)`` is in
    ``info["state"]``, the goal in ``info["goal"]``, the ``k`` decoded frames in ``info["frames"]``
    ``(k, H, W, 3)``.

    ## Rewards
    The scene's task applied to the predicted state: for PushBlock ``PushBlockTask.reward(state, goal)``
    with each weighted term in ``info`` (``reward_goal``, ``reward_pusher``, ``reward_success``).

    ## Starting State
    ``reset_source="mujoco"``: the MuJoCo scene is reset with a seed drawn from ``np_random`` and its
    rendered frame and ``info["goal"]`` are the start (other reset options, e.g. ``state``, ``goal``,
    ``scene``, ``domain_randomization``, are passed to the scene's reset). ``reset_source="dataset"``:
    the first frame and goal of an episode drawn from the recorded ``dataset``.
    ``options={"frames": uint8 (1 + k*n, H, W, 3), "actions": float (k*n, A), "goal": (G,)}`` starts
    from given frames, the actions between them and a goal; ``actions`` may be left out when ``n = 0``.

    ## Episode End
    Terminates when the predicted state succeeds only with ``terminate_on_success=True`` (as the
    scene); truncated by the registered ``TimeLimit`` after the scene's episode length (50 steps for
    PushBlock). ``info["is_success"]`` reports predicted success after every step.

    ## Arguments
    ``checkpoint`` (folder of a saved world model; default ``cosmos_sim/zoo/wfm_pushblock``),
    ``task_env_id`` (scene id; a checkpoint trained for another raises ``ValueError``), ``device``
    (default: CUDA when available), ``bf16`` (default True: the DiT and the tokenizer's decoder in
    bfloat16, latents in float32; False: float32 throughout, slower), ``compile`` (default False: True
    runs the DiT through ``torch.compile``, faster steps after about a minute of compilation),
    ``sampler`` (``SamplerConfig``, or a dict of the fields that differ from ``CONTROL_SAMPLER``, the
    default: 2 Euler steps),
    ``reset_source`` (``"mujoco"`` or ``"dataset"``), ``dataset`` (folder, with ``"dataset"``),
    ``task`` (e.g. a ``PushBlockTask`` with the reward weights, given to the scene as well),
    ``terminate_on_success``, ``render_mode`` (``"rgb_array"`` or None).

    ## Version History
    - v0: initial release.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
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
        render_mode: str | None = "rgb_array",
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(
                f"WorldModelEnv: render_mode {render_mode!r} is not one of {self.metadata['render_modes']}"
            )
        self.core = WorldModelCore(
            1,
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
        self.render_mode = render_mode
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        self.metadata = {**type(self).metadata, "render_fps": self.core.fps}

    @property
    def world(self):
        """The ``DiffusionWorldModel``."""
        return self.core.world

    @property
    def dt(self) -> float:
        """Seconds of one step (the scene's control period)."""
        return self.core.dt

    @property
    def frames_per_step(self) -> int:
        return self.core.frames_per_step

    @property
    def task(self):
        return self.core.task

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        starts, scene_options = self.core.parse_options(options, batch=None)
        super().reset(seed=seed)
        obs, infos = self.core.reset([0], [self.np_random], starts, scene_options)
        return obs[0], infos[0]

    def step(self, action: Any):
        applied = self.core.check_actions(action, self.action_space.shape)
        obs, rewards, terminated, infos = self.core.step([0], applied[None])
        return obs[0], float(rewards[0]), bool(terminated[0]), False, infos[0]

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called with render_mode=None; pass render_mode='rgb_array' to make().")
            return None
        if not self.core.started[0]:
            raise RuntimeError("WorldModelEnv.render called before reset()")
        return self.core.last_frames[0].copy()

    def close(self) -> None:
        self.core.close()
