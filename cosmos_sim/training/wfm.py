"""``cosmos-sim train wfm``: train an action-conditioned diffusion world model in a frozen tokenizer's
latent space.

1. The recipe's episodes are recorded if missing (``cosmos_sim.data.scenes``), then encoded once with
   the frozen tokenizer into a latent cache (``LatentEpisodes``), keyed by the tokenizer's weights.
2. Each step samples windows of latent frames with the actions between them and the task state at
   each frame (plus, optionally, single latent frames: the joint image batch) and takes one AdamW step
   on the EDM loss of ``LatentDiffusionModel`` plus its state head's error. ``stages`` lengthen the
   windows as training progresses (short windows first: cheap steps while the model learns frames).
3. Under ``torchrun`` the model is wrapped by DDP or sharded by FSDP2 (``parallel``); every rank draws
   its own batches from (seed, rank, step), so a resumed run draws what the killed one would have.
4. An EMA of the weights is kept; checkpoints (``cosmos_sim.training.checkpoint``) hold weights, EMA,
   optimizer, step, elapsed time and RNG; metrics go to ``metrics.jsonl`` and TensorBoard, with a
   sample video (truth | prediction) every ``sample_every_minutes``.
5. The EMA weights are exported to ``out/model`` (``save_world_model``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm import tqdm

from cosmos_sim.configs import check_field_types, check_finite, check_sections, compose_recipe
from cosmos_sim.data.lerobot import EpisodeDataset
from cosmos_sim.data.scenes import SceneData, ensure_scene_datasets, scene_dataset_dir
from cosmos_sim.frames import frames_to_model
from cosmos_sim.tokenizers.checkpoint import load_tokenizer
from cosmos_sim.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from cosmos_sim.training.distributed import (
    agreed_max,
    full_state,
    load_full_state,
    mean_over_ranks,
    setup_distributed,
    teardown_distributed,
    wrap_for_training,
)
from cosmos_sim.training.ema import EMA
from cosmos_sim.training.run_folder import claim_run_folder
from cosmos_sim.training.state import warmup_cosine, warn_short_warmup
from cosmos_sim.training.tracking import RunLogger
from cosmos_sim.world_models.base import LatentState
from cosmos_sim.world_models.diffusion.checkpoint import (
    in_package,
    save_world_model,
    tokenizer_file_sha256,
    tokenizer_fingerprint,
)
from cosmos_sim.world_models.diffusion.config import DiffusionWorldModelConfig
from cosmos_sim.world_models.diffusion.model import CONTROL_SAMPLER, LatentDiffusionModel
from cosmos_sim.world_models.diffusion.world_model import DiffusionWorldModel

logger = logging.getLogger(__name__)


@dataclass
class WFMDataConfig:
    """Episodes, and the tokenizer that turns them into latents."""

    root: str = "outputs/data/wfm"
    """Folder of the scene datasets (``root/train/<scene>``) and the latent cache (``root/latents``)."""
    scenes: list[SceneData] = field(default_factory=list)
    """Scenes the model learns: one env (an action-conditioned task such as PushBlock) or several that
    share an action space (the passive-physics scenarios), each sampled by its ``weight``."""
    task: str = ""
    """The model's task, which its checkpoint carries and loaders check: by default the one scene's env
    id; required when the scenes are several envs (a family name such as ``cosmos_sim/Physics``)."""
    tokenizer: str = "cosmos_sim/zoo/cv4x8x8"
    """Folder of the frozen continuous tokenizer; a relative path that is not found from the working
    folder is looked up in the installed package (the zoo's ``cosmos_sim/zoo/...``)."""
    video_key: str = "observation.image"
    """Dataset features: frames, task state and actions."""
    state_key: str = "observation.state"
    action_key: str = "action"
    workers: int = 2
    """Processes recording missing episodes."""

    def __post_init__(self) -> None:
        check_field_types(self)
        self.tokenizer = str(in_package(self.tokenizer))  # a zoo path such as the default, from any folder
        self.scenes = [s if isinstance(s, SceneData) else SceneData(**s) for s in self.scenes]
        if not self.scenes:
            raise ValueError("WFMDataConfig.scenes is empty: name the task's scene")
        env_ids = sorted({s.env_id for s in self.scenes})
        names = [s.name for s in self.scenes]
        if len(set(names)) != len(names):
            raise ValueError(
                f"WFMDataConfig.scenes: two scenes share a dataset folder ({names}); give one env's second "
                f"scene its own `dataset` name"
            )
        if not self.task:
            if len(env_ids) > 1:
                raise ValueError(
                    f"WFMDataConfig.task: the scenes are several envs ({env_ids}); name the model's task "
                    f"(e.g. data.task=cosmos_sim/Physics)"
                )
            self.task = env_ids[0]


@dataclass
class WindowFocus:
    """A share of every batch drawn from the windows in which chosen task-state dimensions move: the
    events that are rare in the data and that a planner needs most. In held-out episodes of
    PushBlock's recipe scene the block moves by 1 cm or more in about 6% of latent steps
    (``scripts/contact_response.py``), and a model that sees it that seldom predicts a block that
    barely moves (docs/design/contact_dynamics.md).

    A window counts when any of its steps moves, the steps into its context frames included. With
    several scenes, focused windows are drawn from all of them alike (not by the scenes' weights), and
    ``dims`` index every scene's (zero-padded) state.
    """

    dims: list[int] = field(default_factory=list)
    """Watched task-state dimensions (PushBlock: 2 and 3, the block's x and y); empty: no focus."""
    min_change: float = 0.0
    """A window is focused when the watched dimensions move by at least this much (norm, in the state's
    own units) between two consecutive latent frames of the window."""
    fraction: float = 0.0
    """Expected share of each batch drawn from the focused windows; the rest is drawn as without focus."""

    def __post_init__(self) -> None:
        if isinstance(self.dims, (int, float, str)):
            raise ValueError(f"WindowFocus.dims must be a list of state dimensions, got {self.dims!r}")
        self.dims = list(self.dims)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in self.dims):
            raise ValueError(f"WindowFocus.dims must be state dimensions (integers >= 0), got {self.dims}")
        check_field_types(self)  # after the dims checks, whose messages say more
        if not 0 <= self.fraction < 1 or self.min_change < 0:
            raise ValueError(
                f"WindowFocus: need 0 <= fraction < 1 and min_change >= 0; got fraction {self.fraction}, "
                f"min_change {self.min_change}"
            )
        if self.fraction > 0 and not self.dims:
            raise ValueError("WindowFocus: a fraction > 0 needs the state dims to watch (focus.dims)")
        if self.fraction > 0 and not self.min_change > 0:
            raise ValueError(
                "WindowFocus: a fraction > 0 needs min_change > 0 (with 0 every window is focused)"
            )

    @property
    def enabled(self) -> bool:
        return self.fraction > 0


