"""``cosmos-sim train tokenizer``: train a causal CV or DV tokenizer on a mixture of MuJoCo scenes.

Each step draws a batch of video clips (``1 + k*n`` frames) and a batch of single frames (images are
1-frame videos, so the first-frame path sees as many samples as the rest), both from episodes of the
recipe's scenes, held in memory as uint8. The loss is ``ReconstructionLoss`` on both. The learning rate
warms up, then follows a cosine whose progress is the larger of the step fraction and the time
fraction, so a run capped by ``max_minutes`` still anneals. A divergence guard watches the PSNR on a
fixed monitor batch and, when it falls ``rollback_drop_db`` below the run's best, restores the best
model and optimizer and lowers the learning rate. The state is saved every few minutes and
at the end; running the same command again resumes. The result is a zoo-style checkpoint in
``out/model`` (safetensors + JSON config with the recipe and data in its metadata).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio
from tqdm import tqdm

from cosmos_sim.configs import check_field_types, check_finite, check_sections, compose_recipe
from cosmos_sim.data.lerobot import EpisodeDataset
from cosmos_sim.data.scenes import SceneData, ensure_scene_datasets, scene_dataset_dir
from cosmos_sim.frames import frames_to_model
from cosmos_sim.tokenizers.checkpoint import load_tokenizer, save_tokenizer
from cosmos_sim.tokenizers.config import TokenizerConfig
from cosmos_sim.tokenizers.losses import ReconstructionLoss, ReconstructionLossConfig
from cosmos_sim.tokenizers.tokenizer import CausalVideoTokenizer, build_tokenizer
from cosmos_sim.training.distributed import (
    agreed_max,
    setup_distributed,
    teardown_distributed,
    wrap_for_training,
)
from cosmos_sim.training.run_folder import claim_run_folder
from cosmos_sim.training.state import (
    load_training_state,
    save_training_state,
    warmup_cosine,
    warn_short_warmup,
)
from cosmos_sim.world_models.diffusion.checkpoint import in_package

logger = logging.getLogger(__name__)
_KEEP, _NEW_BEST, _ROLL_BACK = 0, 1, 2
"""The divergence guard's verdict at a monitor step (``TokenizerTrainConfig.rollback_drop_db``)."""
TRAINABLE_PARTS = {"all": None, "decoder": ("post_quant_conv.", "decoder.")}
"""``TokenizerTrainConfig.train``: the parameter-name prefixes trained (None: every parameter)."""


@dataclass
class TokenizerDataConfig:
    """Where the training episodes come from."""

    root: str = "outputs/data/tokenizer"
    """Folder of the scene datasets (``root/train/<scene>``); missing episodes are recorded first."""
    scenes: list[SceneData] = field(default_factory=list)
    """The scene mixture."""
    clip_frames: int = 17
    """Frames per training clip; must be ``1 + k*n`` for the model's k."""
    video_key: str = "observation.image"
    """Dataset feature holding the frames."""
    workers: int = 2
    """Processes recording missing episodes."""

    def __post_init__(self) -> None:
        check_field_types(self)
        self.scenes = [s if isinstance(s, SceneData) else SceneData(**s) for s in self.scenes]
        if not self.scenes:
            raise ValueError("TokenizerDataConfig.scenes is empty: name at least one scene")


