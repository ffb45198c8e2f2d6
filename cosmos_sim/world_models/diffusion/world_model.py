"""``DiffusionWorldModel``: the ``WorldModel`` API (cosmos_sim/world_models/base.py) over a continuous
tokenizer and a trained ``LatentDiffusionModel``.

Frames go through the frozen tokenizer once (``encode``); after that everything stays in normalized
latent space: ``step`` samples one latent frame from the last ``window - 1`` frames and the actions,
``rollout`` repeats it over a horizon (a sliding context window), and only ``decode`` returns to
pixels. The state keeps the whole latent history from the first encoded frame, because the causal
tokenizer decodes a latent sequence from its start (latent frame 0 is one video frame, the rest k).
"""

from __future__ import annotations

import numpy as np
import torch

from cosmos_sim.frames import frames_to_model, model_to_frames
from cosmos_sim.tokenizers import CausalVideoTokenizer
from cosmos_sim.world_models.base import LatentState
from cosmos_sim.world_models.diffusion.model import CONTROL_SAMPLER, LatentDiffusionModel, SamplerConfig


def _checked_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device this machine has, or a ValueError naming it."""
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"DiffusionWorldModel: device must name a torch device such as 'cpu' or 'cuda', got {device!r}"
        ) from error
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"DiffusionWorldModel: device {device!r} asks for CUDA, but this machine has no CUDA device; use 'cpu'"
        )
    return chosen


class DiffusionWorldModel:
    """Action-conditioned latent video prediction with a diffusion transformer (Cosmos Video2World)."""

    def __init__(
        self,
        model: LatentDiffusionModel,
        tokenizer: CausalVideoTokenizer,
        *,
        sampler: SamplerConfig = CONTROL_SAMPLER,
        device: str | torch.device = "cpu",
        bf16: bool = True,
        compile: bool = False,
    ) -> None:
        """``compile``: run the DiT through ``torch.compile`` (TorchInductor). At this model's width its
        elementwise work (norms, modulation, GELU, rotary embedding) outweighs its matmuls, and Inductor
        fuses it: faster steps after a one-off compilation that takes about a minute on 2 CPU cores,
        repeated once when a second batch size appears (the graph is then made shape-generic). Worth it
        for long runs (RL, many episodes), not for a few steps (README "Speed"). ``model``'s DiT is
        compiled in place: another world model built on the same ``model`` runs compiled too."""
        for name, value in (("compile", compile), ("bf16", bf16)):
            if not isinstance(value, bool):
                raise ValueError(f"DiffusionWorldModel: {name} must be True or False, got {value!r}")
        if not isinstance(sampler, SamplerConfig):
            raise ValueError(f"DiffusionWorldModel: sampler must be a SamplerConfig, got {sampler!r}")
        config, tok = model.config, tokenizer.config
        if tok.kind != "CV":
            raise ValueError(
                f"DiffusionWorldModel needs a continuous (CV) tokenizer, got {tok.name}; the diffusion "
                f"model denoises continuous latents"
            )
        expected = (tok.latent_dim, tok.temporal_compression)
        if (config.latent_channels, config.actions_per_latent) != expected:
            raise ValueError(
                f"DiffusionWorldModel: the model expects {config.latent_channels} latent channels and "
                f"{config.actions_per_latent} frames per latent, tokenizer {tok.name} gives "
                f"{expected[0]} and {expected[1]}"
            )
        device = _checked_device(device)
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer.to(device).eval()
        if compile:
            self.model.dit.compile()  # in place: the parameter names (and checkpoints) stay as they are
        self.sampler = sampler
        self.device = torch.device(device)
        # The network in bfloat16 (AMX on CPUs, tensor cores on GPUs); the sampler's state stays float32.
        self.bf16 = bf16
        self.actions_per_step = config.actions_per_latent
        self.action_dim = config.action_dim

    @property
    def compiled(self) -> bool:
        """Whether the DiT runs through ``torch.compile`` (here, or by another world model on the same
        network)."""
        return self.model.dit._compiled_call_impl is not None

    @property
    def config(self):
        return self.model.config

    @property
    def frame_size(self) -> tuple[int, int]:
        """(H, W) of the frames the model takes and makes."""
        return tuple(s * self.tokenizer.config.spatial_compression for s in self.config.latent_size)

    # ---- checks -----------------------------------------------------------------------------------

    def _check_actions(self, actions: torch.Tensor, leading: tuple[int, ...], what: str) -> torch.Tensor:
        actions = torch.as_tensor(actions, dtype=torch.float32, device=self.device)
        expected = (*leading, self.actions_per_step, self.action_dim)
        if tuple(actions.shape) != expected:
            raise ValueError(
                f"{what}: actions must have shape {expected} (batch, [steps,] k={self.actions_per_step} "
                f"actions per latent step, A={self.action_dim}), got {tuple(actions.shape)}"
            )
        if not torch.isfinite(actions).all():
            raise ValueError(f"{what}: actions contain NaN or inf")
        return actions

    def _check_latents(self, latents, what: str) -> torch.Tensor:
        """``latents`` as float32 (B, C, T, h, w) on the model's device, or a ValueError saying what is wrong."""
        c, (h, w) = self.config.latent_channels, self.config.latent_size
        if not isinstance(latents, torch.Tensor) or not latents.is_floating_point():
            got = f"{latents.dtype} tensor" if isinstance(latents, torch.Tensor) else type(latents).__name__
            raise ValueError(f"{what}: latents must be a float tensor (B, C={c}, T, h={h}, w={w}), got {got}")
        if latents.ndim != 5 or (latents.shape[1], *latents.shape[3:]) != (c, h, w) or 0 in latents.shape:
            raise ValueError(
                f"{what}: latents must be (B, C={c}, T, h={h}, w={w}) with B, T >= 1, got {tuple(latents.shape)}"
            )
        if not torch.isfinite(latents).all():
            raise ValueError(f"{what}: latents contain NaN or inf")
        return latents.to(self.device, torch.float32)

    def _check_state(self, state, what: str) -> LatentState:
        """``state`` with its latents checked and its actions matching them: (B, T-1, k, A)."""
        if not isinstance(state, LatentState):
            raise TypeError(
                f"{what}: state must be a LatentState (from encode or step), got {type(state).__name__}"
            )
        latents = self._check_latents(state.latents, what)
        b, t = latents.shape[0], latents.shape[2]
        actions = state.actions
        if not isinstance(actions, torch.Tensor) or tuple(actions.shape) != (
            b,
            t - 1,
            self.actions_per_step,
            self.action_dim,
        ):
            got = tuple(actions.shape) if isinstance(actions, torch.Tensor) else type(actions).__name__
            raise ValueError(
                f"{what}: state.actions must be (B={b}, T-1={t - 1}, k={self.actions_per_step}, "
                f"A={self.action_dim}) for latents {tuple(latents.shape)}, got {got}"
            )
        return LatentState(latents, self._check_actions(actions, (b, t - 1), what))

    @staticmethod
    def _check_generator(generator, what: str) -> None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(
                f"{what}: generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), got "
                f"{generator!r}; world models never draw from the global RNG"
            )

    # ---- the WorldModel API -----------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, frames, actions=None) -> LatentState:
        """uint8 frames (B, 1 + k*n, H, W, 3) and float actions (B, k*n, A) (None when n = 0) -> state."""
        frames = torch.as_tensor(np.asarray(frames) if not isinstance(frames, torch.Tensor) else frames)
        if frames.ndim != 5 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise ValueError(
                f"DiffusionWorldModel.encode: frames must be uint8 (B, T, H, W, 3), got "
                f"{frames.dtype} {tuple(frames.shape)}"
            )
        b, t, h, w, _ = frames.shape
        k, expected_hw = self.actions_per_step, self.frame_size
        if (h, w) != expected_hw:
            raise ValueError(
                f"DiffusionWorldModel.encode: frames are {h}x{w}, the model was trained on {expected_hw[0]}x{expected_hw[1]}"
            )
        if (t - 1) % k:
            raise ValueError(f"DiffusionWorldModel.encode: the frame count must be 1 + {k}*n, got {t}")
        n = (t - 1) // k
        if n and actions is None:
            raise ValueError(
                f"DiffusionWorldModel.encode: {t} frames need the {t - 1} actions between them, got None"
            )
        if n:
            actions = np.array(actions.cpu() if isinstance(actions, torch.Tensor) else actions, np.float32)
            if actions.shape != (b, t - 1, self.action_dim):
                raise ValueError(
                    f"DiffusionWorldModel.encode: actions must have shape (B={b}, T-1={t - 1}, A={self.action_dim}), "
                    f"got {actions.shape}"
                )
            interval_actions = self._check_actions(
                torch.from_numpy(actions).reshape(b, n, k, -1), (b, n), "encode"
            )
        else:
            interval_actions = torch.zeros(b, 0, k, self.action_dim, device=self.device)
        latents = self.tokenizer.encode(frames_to_model(frames, device=self.device))
        return LatentState(self.model.normalize_latents(latents), interval_actions)

    @torch.no_grad()
    def step(
        self,
        state: LatentState,
        actions: torch.Tensor,
        generator: torch.Generator,
        *,
        noise_groups: torch.Tensor | None = None,
    ) -> LatentState:
        """One latent frame (k video frames) further, driven by float actions (B, k, A).

        noise_groups: optional int64 (B,); rows with the same value get the same sampling noise."""
        self._check_generator(generator, "step")
        state = self._check_state(state, "step")
        return self._step(
            state, self._check_actions(actions, (state.batch,), "step"), generator, noise_groups
        )

    def _step(
        self,
        state: LatentState,
        actions: torch.Tensor,
        generator: torch.Generator,
        noise_groups: torch.Tensor | None = None,
    ) -> LatentState:
        """``step`` on checked actions, recording autograd when it is enabled."""
        context_frames = min(state.frames, self.config.window - 1)
        context = state.latents[:, :, -context_frames:]
        window_actions = torch.cat(
            [state.actions[:, state.frames - context_frames :], actions[:, None]], dim=1
        )
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            new = self.model.sample_next(context, window_actions, generator, self.sampler, noise_groups)
        new = new.float()
        return LatentState(
            torch.cat([state.latents, new], dim=2), torch.cat([state.actions, actions[:, None]], dim=1)
        )

    def rollout(
        self,
        state: LatentState,
        action_seqs: torch.Tensor,
        generator: torch.Generator,
        *,
        grad: bool = False,
        noise_groups: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predicted normalized latents (B, C, H, h, w) for float actions (B, H, k, A).

        ``grad=True`` records autograd through the sampler (fixed noise, so the latents are a smooth
        function of the actions), for planners that differentiate the rollout. ``noise_groups``
        (int64 (B,)): rows with the same value get the same sampling noise at every step (common
        random numbers: candidate plans from one state then differ only by their actions)."""
        self._check_generator(generator, "rollout")
        state = self._check_state(state, "rollout")
        if not isinstance(action_seqs, torch.Tensor):
            action_seqs = torch.as_tensor(np.asarray(action_seqs), dtype=torch.float32)
        if action_seqs.ndim != 4:
            raise ValueError(
                f"rollout: action_seqs must be (B, H, k, A), got shape {tuple(action_seqs.shape)}"
            )
        action_seqs = self._check_actions(action_seqs, (state.batch, action_seqs.shape[1]), "rollout")
        start = state.frames
        with torch.set_grad_enabled(grad):
            for i in range(action_seqs.shape[1]):
                state = self._step(state, action_seqs[:, i], generator, noise_groups)
        return state.latents[:, :, start:]

    def decoder_autocast(self) -> torch.autocast:
        """The precision of the tokenizer's decoder: bfloat16 with ``bf16``, as the network.

        Decoded frames leave the model and are never fed back (``encode`` and every latent stay
        float32), so the rounding cannot compound. On held-out PushBlock clips it moves pixels by
        0.63 grey levels RMS and PSNR against the truth by -0.01 dB (``scripts/inference_precision.py``),
        and halves the decoder's time on a CPU with AMX (``cosmos-sim bench speed``, README "Speed")."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Normalized latents (B, C, T, h, w), from an episode's first latent frame -> uint8 (B, 1 + k*(T-1), H, W, 3)."""
        latents = self._check_latents(latents, "decode")
        with self.decoder_autocast():
            frames = self.tokenizer.decode(self.model.denormalize_latents(latents))
        return model_to_frames(frames.clamp(-1, 1)).cpu().numpy()

    def predict_state(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalized latents (B, C, T, h, w) -> the task state (B, T, S) at each latent frame
        (differentiable when ``latents`` requires grad, e.g. from ``rollout(..., grad=True)``)."""
        grad = isinstance(latents, torch.Tensor) and latents.requires_grad
        with torch.set_grad_enabled(grad):
            return self.model.predict_state(self._check_latents(latents, "predict_state"))