@dataclass
class OptimizerConfig:
    """AdamW with linear warm-up and a cosine decay."""

    lr: float = 3e-4
    """Peak learning rate."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    betas: tuple[float, float] = (0.9, 0.99)
    """AdamW betas."""
    warmup_steps: int = 100
    """Linear warm-up steps."""
    final_lr_fraction: float = 0.05
    """Learning rate at the end of the cosine, as a fraction of ``lr``."""
    grad_clip: float = 1.0
    """Gradient norm clip."""

    def __post_init__(self) -> None:
        check_field_types(self)
        self.betas = tuple(self.betas)
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"OptimizerConfig.betas must be two numbers in [0, 1), got {list(self.betas)}")
        if self.warmup_steps < 1:
            raise ValueError(f"OptimizerConfig.warmup_steps must be >= 1, got {self.warmup_steps}")
        check_finite(self, "lr", "grad_clip", above=0)
        check_finite(self, "weight_decay", at_least=0)
        check_finite(self, "final_lr_fraction", at_least=0, at_most=1)


@dataclass
class StageConfig:
    """A progressive stage: until ``until`` of the run (its progress in [0, 1]), windows of ``window`` frames."""

    until: float
    window: int

    def __post_init__(self) -> None:
        check_field_types(self)


@dataclass
class WFMTrainConfig:
    """A world-model training run."""

    out: str
    """Run folder: checkpoints, metrics.jsonl, TensorBoard events, samples, and the model in ``out/model``."""
    model: DiffusionWorldModelConfig
    """Architecture (``tokenizer`` and the latent sizes are filled in from the tokenizer)."""
    data: WFMDataConfig
    """Training data."""
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    """Optimizer and schedule."""
    batch: int = 32
    """Windows per step (per process)."""
    image_batch: int = 0
    """Single latent frames per step (the joint image batch; 0 disables it)."""
    stages: list[StageConfig] = field(default_factory=list)
    """Progressive windows; empty: always ``model.window``."""
    focus: WindowFocus = field(default_factory=WindowFocus)
    """Oversampling of the windows in which chosen state dimensions move (off by default)."""
    ema_decay: float = 0.999
    """Decay of the weights' moving average (the exported weights)."""
    max_steps: int = 100_000
    """Stop after this many steps..."""
    max_minutes: float = 55.0
    """... or after this much training time, whichever comes first."""
    bf16: bool = True
    """bfloat16 autocast; weights, EMA and optimizer stay float32."""
    parallel: str = "ddp"
    """Under torchrun: ``ddp`` (replicate) or ``fsdp2`` (shard with ``fully_shard``)."""
    threads: int = 0
    """CPU threads per process (0: PyTorch's default)."""
    device: str = "auto"
    """``auto`` (CUDA if present), ``cpu`` or ``cuda``."""
    seed: int = 0
    """Seed of initialization and batch sampling."""
    save_every_minutes: float = 5.0
    """Interval between checkpoints."""
    log_every: int = 50
    """Steps between metric lines."""
    sample_every_minutes: float = 15.0
    """Interval between sample videos (0 disables them)."""

    def __post_init__(self) -> None:
        check_field_types(self)
        if isinstance(self.model, dict):
            self.model = DiffusionWorldModelConfig.from_dict(self.model)
        if isinstance(self.data, dict):
            self.data = WFMDataConfig(**self.data)
        if isinstance(self.optimizer, dict):
            self.optimizer = OptimizerConfig(**self.optimizer)
        if isinstance(self.focus, dict):
            self.focus = WindowFocus(**self.focus)
        check_sections(
            self,
            {
                "model": DiffusionWorldModelConfig,
                "data": WFMDataConfig,
                "optimizer": OptimizerConfig,
                "focus": WindowFocus,
            },
        )
        if not isinstance(self.stages, list):
            raise ValueError(f"WFMTrainConfig.stages must be a list of stages, got {self.stages!r}")
        self.stages = [s if isinstance(s, StageConfig) else StageConfig(**s) for s in self.stages]
        for stage in self.stages:
            if not 2 <= stage.window <= self.model.window or not 0 < stage.until <= 1:
                raise ValueError(
                    f"stages: each needs 2 <= window <= model.window ({self.model.window}) and 0 < until <= 1, "
                    f"got {stage}"
                )
        for name in ("batch", "max_steps", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"WFMTrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.ema_decay < 1:  # NaN fails too
            raise ValueError(f"WFMTrainConfig.ema_decay must be in [0, 1), got {self.ema_decay}")
        check_finite(self, "max_minutes", above=0)
        check_finite(self, "image_batch", "threads", "save_every_minutes", "sample_every_minutes", at_least=0)
        warn_short_warmup(self.optimizer.warmup_steps, self.max_steps)
        if self.parallel not in ("ddp", "fsdp2"):
            raise ValueError(f"WFMTrainConfig.parallel must be 'ddp' or 'fsdp2', got {self.parallel!r}")

    def window_at(self, progress: float) -> int:
        for stage in self.stages:
            if progress < stage.until:
                return stage.window
        return self.model.window

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["model"] = self.model.to_dict()
        return out


class LatentEpisodes:
    """Every training episode as tokenizer latents, the actions between latent frames and the state at
    each, in memory; built once per (dataset, tokenizer) and cached as safetensors."""

    def __init__(
        self,
        latents: list[torch.Tensor],
        actions: list[torch.Tensor],
        states: list[torch.Tensor],
        source: str = "",
        weights: torch.Tensor | None = None,
    ) -> None:
        self.latents = latents  # per episode: float (C, 1 + n, h, w)
        self.actions = actions  # per episode: float (n, k, A)
        self.states = states  # per episode: float (1 + n, S)
        self.source = source  # fingerprint of the dataset and keys these were encoded from ("": unknown)
        self.weights = weights  # per episode sampling weight; None: uniform
        self._focused: dict[tuple, torch.Tensor] = {}  # (window, dims, min_change) -> (M, 2) windows

    @classmethod
    def combine(cls, parts: list[LatentEpisodes], weights: list[float]) -> LatentEpisodes:
        """Several scenes' episodes as one set; scene ``i`` is drawn with probability proportional to
        ``weights[i]`` (whatever its episode count). Scenes whose task states differ in width (the
        physics scenarios hold 7 numbers per object) get them zero-padded to the widest."""
        if len(parts) == 1:
            return parts[0]
        shapes = {(p.latents[0].shape[0], *p.latents[0].shape[2:], *p.actions[0].shape[1:]) for p in parts}
        if len(shapes) != 1:
            raise ValueError(
                f"train wfm: the scenes' latents and actions differ in shape ({sorted(shapes)}); one model "
                f"needs one frame size and one action space"
            )
        width = max(p.states[0].shape[-1] for p in parts)
        latents, actions, states, episode_weights = [], [], [], []
        for part, weight in zip(parts, weights, strict=True):
            latents += part.latents
            actions += part.actions
            states += [F.pad(s, (0, width - s.shape[-1])) for s in part.states]
            episode_weights += [weight / len(part.latents)] * len(part.latents)
        return cls(latents, actions, states, weights=torch.tensor(episode_weights, dtype=torch.float64))

    @classmethod
    @torch.no_grad()
    def build(
        cls, dataset_dir: Path, tokenizer_dir: str | Path, data: WFMDataConfig, cache: Path
    ) -> LatentEpisodes:
        dataset = EpisodeDataset(dataset_dir)
        source = _dataset_fingerprint(dataset_dir, data)
        if cache.is_file():
            try:
                cached = cls.load(cache)
            except ValueError as error:  # derived data: rebuild it rather than stop the run
                logger.warning("%s; encoding the dataset again", error)
            else:
                if cached.source == source:
                    return cached  # else the dataset was re-recorded or grew, or other keys are read
        tokenizer = load_tokenizer(tokenizer_dir)
        k = tokenizer.config.temporal_compression
        missing = {data.video_key, data.state_key, data.action_key} - set(dataset.features)
        if missing:
            raise ValueError(
                f"{dataset_dir}: missing features {sorted(missing)}; it has {sorted(dataset.features)}"
            )
        latents, actions, states = [], [], []
        for i in tqdm(range(len(dataset)), desc=f"encoding {dataset_dir.name}", leave=False):
            episode = dataset.load_episode(i, keys=[data.video_key, data.state_key, data.action_key])
            n = (episode[data.video_key].shape[0] - 1) // k
            if n < 1:
                continue
            frames = frames_to_model(episode[data.video_key][: 1 + k * n])
            latents.append(tokenizer.encode(frames)[0].float())  # (C, 1 + n, h, w)
            actions.append(torch.tensor(episode[data.action_key][: k * n]).float().unflatten(0, (n, k)))
            states.append(torch.tensor(episode[data.state_key][::k][: 1 + n]).float())
        if not latents:
            raise ValueError(f"{dataset_dir}: no episode has {1 + k} frames or more")
        result = cls(latents, actions, states, source=source)
        result.save(cache)
        return result

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        lengths = torch.tensor([z.shape[1] for z in self.latents])
        tensors = {
            "lengths": lengths,
            "latents": torch.cat(self.latents, dim=1).contiguous(),
            "actions": torch.cat(self.actions).contiguous(),
            "states": torch.cat(self.states).contiguous(),
        }
        tmp = path.with_suffix(".tmp")
        save_file(tensors, str(tmp), metadata={"source": self.source})
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LatentEpisodes:
        try:
            with safe_open(str(path), "pt") as file:
                source = (file.metadata() or {}).get("source", "")
                t = {key: file.get_tensor(key) for key in ("lengths", "latents", "actions", "states")}
            lengths = t["lengths"].tolist()
            return cls(
                list(t["latents"].split(lengths, dim=1)),
                list(t["actions"].split([n - 1 for n in lengths])),
                list(t["states"].split(lengths)),
                source=source,
            )
        except Exception as error:  # a truncated file, a missing tensor, inconsistent lengths
            raise ValueError(
                f"latent cache {path} is unreadable ({type(error).__name__}: {error})"
            ) from error

    def statistics(self) -> tuple[torch.Tensor, ...]:
        """Per-channel latent mean/std and per-dimension state mean/std over every frame."""
        z = torch.cat(self.latents, dim=1).flatten(1)  # (C, N)
        s = torch.cat(self.states)  # (N, S)
        return z.mean(1), z.std(1).clamp_min(1e-6), s.mean(0), s.std(0).clamp_min(1e-6)

    def focused_windows(self, window: int, focus: WindowFocus) -> torch.Tensor:
        """(episode, start) of every window of ``window`` latent frames in which the state dimensions
        ``focus.dims`` move by at least ``focus.min_change`` between two consecutive frames: (M, 2)."""
        key = (window, tuple(focus.dims), focus.min_change)
        if key not in self._focused:
            width = self.states[0].shape[-1]
            if window < 2 or not focus.dims:
                raise ValueError(
                    f"focused_windows: needs a window of >= 2 latent frames and state dims to watch, got "
                    f"window {window}, dims {focus.dims}"
                )
            if max(focus.dims) >= width:
                raise ValueError(
                    f"focus.dims {focus.dims}: the task state has {width} dimensions (0 .. {width - 1})"
                )
            found = []
            for e, s in enumerate(self.states):
                if s.shape[0] < window:
                    continue
                moved = (s[1:, focus.dims] - s[:-1, focus.dims]).norm(dim=-1) >= focus.min_change  # (n,)
                # window [start, start + window) holds the steps start .. start + window - 2
                any_step = F.max_pool1d(moved.float()[None, None], window - 1, stride=1)[0, 0] > 0
                found += [(e, start) for start in torch.nonzero(any_step).flatten().tolist()]
            if not found:
                raise ValueError(
                    f"focus: no window of {window} latent frames has state dims {focus.dims} moving by "
                    f">= {focus.min_change}; lower focus.min_change or set focus.fraction=0"
                )
            self._focused[key] = torch.tensor(found, dtype=torch.long)
        return self._focused[key]

    def sample(
        self, count: int, window: int, generator: torch.Generator, focus: WindowFocus | None = None
    ) -> tuple[torch.Tensor, ...]:
        """``count`` windows: latents (B, C, W, h, w), actions (B, W-1, k, A), states (B, W, S).

        With ``focus`` (and ``window`` > 1), ``count * focus.fraction`` of them on average (its integer
        part, plus one with the probability of its fraction, so small batches keep the share) are drawn
        uniformly from ``focused_windows``, the rest as without it.
        """
        starts: list[tuple[int, int]] = []
        if focus is not None and focus.enabled and window > 1:
            focused = self.focused_windows(window, focus)
            share = count * focus.fraction
            n_focused = int(share) + int(float(torch.rand((), generator=generator)) < share - int(share))
            picks = torch.randint(len(focused), (n_focused,), generator=generator)
            starts = [tuple(focused[i].tolist()) for i in picks]
        starts += self._uniform_windows(count - len(starts), window, generator)
        zs = [self.latents[e][:, start : start + window] for e, start in starts]
        acts = [self.actions[e][start : start + window - 1] for e, start in starts]  # into frames start+1 ..
        sts = [self.states[e][start : start + window] for e, start in starts]
        return torch.stack(zs), torch.stack(acts), torch.stack(sts)

    def _uniform_windows(self, count: int, window: int, generator: torch.Generator) -> list[tuple[int, int]]:
        """(episode, start) of ``count`` windows: episodes by their weights, starts uniform."""
        if count == 0:
            return []
        eligible = [i for i, z in enumerate(self.latents) if z.shape[1] >= window]
        if not eligible:
            raise ValueError(f"no episode has {window} latent frames")
        if self.weights is None:
            picks = torch.randint(len(eligible), (count,), generator=generator).tolist()
        else:
            weights = self.weights[eligible]
            picks = torch.multinomial(weights, count, replacement=True, generator=generator).tolist()
        starts = []
        for pick in picks:
            e = eligible[pick]
            starts.append(
                (e, int(torch.randint(self.latents[e].shape[1] - window + 1, (1,), generator=generator)))
            )
        return starts


def _dataset_fingerprint(dataset_dir: Path, data: WFMDataConfig) -> str:
    """What a latent cache was encoded from: the dataset's metadata (its settings, episode index and
    statistics change whenever episodes are recorded again or added) and the keys read from it."""
    digest = hashlib.sha256(f"{data.video_key}|{data.state_key}|{data.action_key}".encode())
    meta = dataset_dir / "meta"
    for file in sorted(p for p in meta.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(meta)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def _episode_cache(data: WFMDataConfig, scene: SceneData, tokenizer_dir: str) -> Path:
    return (
        Path(data.root) / "latents" / f"{scene.name}-{tokenizer_fingerprint(tokenizer_dir)[:16]}.safetensors"
    )


@torch.no_grad()
def _sample_video(
    model: LatentDiffusionModel, tokenizer_dir: str, data: LatentEpisodes, window: int
) -> np.ndarray:
    """Truth | prediction, uint8 (T, H, 2W, 3): 1 context latent frame, then window - 1 predicted ones."""
    # On the model's own device: DiffusionWorldModel moves the module it is given.
    device = next(model.parameters()).device
    world = DiffusionWorldModel(model, load_tokenizer(tokenizer_dir), sampler=CONTROL_SAMPLER, device=device)
    latents, actions, _ = data.sample(1, window, torch.Generator().manual_seed(7))
    truth = model.normalize_latents(latents)
    start = LatentState(truth[:, :, :1], actions[:, :0])
    predicted = world.rollout(start, actions, torch.Generator().manual_seed(0))
    both = [world.decode(torch.cat([truth[:, :, :1], z], dim=2))[0] for z in (truth[:, :, 1:], predicted)]
    return np.concatenate(both, axis=2)


def train_wfm(config: WFMTrainConfig, *, progress: bool = True) -> Path:
    """Train (or resume) the run in ``config.out``; return the folder of the exported model."""
    context = setup_distributed(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    torch.manual_seed(config.seed)
    device, data_cfg = context.device, config.data
    tok_cfg = load_tokenizer(data_cfg.tokenizer).config
    if tok_cfg.kind != "CV":
        raise ValueError(
            f"train wfm: {data_cfg.tokenizer} is a {tok_cfg.name} tokenizer; the diffusion model needs CV"
        )
    model_cfg = dataclasses.replace(
        config.model,
        latent_channels=tok_cfg.latent_dim,
        actions_per_latent=tok_cfg.temporal_compression,
        tokenizer=tokenizer_fingerprint(data_cfg.tokenizer),
        task=data_cfg.task,
    )

    caches = [_episode_cache(data_cfg, scene, data_cfg.tokenizer) for scene in data_cfg.scenes]
    if context.is_main:
        # The tokenizer by its whole weights file too: one retrained in place, even its decoder only,
        # changes the latents or the sample videos under the run.
        recipe = {**config.to_dict(), "tokenizer_sha256": tokenizer_file_sha256(data_cfg.tokenizer)}
        claim_run_folder(out, "wfm", recipe, paths=("data.root", "data.tokenizer"))
        ensure_scene_datasets(
            data_cfg.root, data_cfg.scenes, "train", workers=data_cfg.workers, progress=progress
        )
        for scene, cache in zip(data_cfg.scenes, caches, strict=True):
            LatentEpisodes.build(
                scene_dataset_dir(data_cfg.root, scene, "train"), data_cfg.tokenizer, data_cfg, cache
            )
    if context.world_size > 1:
        torch.distributed.barrier()  # the other ranks wait for the recorded data and the latent cache
    data = LatentEpisodes.combine(
        [LatentEpisodes.load(cache) for cache in caches], [scene.weight for scene in data_cfg.scenes]
    )
    if config.focus.enabled:  # a focus that matches nothing is an error now, not at its stage's first step
        for window in {config.model.window, *(stage.window for stage in config.stages)}:
            found = len(data.focused_windows(window, config.focus))
            if context.is_main:
                logger.info("focus: %d windows of %d latent frames hold a watched move", found, window)
    example = data.latents[0]
    model_cfg = dataclasses.replace(
        model_cfg, latent_size=tuple(example.shape[2:]), action_dim=data.actions[0].shape[-1]
    )
    model_cfg = dataclasses.replace(model_cfg, state_dim=data.states[0].shape[-1])

    torch.manual_seed(config.seed)  # the same initial weights on every rank, cache built or not
    model = LatentDiffusionModel(model_cfg)
    model.set_statistics(*data.statistics())
    model.to(device)
    ema = EMA(model, config.ema_decay)
    trained = wrap_for_training(model, context, config.parallel, shard=list(model.dit.blocks))
    opt = config.optimizer
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=opt.lr, betas=opt.betas, weight_decay=opt.weight_decay
    )

    step, elapsed = 0, 0.0
    checkpoint = latest_checkpoint(out)
    if checkpoint is not None:
        state = load_checkpoint(checkpoint)
        try:
            load_full_state(model, optimizer, state["model"], state["optimizer"])
            ema.load_state_dict(state["ema"])
        except (RuntimeError, KeyError, ValueError) as error:
            raise ValueError(
                f"cannot resume from {checkpoint}: {error}. It was written by another model or config; "
                f"train into a new folder or delete {out / 'checkpoints'} (and {out / 'model'}, if it finished) "
                f"to start over"
            ) from error
        step, elapsed = state["step"], state["trainer"]["elapsed_s"]
        if context.is_main:
            logger.info("resuming %s at step %d (%.1f min trained)", out, step, elapsed / 60)

    run_log = RunLogger(out, enabled=context.is_main)
    budget_s = config.max_minutes * 60
    bar = tqdm(total=config.max_steps, initial=step, disable=not (progress and context.is_main), desc="wfm")
    # Save and sample times are in training time (``elapsed``, the same on every rank).
    next_save = elapsed + config.save_every_minutes * 60
    next_sample = elapsed + config.sample_every_minutes * 60

    saved_step = step  # the checkpoint resumed from (or none yet at step 0)

    def save() -> None:
        nonlocal saved_step
        if step == saved_step and step > 0:
            return  # already saved: rewriting it would briefly remove the folder ``latest`` names
        saved_step = step
        model_state, optim_state = full_state(model, optimizer)  # every rank takes part (FSDP2 gathers)
        if context.is_main:
            save_checkpoint(
                out,
                step=step,
                model_state=model_state,
                ema_state=ema.state_dict(),
                optimizer_state=optim_state,
                trainer={"elapsed_s": elapsed, "world_size": context.world_size},
            )

    model.train()
    while step < config.max_steps and elapsed < budget_s:
        tick = time.monotonic()
        fraction = max(step / config.max_steps, elapsed / budget_s)
        lr = opt.lr * warmup_cosine(
            fraction, step, warmup_steps=opt.warmup_steps, final_fraction=opt.final_lr_fraction
        )
        for group in optimizer.param_groups:
            group["lr"] = lr
        generator = torch.Generator().manual_seed(hash((config.seed, context.rank, step)) % 2**63)
        window = config.window_at(fraction)
        latents, actions, states = data.sample(config.batch, window, generator, config.focus)
        batches = [(latents, actions, states)]
        if config.image_batch:
            batches.append(data.sample(config.image_batch, 1, generator))
        total, metrics = 0.0, {}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
            for name, (z, a, s) in zip(("video", "image"), batches, strict=False):
                z = model.normalize_latents(z.to(device))
                loss, parts = trained(z, a.to(device), model.normalize_states(s.to(device)), generator)
                total = total + loss
                metrics.update({f"{name}/{k}": v for k, v in parts.items()})
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), opt.grad_clip)
        if not torch.isfinite(grad_norm):
            raise RuntimeError(
                f"train wfm: non-finite gradient at step {step}; lower the lr (now {lr:.2e}) or disable bf16. "
                f"The last checkpoint is in {out / 'checkpoints'}"
            )
        optimizer.step()
        ema.update(model)
        step += 1
        elapsed = agreed_max(elapsed + time.monotonic() - tick, context)
        bar.update(1)

        if step % config.log_every == 0 or step == config.max_steps or elapsed >= budget_s:
            record = {"step": step, "minutes": round(elapsed / 60, 2), "lr": lr, "window": window}
            record.update({k: round(v, 5) for k, v in mean_over_ranks(metrics, context).items()})
            record["grad_norm"] = round(float(grad_norm), 4)
            run_log.scalars(record, step)
            bar.set_postfix(loss=f"{total.item():.4f}")
        if elapsed >= next_save and elapsed < budget_s:
            save()
            next_save = elapsed + config.save_every_minutes * 60
        if config.sample_every_minutes and elapsed >= next_sample:
            if context.is_main:
                video = _sample_video(ema.shadow, data_cfg.tokenizer, data, model_cfg.window)
                run_log.video("samples/truth_vs_prediction", video, step)
            next_sample = elapsed + config.sample_every_minutes * 60
    bar.close()
    save()

    final = out / "model"
    if context.is_main:
        run_log.video(
            "samples/truth_vs_prediction",
            _sample_video(ema.shadow, data_cfg.tokenizer, data, model_cfg.window),
            step,
        )
        metadata = {
            "recipe": config.to_dict(),
            "data": {
                "scenes": [dataclasses.asdict(s) for s in data_cfg.scenes],
                "split": "train",
                "episodes": len(data.latents),
            },
            "steps": step,
            "train_minutes": round(elapsed / 60, 2),
            "processes": context.world_size,
            "parallel": config.parallel,
            "device": str(device),
            "threads": torch.get_num_threads(),
            "num_parameters": sum(p.numel() for p in ema.shadow.parameters()),
            "weights": "EMA",
        }
        save_world_model(ema.shadow.cpu(), final, tokenizer_dir=data_cfg.tokenizer, metadata=metadata)
    run_log.close()
    teardown_distributed()
    return final


CONFIG_MODULE = "cosmos_sim.configs.wfm"


def load_wfm_config(overrides: list[str] | None = None, config_name: str = "train") -> WFMTrainConfig:
    """Compose ``cosmos_sim/configs/wfm/train.yaml`` and its groups (data, tokenizer, model, optimizer,
    experiment) with command-line overrides such as ``+experiment=pushblock`` or ``max_minutes=10``."""
    data = compose_recipe(CONFIG_MODULE, config_name, overrides, "train wfm")
    data.pop("experiment", None)
    tokenizer = data.pop("tokenizer", None)
    if tokenizer is not None:
        data.setdefault("data", {})["tokenizer"] = tokenizer["path"]
    try:
        return WFMTrainConfig(**data)
    except TypeError as error:
        raise ValueError(f"train wfm: {error}") from error