@dataclass
class TokenizerTrainConfig:
    """A tokenizer training run."""

    out: str
    """Run folder: training state, metrics.jsonl and the final checkpoint in ``out/model``."""
    model: TokenizerConfig
    """Architecture."""
    data: TokenizerDataConfig
    """Training data."""
    loss: ReconstructionLossConfig = field(default_factory=ReconstructionLossConfig)
    """Loss weights."""
    video_batch: int = 8
    """Clips per step."""
    image_batch: int = 16
    """Single frames per step (0 disables the image batch)."""
    lr: float = 5e-4
    """Peak AdamW learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    warmup_steps: int = 100
    """Linear warm-up steps."""
    final_lr_fraction: float = 0.05
    """Learning rate at the end of the cosine, as a fraction of ``lr``."""
    max_steps: int = 100_000
    """Stop after this many steps..."""
    max_minutes: float = 55.0
    """... or after this much training time, whichever comes first."""
    grad_clip: float = 1.0
    """Gradient norm clip."""
    bf16: bool = True
    """bfloat16 autocast (AMX / tensor cores); weights and optimizer stay float32."""
    threads: int = 0
    """CPU threads for this process (0: PyTorch's default)."""
    device: str = "auto"
    """``auto`` (CUDA if present), ``cpu`` or ``cuda``."""
    seed: int = 0
    """Seed of initialization and batch sampling."""
    save_every_minutes: float = 3.0
    """Interval between training-state saves."""
    log_every: int = 50
    """Steps between metric lines (with a PSNR on a fixed monitor batch)."""
    rollback_drop_db: float = 3.0
    """Divergence guard: when the monitor PSNR falls this many dB below its best so far, the model and
    optimizer return to that best point and the run goes on at ``rollback_lr_factor`` times the
    learning rate (recorded in metrics.jsonl as ``rollback``). 0: off. Without it a run that diverges
    (an Adam step that kills these unnormalized models) trains on for the rest of its budget and ships
    a model that outputs a flat frame."""
    rollback_lr_factor: float = 0.5
    """Learning-rate multiplier applied at each rollback (kept across a resume)."""
    init: str = ""
    """A saved tokenizer (``save_tokenizer`` folder, or a zoo name under the package) whose weights and
    latent statistics start the run; its architecture must be ``model``'s. Empty: random initialization."""
    train: str = "all"
    """``all`` trains every weight; ``decoder`` freezes the encoder side (``encoder``, ``quant_conv``) and
    trains ``post_quant_conv`` and ``decoder`` only: a decoder fine-tune of ``init`` (required) that keeps
    its latents bit for bit, so world models trained on them stay valid with the better decoder."""

    def __post_init__(self) -> None:
        check_field_types(self)
        if isinstance(self.model, dict):
            self.model = TokenizerConfig.from_dict(self.model)
        if isinstance(self.data, dict):
            self.data = TokenizerDataConfig(**self.data)
        if isinstance(self.loss, dict):
            self.loss = ReconstructionLossConfig(**self.loss)
        check_sections(
            self, {"model": TokenizerConfig, "data": TokenizerDataConfig, "loss": ReconstructionLossConfig}
        )
        k = self.model.temporal_compression
        if (self.data.clip_frames - 1) % k or self.data.clip_frames < 1 + k:
            raise ValueError(
                f"data.clip_frames must be 1 + {k}*n with n >= 1 for {self.model.name}, got {self.data.clip_frames}"
            )
        for name in ("video_batch", "max_steps", "warmup_steps", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"TokenizerTrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        check_finite(self, "lr", "max_minutes", "grad_clip", above=0)
        check_finite(
            self,
            "weight_decay",
            "save_every_minutes",
            "rollback_drop_db",
            "image_batch",
            "threads",
            at_least=0,
        )
        check_finite(self, "final_lr_fraction", at_least=0, at_most=1)
        check_finite(self, "rollback_lr_factor", above=0, at_most=1)
        warn_short_warmup(self.warmup_steps, self.max_steps)
        if self.train not in TRAINABLE_PARTS:
            raise ValueError(
                f"TokenizerTrainConfig.train must be one of {sorted(TRAINABLE_PARTS)}, got {self.train!r}"
            )
        if self.train == "decoder" and not self.init:
            raise ValueError(
                "TokenizerTrainConfig: train=decoder fine-tunes a trained tokenizer's decoder; name it with "
                "init=<tokenizer folder>"
            )

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["model"] = self.model.to_dict()
        return out


class SceneFrames:
    """Every training frame of a scene mixture, in memory as uint8, with seeded clip sampling."""

    def __init__(self, paths: list[Path], scenes: list[SceneData], video_key: str) -> None:
        self.episodes: list[list[torch.Tensor]] = []  # per scene, per episode: uint8 (T, H, W, 3)
        if len(paths) != len(scenes):
            raise ValueError(f"SceneFrames: {len(paths)} dataset folders for {len(scenes)} scenes")
        for path in paths:
            dataset = EpisodeDataset(path)
            if video_key not in dataset.video_keys:
                raise ValueError(f"{path}: no video feature {video_key!r}; it has {dataset.video_keys}")
            self.episodes.append(
                [
                    torch.from_numpy(dataset.load_episode(i, keys=[video_key])[video_key])
                    for i in range(len(dataset))
                ]
            )
        weights = torch.tensor([s.weight for s in scenes], dtype=torch.float64)
        self.scene_probs = weights / weights.sum()

    def sample(self, count: int, frames: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` random clips of ``frames`` frames -> uint8 (count, frames, H, W, 3)."""
        clips = []
        scenes = torch.multinomial(self.scene_probs, count, replacement=True, generator=generator)
        for scene in scenes.tolist():
            long_enough = [e for e in self.episodes[scene] if e.shape[0] >= frames]
            if not long_enough:
                raise ValueError(f"scene {scene}: no episode has {frames} frames")
            episode = long_enough[int(torch.randint(len(long_enough), (1,), generator=generator))]
            start = int(torch.randint(episode.shape[0] - frames + 1, (1,), generator=generator))
            clips.append(episode[start : start + frames])
        return torch.stack(clips)


def _psnr(reconstruction: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB of clamped model frames in [-1, 1] (the training monitor)."""
    return float(peak_signal_noise_ratio(reconstruction.clamp(-1, 1), target, data_range=2.0))


def _latent_stats(model: CausalVideoTokenizer, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of the continuous latents of ``batch``."""
    with torch.inference_mode():
        z = model._encode_latent(batch).float()  # (B, C, T', h, w)
    per_channel = z.transpose(0, 1).flatten(1)
    return per_channel.mean(1), per_channel.std(1).clamp_min(1e-6)


def _initial_model(config: TokenizerTrainConfig) -> CausalVideoTokenizer:
    """``config.model`` at random, or ``config.init``'s weights and latent statistics."""
    if not config.init:
        return build_tokenizer(config.model)
    init = in_package(config.init)
    model = load_tokenizer(init)
    if model.config != config.model:
        ours, theirs = config.model.to_dict(), model.config.to_dict()
        differ = sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))
        raise ValueError(
            f"train tokenizer: init={config.init} is a different architecture from the recipe's model "
            f"(differs in {', '.join(differ)}); give the model the same fields as {init / 'config.json'}"
        )
    return model.train()


def train_tokenizer(config: TokenizerTrainConfig, *, progress: bool = True) -> Path:
    """Train (or resume) the run in ``config.out``; return the folder of the final checkpoint."""
    context = setup_distributed(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    torch.manual_seed(config.seed)
    device = context.device
    model = _initial_model(config)  # a bad init is named before the run folder is claimed or data recorded

    if context.is_main:
        claim_run_folder(out, "tokenizer", config.to_dict(), paths=("data.root",))
        ensure_scene_datasets(
            config.data.root, config.data.scenes, "train", workers=config.data.workers, progress=progress
        )
    if context.world_size > 1:
        torch.distributed.barrier()  # the other ranks wait until rank 0 has recorded the data
    paths = [scene_dataset_dir(config.data.root, scene, "train") for scene in config.data.scenes]
    data = SceneFrames(paths, config.data.scenes, config.data.video_key)

    model = model.to(device)
    trained_prefixes = TRAINABLE_PARTS[config.train]
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(trained_prefixes is None or name.startswith(trained_prefixes))
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.lr,
        betas=(0.9, 0.99),
        weight_decay=config.weight_decay,
    )
    resumed = load_training_state(out, model=model, optimizer=optimizer)
    step, elapsed = (resumed["step"], resumed["elapsed_s"]) if resumed else (0, 0.0)
    lr_scale = float(resumed["extra"].get("lr_scale", 1.0)) if resumed else 1.0
    best_psnr, best_state = -math.inf, None  # the divergence guard's restore point (on every rank)
    if resumed and context.is_main:
        logger.info("resuming %s at step %d (%.1f min trained)", out, step, elapsed / 60)
    trained = wrap_for_training(model, context)
    loss_fn = ReconstructionLoss(config.loss)
    monitor = frames_to_model(
        data.sample(4, config.data.clip_frames, torch.Generator().manual_seed(12345)), device=device
    )
    budget_s = config.max_minutes * 60

    bar = tqdm(
        total=config.max_steps,
        initial=step,
        disable=not (progress and context.is_main),
        desc=config.model.name,
    )
    last_save = time.monotonic()
    metrics_file = (out / "metrics.jsonl").open("a") if context.is_main else None
    model.train()
    while step < config.max_steps and elapsed < budget_s:
        tick = time.monotonic()
        progress_fraction = max(step / config.max_steps, elapsed / budget_s)
        lr = (
            config.lr
            * lr_scale
            * warmup_cosine(
                progress_fraction,
                step,
                warmup_steps=config.warmup_steps,
                final_fraction=config.final_lr_fraction,
            )
        )
        for group in optimizer.param_groups:
            group["lr"] = lr
        # Batches depend on (seed, rank, step) only, so a resumed run draws what the killed one would have.
        generator = torch.Generator().manual_seed(hash((config.seed, context.rank, step)) % 2**63)
        batches = [
            frames_to_model(
                data.sample(config.video_batch, config.data.clip_frames, generator), device=device
            )
        ]
        if config.image_batch:
            batches.append(frames_to_model(data.sample(config.image_batch, 1, generator), device=device))
        total, terms = 0.0, {}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
            for name, batch in zip(("video", "image"), batches, strict=False):
                loss, parts = loss_fn(trained(batch).reconstruction.float(), batch)
                total = total + loss
                terms.update({f"{name}_{k}": v for k, v in parts.items()})
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        if not torch.isfinite(grad_norm):
            raise RuntimeError(
                f"train tokenizer: non-finite gradient at step {step}; lower lr (now {lr:.2e}) or disable bf16. "
                f"The last good state is in {out}"
            )
        optimizer.step()
        step += 1
        elapsed = agreed_max(elapsed + time.monotonic() - tick, context)
        bar.update(1)

        if step % config.log_every == 0 or step == config.max_steps or elapsed >= budget_s:
            # Every rank reaches this step together; rank 0 scores the monitor and all ranks act on
            # its verdict, so their models stay identical.
            psnr, verdict = math.nan, _KEEP
            if context.is_main:
                model.eval()
                with torch.inference_mode():
                    psnr = _psnr(model(monitor).reconstruction.float(), monitor)
                model.train()
                if psnr > best_psnr:
                    verdict = _NEW_BEST
                elif (  # a NaN PSNR rolls back too
                    config.rollback_drop_db
                    and best_psnr > -math.inf
                    and not psnr >= best_psnr - config.rollback_drop_db
                ):
                    verdict = _ROLL_BACK
            verdict = int(agreed_max(verdict, context))
            if verdict == _NEW_BEST:
                best_psnr = psnr  # meaningful on rank 0 only, which alone judges
                best_state = copy.deepcopy((model.state_dict(), optimizer.state_dict()))
            elif verdict == _ROLL_BACK:
                model.load_state_dict(best_state[0])
                optimizer.load_state_dict(best_state[1])
                lr_scale *= config.rollback_lr_factor
                if context.is_main:
                    logger.warning(
                        "train tokenizer: monitor PSNR %.2f dB at step %d is %.1f dB below its best (%.2f dB): "
                        "diverged; restored that model and optimizer, learning rate now x%g",
                        psnr,
                        step,
                        best_psnr - psnr,
                        best_psnr,
                        lr_scale,
                    )
            if context.is_main:
                record = {
                    "step": step,
                    "minutes": round(elapsed / 60, 2),
                    "lr": lr,
                    "loss": round(total.item(), 5),
                    "monitor_psnr": round(psnr, 2),
                }
                record.update({k: round(v, 5) for k, v in terms.items()})
                if verdict == _ROLL_BACK:
                    record["rollback"] = {"to_psnr": round(best_psnr, 2), "lr_scale": lr_scale}
                metrics_file.write(json.dumps(record) + "\n")
                metrics_file.flush()
                bar.set_postfix(loss=f"{total.item():.4f}", psnr=f"{psnr:.1f}")
        if context.is_main and time.monotonic() - last_save > config.save_every_minutes * 60:
            save_training_state(
                out,
                model=model,
                optimizer=optimizer,
                step=step,
                elapsed_s=elapsed,
                extra={"lr_scale": lr_scale},
            )
            last_save = time.monotonic()
    bar.close()

    final = out / "model"
    if context.is_main:
        save_training_state(
            out, model=model, optimizer=optimizer, step=step, elapsed_s=elapsed, extra={"lr_scale": lr_scale}
        )
        model.eval()
        with torch.inference_mode():
            psnr = _psnr(model(monitor).reconstruction.float(), monitor)
        if config.model.kind == "CV" and config.train == "all":  # a decoder fine-tune keeps init's
            sample = frames_to_model(
                data.sample(32, config.data.clip_frames, torch.Generator().manual_seed(54321)), device=device
            )
            model.set_latent_stats(*_latent_stats(model, sample))
        metadata = {
            "recipe": config.to_dict(),
            "data": {"scenes": [dataclasses.asdict(s) for s in config.data.scenes], "split": "train"},
            "steps": step,
            "train_minutes": round(elapsed / 60, 2),
            "processes": context.world_size,
            "device": str(device),
            "threads": torch.get_num_threads(),
            "monitor_psnr": round(psnr, 2),
            "num_parameters": sum(p.numel() for p in model.parameters()),
        }
        save_tokenizer(model.cpu(), final, metadata=metadata)
        metrics_file.close()
    teardown_distributed()
    return final


def summarize_metrics(out: str | Path) -> list[dict[str, Any]]:
    """The metric lines of a run (for reports and tests)."""
    path = Path(out) / "metrics.jsonl"
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    )


CONFIG_MODULE = "cosmos_sim.configs.tokenizer"


def load_train_config(config_name: str, overrides: list[str] | None = None) -> TokenizerTrainConfig:
    """Compose a shipped Hydra recipe (``cosmos_sim/configs/tokenizer/<name>.yaml``) with command-line
    overrides such as ``max_minutes=10`` or ``model.channels=32``, into a validated config."""
    data = compose_recipe(CONFIG_MODULE, config_name, overrides, "train tokenizer")
    try:
        return TokenizerTrainConfig(**data)
    except TypeError as error:
        raise ValueError(f"train tokenizer: {error}") from error
