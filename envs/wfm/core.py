"""What ``WorldModelEnv`` and ``WorldModelVectorEnv`` share: ``N`` sub-environments of one world model.

``WorldModelCore`` owns the trained model, the MuJoCo scene it imitates (built once: its spaces, control
period and reset distribution) and the per-sub-env episode state. The single env is a core with one
sub-env; the vector env adds seeding of many, autoreset and time limits. Everything below is written once:

- **Starts.** A start is the frames (and actions) an episode begins from, plus the task's goal: drawn
  from the scene's reset distribution (reset the MuJoCo scene with a seed drawn from the sub-env's
  ``np_random``, take its rendered frame and ``info["goal"]``), from the first row of a recorded
  episode dataset, or handed over in ``reset(options={"frames": ..., "goal": ...})``.
- **Context.** The model conditions on its last ``window - 1`` latent frames, and one batched
  ``world.step`` needs the same number for every sub-env. A start shorter than that is preceded by its
  first frame held still under a zero action (the scenes start at rest, so that is the history a zero
  action would have produced). Every sub-env therefore carries exactly ``window - 1`` latent frames,
  from its first step on, whenever it was reset, and the history stays bounded.
- **Decoding.** The causal tokenizer decodes a latent sequence from its first frame on, so each
  episode has a streaming decoder (``CausalVideoTokenizer.stream_decoder``) that is pushed only the new
  latent frame each step. The sub-envs that start in the same reset call share one batched stream; a
  sub-env that resets leaves its old stream (whose rows it no longer uses are fed zeros) and a stream
  is dropped once none of its sub-envs still uses it.
- **Task rules.** State from the model's ``predict_state`` head; reward terms, success and termination
  from the scene's task, as the MuJoCo env applies them to its true state (DESIGN.md, "Tasks").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import cosmos_sim
import cosmos_sim.envs  # noqa: F401  (registers the scene ids)
from cosmos_sim.frames import model_to_frames
from cosmos_sim.tokenizers.tokenizer import StreamingDecoder
from cosmos_sim.world_models.base import LatentState
from cosmos_sim.world_models.diffusion.checkpoint import load_world_model, read_world_model_config
from cosmos_sim.world_models.diffusion.model import CONTROL_SAMPLER, SamplerConfig

DEFAULT_CHECKPOINT = Path(cosmos_sim.__file__).resolve().parent / "zoo" / "wfm_pushblock"
"""The shipped PushBlock world model (``cosmos-sim train wfm +experiment=pushblock`` writes it)."""
RESET_SOURCES = ("mujoco", "dataset")
START_OPTIONS = frozenset({"frames", "actions", "goal"})
"""Reset options that hand over a start; any other option goes to the MuJoCo scene's ``reset``."""


def resolve_checkpoint(checkpoint: str | Path | None) -> Path:
    """The world model folder to load; a clear FileNotFoundError when there is none."""
    path = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
    if path.is_file():
        raise FileNotFoundError(
            f"world model checkpoint {path} is a file: pass the folder that holds the model's config.json "
            f"and weights ({path.parent} if this is one of them)"
        )
    if not (path / "config.json").is_file():
        which = "the default world model checkpoint" if checkpoint is None else "world model checkpoint"
        raise FileNotFoundError(
            f"{which} {path} does not exist (no config.json): pass checkpoint=<folder of a saved world "
            f"model> (--checkpoint on the command line), or train one with `cosmos-sim train wfm +experiment=pushblock`"
        )
    return path


def _sampler(owner: str, sampler: SamplerConfig | dict | None) -> SamplerConfig:
    """``sampler`` as a SamplerConfig: None is ``CONTROL_SAMPLER``, a dict changes fields of it."""
    if sampler is None:
        return CONTROL_SAMPLER
    if isinstance(sampler, dict):
        unknown = sorted(set(sampler) - {f.name for f in dataclasses.fields(SamplerConfig)})
        if unknown:
            raise ValueError(
                f"{owner}: unknown sampler field(s) {unknown}; SamplerConfig has "
                f"{[f.name for f in dataclasses.fields(SamplerConfig)]}"
            )
        return dataclasses.replace(CONTROL_SAMPLER, **sampler)
    if not isinstance(sampler, SamplerConfig):
        raise ValueError(
            f"{owner}: sampler must be a SamplerConfig, a dict of its fields or None, got {sampler!r}"
        )
    return sampler


@dataclass
class Start:
    """Where one episode begins."""

    frames: np.ndarray
    """uint8 (1 + k*n, H, W, 3): the observed frames, oldest first."""
    actions: np.ndarray
    """float32 (k*n, A): the action applied from each frame to the next (one per frame, held per interval)."""
    goal: np.ndarray
    """float64 (G,): the task's goal."""


class _DecoderStream:
    """One streaming decoder over the sub-envs whose episodes started in the same reset call."""

    def __init__(self, decoder: StreamingDecoder, rows: np.ndarray) -> None:
        self.decoder = decoder
        self.rows = rows  # sub-env index of each batch row of the stream
        self.live = np.ones(len(rows), dtype=bool)  # False once that sub-env has reset into another stream


def _as_numbers(what: str, value: Any) -> np.ndarray:
    """``value`` (actions, a goal) as a float64 array, or a ValueError naming ``what`` it was."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be numbers, got {value!r} ({error})") from error


class WorldModelCore:
    """``num_envs`` episodes of a world model imitating a MuJoCo scene; see the module docstring."""

    def __init__(
        self,
        num_envs: int,
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
        owner: str = "WorldModelEnv",
    ) -> None:
        self.owner = owner
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"{owner}: num_envs must be a positive integer, got {num_envs!r}")
        if reset_source not in RESET_SOURCES:
            raise ValueError(f"{owner}: reset_source must be one of {RESET_SOURCES}, got {reset_source!r}")
        if (reset_source == "dataset") != (dataset is not None):
            raise ValueError(
                f"{owner}: a dataset folder goes with reset_source='dataset' and only with it, got "
                f"reset_source={reset_source!r}, dataset={dataset!r}"
            )
        self.num_envs = int(num_envs)
        self.reset_source = reset_source

        # ---- the model; a checkpoint of another task is refused by load_world_model, naming both
        path = resolve_checkpoint(checkpoint)
        config, _ = read_world_model_config(path)
        self.task_env_id = task_env_id if task_env_id is not None else config.task
        sampler = _sampler(owner, sampler)
        if not isinstance(terminate_on_success, bool):
            raise ValueError(
                f"{owner}: terminate_on_success must be True or False, got {terminate_on_success!r}"
            )
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.world = load_world_model(
            path,
            task=self.task_env_id,
            sampler=sampler,
            device=device,
            bf16=bf16,
            compile=compile,
        )
        self.checkpoint = path
        k, window = self.world.actions_per_step, self.world.config.window
        tok = self.world.tokenizer.config
        height, width = (s * tok.spatial_compression for s in self.world.config.latent_size)
        self.frames_per_step, self.context = k, window - 1

        # ---- the scene it imitates: spaces, control period, starts, task rules
        scene_kwargs: dict[str, Any] = {"task": task} if task is not None else {}
        if terminate_on_success:
            scene_kwargs["terminate_on_success"] = True
        self.scene = gym.make(
            self.task_env_id,
            width=width,
            height=height,
            frames_per_step=k,
            render_mode="rgb_array",
            **scene_kwargs,
        ).unwrapped
        scene_name = type(self.scene).__name__
        if not (hasattr(self.scene, "task") and hasattr(self.scene, "goal")):
            raise ValueError(
                f"{owner}: {self.task_env_id} ({scene_name}) has no task (reward, success) and goal to "
                "imitate; world-model envs wrap goal-conditioned scenes such as cosmos_sim/PushBlock-v0"
            )
        self.task = self.scene.task
        self.terminate_on_success = bool(getattr(self.scene, "terminate_on_success", False))
        self.observation_space = self.scene.observation_space
        self.action_space = self.scene.action_space
        if self.action_space.shape != (self.world.action_dim,):
            raise ValueError(
                f"{owner}: the world model takes {self.world.action_dim}-dim actions, {self.task_env_id} "
                f"has the action space {self.action_space}"
            )
        state_dim = self.scene.task_state().shape[0]
        if state_dim != self.world.config.state_dim:
            raise ValueError(
                f"{owner}: the world model predicts a {self.world.config.state_dim}-dim state, "
                f"{self.task_env_id}'s task state has {state_dim}"
            )
        self.goal_dim = int(np.asarray(self.scene.goal).size)
        self.height, self.width = height, width
        self.fps, self.dt = self.scene.fps, self.scene.dt
        spec = gym.spec(self.task_env_id)
        self.scene_max_episode_steps = spec.max_episode_steps

        self.dataset = None
        if dataset is not None:
            self.dataset = self._open_dataset(dataset)

        # ---- per-sub-env episode state (rows filled by reset)
        n, c = self.num_envs, self.world.config.latent_channels
        h, w = self.world.config.latent_size
        dev = self.world.device
        self.latents = torch.zeros(n, c, self.context, h, w, device=dev)  # (N, C, window-1, h, w) normalized
        self.actions = torch.zeros(
            n, self.context - 1, k, self.world.action_dim, device=dev
        )  # (N, window-2, k, A)
        self.goals = np.zeros((n, self.goal_dim))
        self.last_frames = np.zeros((n, height, width, 3), dtype=np.uint8)
        self.started = np.zeros(n, dtype=bool)
        self.generators: list[torch.Generator | None] = [None] * n
        self.streams: list[_DecoderStream] = []

    def _open_dataset(self, root: str | Path):
        from cosmos_sim.data.lerobot import EpisodeDataset
        from cosmos_sim.data.recording import GOAL_KEY, VIDEO_KEY

        data = EpisodeDataset(root)
        missing = [key for key in (VIDEO_KEY, GOAL_KEY) if key not in data.features]
        if missing:
            raise ValueError(f"{self.owner}: dataset {root} lacks {missing}, which starts are read from")
        shape = tuple(data.features[VIDEO_KEY].shape)
        if shape != (self.height, self.width, 3):
            raise ValueError(
                f"{self.owner}: dataset {root} has {shape} frames, the world model takes "
                f"{(self.height, self.width, 3)}"
            )
        return data

    # ---- input checks -------------------------------------------------------------------------------

    def check_actions(self, actions: Any, shape: tuple[int, ...]) -> np.ndarray:
        """Validate actions of ``shape`` (the single or batched action space) and clip them to the space,
        as the MuJoCo scenes do; float32."""
        arr = _as_numbers(f"{self.owner}.step: actions", actions)
        if arr.shape != tuple(shape):
            raise ValueError(f"{self.owner}.step: actions must have shape {tuple(shape)}, got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{self.owner}.step: actions contain NaN or inf: {arr.tolist()}")
        return np.clip(arr, self.action_space.low, self.action_space.high).astype(self.action_space.dtype)

    def parse_options(self, options: dict | None, batch: int | None) -> tuple[list[Start] | None, dict]:
        """Split reset options into given starts (one per sub-env; None: draw them) and scene options.

        ``batch`` is None for the single env (arrays without a leading axis) or the number of sub-envs.
        """
        if options is not None and not isinstance(options, dict):
            raise ValueError(
                f"{self.owner}.reset: options must be a dict or None, got {type(options).__name__}"
            )
        options = dict(options or {})
        if "frames" not in options:
            if "actions" in options:
                raise ValueError(f"{self.owner}.reset: options['actions'] goes with options['frames']")
            if options and self.reset_source != "mujoco":
                raise ValueError(
                    f"{self.owner}.reset: options {sorted(options)} are MuJoCo scene options; "
                    f"reset_source={self.reset_source!r} does not take them"
                )
            return None, options
        unknown = set(options) - START_OPTIONS
        if unknown:
            raise ValueError(
                f"{self.owner}.reset: options {sorted(unknown)} do not go with options['frames']; "
                f"a given start takes {sorted(START_OPTIONS)}"
            )
        lead = () if batch is None else (batch,)
        lead_text = "" if batch is None else f"N={batch}, "
        k, a = self.frames_per_step, self.world.action_dim
        frames = options["frames"]
        shape = np.shape(frames) if isinstance(frames, (np.ndarray, torch.Tensor)) else None
        dtype = getattr(frames, "dtype", type(frames).__name__)
        if (
            not isinstance(frames, np.ndarray)
            or frames.dtype != np.uint8
            or frames.ndim != len(lead) + 4
            or frames.shape[: len(lead)] != lead
            or frames.shape[len(lead) + 1 :] != (self.height, self.width, 3)
            or (frames.shape[len(lead)] - 1) % k
        ):
            raise ValueError(
                f"{self.owner}.reset: options['frames'] must be a uint8 numpy array of shape "
                f"({lead_text}1 + {k}*n, {self.height}, {self.width}, 3), got {dtype} {shape}"
            )
        t = frames.shape[len(lead)]
        actions = options.get("actions")
        if actions is None and t > 1:
            raise ValueError(
                f"{self.owner}.reset: {t} frames need the {t - 1} actions between them in options['actions']"
            )
        actions = (
            np.zeros((*lead, t - 1, a))
            if actions is None
            else _as_numbers(f"{self.owner}.reset: options['actions']", actions)
        )
        if actions.shape != (*lead, t - 1, a) or not np.all(np.isfinite(actions)):
            raise ValueError(
                f"{self.owner}.reset: options['actions'] must be finite, of shape ({lead_text}{t - 1}, {a}), "
                f"got shape {actions.shape}"
            )
        actions = np.clip(actions, self.action_space.low, self.action_space.high).astype(np.float32)
        if "goal" not in options:
            raise ValueError(f"{self.owner}.reset: options['frames'] need options['goal'] ({self.goal_dim},)")
        goal = _as_numbers(f"{self.owner}.reset: options['goal']", options["goal"])
        if goal.shape != (*lead, self.goal_dim) or not np.all(np.isfinite(goal)):
            raise ValueError(
                f"{self.owner}.reset: options['goal'] must be finite, of shape ({lead_text}{self.goal_dim},), "
                f"got shape {goal.shape}"
            )
        check_goal = getattr(self.scene, "check_goal", None)  # the scene's own rule, where it has one
        if check_goal is not None:
            for i, row in enumerate(goal.reshape(-1, self.goal_dim)):
                check_goal(
                    row, f"{self.owner}.reset: options['goal']" + (f"[{i}]" if batch is not None else "")
                )
        if batch is None:
            return [Start(frames, actions, goal)], {}
        return [Start(frames[i], actions[i], goal[i]) for i in range(batch)], {}

    # ---- starts ------------------------------------------------------------------------------------

    def _draw_start(self, rng: np.random.Generator, scene_options: dict) -> Start:
        no_actions = np.zeros((0, self.world.action_dim), dtype=np.float32)
        if self.dataset is not None:
            from cosmos_sim.data.recording import GOAL_KEY, VIDEO_KEY

            episode = int(rng.integers(self.dataset.num_episodes))
            row = self.dataset.load_episode(episode, [VIDEO_KEY, GOAL_KEY], rows=(0, 1))
            return Start(row[VIDEO_KEY], no_actions, row[GOAL_KEY][0].astype(np.float64))
        seed = int(rng.integers(np.iinfo(np.int64).max))
        frame, info = self.scene.reset(seed=seed, options=scene_options)
        return Start(frame[None], no_actions, np.asarray(info["goal"], dtype=np.float64).copy())

    def _padded(self, start: Start) -> Start:
        """The start preceded by its first frame held still under a zero action, to a full context."""
        k = self.frames_per_step
        missing = self.context - 1 - (start.frames.shape[0] - 1) // k  # intervals short of window - 1 frames
        if missing <= 0:
            return start
        still = np.repeat(start.frames[:1], missing * k, axis=0)
        rest = np.zeros((missing * k, self.world.action_dim), dtype=np.float32)
        return Start(np.concatenate([still, start.frames]), np.concatenate([rest, start.actions]), start.goal)

    # ---- reset and step ----------------------------------------------------------------------------

    @torch.no_grad()
    def reset(
        self,
        rows: Sequence[int],
        rngs: Sequence[np.random.Generator],
        starts: list[Start] | None,
        scene_options: dict,
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Begin new episodes in sub-envs ``rows``: -> observations uint8 (R, H, W, 3) and infos."""
        rows = np.asarray(rows, dtype=np.int64)
        if starts is None:
            starts = [self._draw_start(rng, scene_options) for rng in rngs]
        for row, rng in zip(rows, rngs, strict=True):
            self.generators[row] = torch.Generator().manual_seed(int(rng.integers(np.iinfo(np.int64).max)))
        starts = [self._padded(s) for s in starts]
        for stream in self.streams:
            stream.live &= ~np.isin(stream.rows, rows)
        self.streams = [s for s in self.streams if s.live.any()]

        obs = np.empty((len(rows), self.height, self.width, 3), dtype=np.uint8)
        lengths = np.array([s.frames.shape[0] for s in starts])
        for length in np.unique(lengths):  # one encode and one stream per clip length
            group = np.flatnonzero(lengths == length)
            frames = np.stack([starts[i].frames for i in group])  # (R', T, H, W, 3)
            actions = np.stack([starts[i].actions for i in group]) if length > 1 else None
            state = self.world.encode(frames, actions)
            decoder = self.world.tokenizer.stream_decoder()
            self.streams.append(_DecoderStream(decoder, rows[group]))
            decoded = self._push(decoder, state.latents)  # (R', T, H, W, 3)
            obs[group] = decoded[:, -1]
            index = torch.as_tensor(rows[group], device=self.world.device)
            self.latents[index] = state.latents[:, :, -self.context :]
            self.actions[index] = state.actions[:, state.actions.shape[1] - (self.context - 1) :]
        self.goals[rows] = np.stack([s.goal for s in starts])
        self.last_frames[rows] = obs
        self.started[rows] = True
        states = self._predict_state(self.latents[torch.as_tensor(rows, device=self.world.device), :, -1:])
        success = self.task.success(states, self.goals[rows])
        infos = [
            {"state": states[i], "goal": self.goals[row].copy(), "is_success": bool(success[i])}
            for i, row in enumerate(rows)
        ]
        return obs, infos

    @torch.no_grad()
    def step(
        self, rows: Sequence[int], actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """One control interval of sub-envs ``rows`` with checked actions (R, A), in one ``world.step``
        -> observations uint8 (R, H, W, 3), rewards (R,), terminated (R,), infos."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self.started[rows].all():
            raise RuntimeError(f"{self.owner}.step called before reset()")
        index = torch.as_tensor(rows, device=self.world.device)
        k = self.frames_per_step
        held = torch.as_tensor(actions, device=self.world.device)[:, None].expand(-1, k, -1)  # (R, k, A)
        state = LatentState(self.latents[index], self.actions[index])
        state = self.world.step(state, held, self._step_generator(rows))
        self.latents[index] = state.latents[:, :, -self.context :]
        self.actions[index] = state.actions[:, state.actions.shape[1] - (self.context - 1) :]
        new = state.latents[:, :, -1:]  # (R, C, 1, h, w)

        frames = self._decode_new(rows, new)  # (R, k, H, W, 3)
        obs = frames[:, -1].copy()
        self.last_frames[rows] = obs
        states = self._predict_state(new)
        goals = self.goals[rows]
        terms = self.task.reward_terms(states, goals)
        rewards = sum(terms.values())  # the MuJoCo env's sum, term by term in the same order
        success = self.task.success(states, goals)
        terminated = success & self.terminate_on_success
        infos = [
            {
                **{name: float(value[i]) for name, value in terms.items()},
                "goal": goals[i].copy(),
                "is_success": bool(success[i]),
                "state": states[i],
                "action": actions[i].copy(),
                "frames": frames[i],
            }
            for i in range(len(rows))
        ]
        return obs, np.asarray(rewards, dtype=np.float64), np.asarray(terminated, dtype=bool), infos

    def _step_generator(self, rows: np.ndarray) -> torch.Generator:
        """The generator of one batched ``world.step``, seeded by a draw from each stepped sub-env's own.

        ``world.step`` takes one generator for the whole batch, so the noise of one sub-env depends on
        which others share the call; each sub-env's generator (seeded at its reset) still makes the
        whole vector env reproducible from its seeds, and a single env exactly from its one seed.
        """
        draws = [int(torch.randint(2**62, (), generator=self.generators[row])) for row in rows]
        seed = np.random.SeedSequence(draws).generate_state(1, np.uint64)[0]
        return torch.Generator().manual_seed(int(seed))

    def _predict_state(self, latents: torch.Tensor) -> np.ndarray:
        """Normalized latents (R, C, 1, h, w) -> task state float64 (R, S)."""
        return self.world.predict_state(latents)[:, 0].double().cpu().numpy()

    def _push(self, decoder: StreamingDecoder, latents: torch.Tensor) -> np.ndarray:
        """Normalized latents (B, C, T, h, w), the next chunk of a stream -> uint8 frames (B, T', H, W, 3)."""
        with self.world.decoder_autocast():  # every push of a stream in the same precision
            frames = decoder.push(self.world.model.denormalize_latents(latents))
        return model_to_frames(frames.clamp(-1, 1)).numpy()

    def _decode_new(self, rows: np.ndarray, new: torch.Tensor) -> np.ndarray:
        """The k frames of each stepped sub-env's new latent frame, through its episode's stream."""
        frames = np.empty((len(rows), self.frames_per_step, self.height, self.width, 3), dtype=np.uint8)
        position = {int(row): i for i, row in enumerate(rows)}
        for stream in self.streams:
            members = [j for j, row in enumerate(stream.rows) if stream.live[j] and int(row) in position]
            if not members:
                continue
            chunk = new.new_zeros((len(stream.rows), *new.shape[1:]))  # zeros for rows no longer in use
            source = [position[int(stream.rows[j])] for j in members]
            chunk[members] = new[source]
            frames[source] = self._push(stream.decoder, chunk)[members]
        return frames

    def close(self) -> None:
        self.scene.close()
