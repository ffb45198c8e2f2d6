"""``cosmos-sim bench tokenizer``: reconstruction quality, rate and speed of saved tokenizers.

For each checkpoint, on held-out episodes of every scene it was trained on (``metadata["data"]["scenes"]``
of the checkpoint, else ``DEFAULT_SCENES``; recorded on demand with seeds disjoint from training):

  - quality of the reconstruction as a user sees it (rounded to uint8): PSNR and SSIM (torchmetrics,
    data_range 1 on [0, 1] frames) per frame, averaged over every frame of a scene's clips; "all scenes"
    is the mean of the scenes (each counts once). An exact frame counts ``PSNR_CAP_DB``, not infinity.
    Flicker: the mean absolute difference between the frame-to-frame changes of the reconstruction and
    of the original, in [0, 255] units (0 = motion reproduced exactly);
  - rate: bits per pixel of the tokens: DV ``latent positions * log2(codebook_size) / (T*H*W)``, CV
    ``latent positions * latent_dim * 16 / (T*H*W)`` (latents stored as float16). For DV also the rate
    of its tokens stored (``cosmos_sim.tokenizers.token_stream``: the lossless stream of each clip's
    indices, whichever is smallest of raw, temporal delta + DEFLATE and the FSQ digits range-coded
    under adaptive context models, header and checksum included; decoded back and checked equal),
    because H.264's bits are entropy-coded too (CABAC): at the fixed-length rate H.264 is compared
    with a DV codec that stores a static scene's repeated tokens in full;
  - H.264 at that rate (and, for DV, at each clip's stored-stream rate): libx264 (preset veryslow,
    tune psnr, in yuv420p and yuv444p, keeping the better PSNR per clip) with the lowest CRF (highest
    quality) whose payload fits the tokenizer's bits, found by bisection over CRF 0..51. Payload = the
    NAL units' bytes, without container, Annex B start codes (framing, 4 bytes a NAL unit) and x264's
    informational SEI message (~650 bytes of encoder settings no decoder needs). If even CRF 51 does
    not fit, its figures are reported and the clip is flagged ``h264_over_budget``;
  - speed: encode, decode and encode+decode frames/s on a batch of 64x64 clips under
    ``torch.inference_mode()``, median of ``repeats`` runs after a warm-up, with all the process's
    threads; peak memory of a fresh process that loads the checkpoint and encodes + decodes the batch.

Writes ``tokenizer.json``, ``tokenizer.md`` and ``tokenizer_samples.png`` (original / tokenizer /
H.264 frames of one clip per checkpoint and scene) into the output folder and prints the tables.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import re
import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from PIL import Image, ImageDraw
from tqdm import tqdm

import cosmos_sim
from cosmos_sim.benchmarks.machine import describe_machine
from cosmos_sim.benchmarks.report import check_output_folder
from cosmos_sim.data.clips import ClipDataset
from cosmos_sim.data.lerobot import EpisodeDataset
from cosmos_sim.data.scenes import SceneData, ensure_scene_datasets
from cosmos_sim.data.video_io import write_bytes_atomic
from cosmos_sim.frames import frames_to_model, model_to_frames
from cosmos_sim.metrics.frame_quality import PSNR_CAP_DB, frame_quality
from cosmos_sim.tokenizers.checkpoint import load_tokenizer, read_tokenizer_config
from cosmos_sim.tokenizers.config import TokenizerConfig
from cosmos_sim.tokenizers.token_stream import MODE_NAMES, decode_tokens, encode_tokens

ZOO = Path(cosmos_sim.__file__).resolve().parent / "zoo"
DEFAULT_CHECKPOINTS = (ZOO / "cv4x8x8", ZOO / "cv4x8x8_v2", ZOO / "dv4x8x8")
"""The zoo's tokenizers: ``cv4x8x8`` (the PushBlock and CameraOrbit world models' latent space), its retrained ``_v2``, DV."""
DEFAULT_SCENES = (
    SceneData("cosmos_sim/PushBlock-v0", episodes=200, policy="mix"),
    *(
        SceneData(f"cosmos_sim/Physics-{name}-v0", episodes=100, policy="zero")
        for name in ("FreeFall", "Projectile", "Bounce", "Sliding", "Collision", "Pendulum", "Toppling")
    ),
    SceneData("cosmos_sim/CameraOrbit-v0", episodes=100, policy="random"),
)
"""Scenes of a checkpoint whose metadata does not name its training data."""

CV_BITS_PER_VALUE = 16
"""A continuous latent value is stored as float16."""
H264_PIX_FMTS = ("yuv420p", "yuv444p")
H264_OPTIONS = {"preset": "veryslow", "tune": "psnr"}
SPEED_SIZE = 64
_START_CODE = re.compile(b"\x00{2,}\x01")  # Annex B; emulation prevention keeps it out of NAL payloads
_SEI = 6


# ---- quality metrics ------------------------------------------------------------------------------


def clip_quality(original: torch.Tensor, reconstruction: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-frame PSNR and SSIM ``(N*T,)`` and per-clip flicker ``(N,)`` of uint8 ``(N, T, H, W, 3)`` clips."""
    if original.shape != reconstruction.shape or original.dtype != torch.uint8 or original.ndim != 5:
        raise ValueError(
            f"need two uint8 (N, T, H, W, 3) clips of one shape, got {original.dtype} {tuple(original.shape)}"
            f" and {reconstruction.dtype} {tuple(reconstruction.shape)}"
        )
    psnr, ssim = frame_quality(reconstruction.flatten(0, 1).numpy(), original.flatten(0, 1).numpy())
    motion_error = reconstruction.float().diff(dim=1) - original.float().diff(dim=1)  # (N, T-1, H, W, 3)
    return {
        "psnr": psnr,
        "ssim": ssim,
        "flicker": motion_error.abs().mean(dim=(1, 2, 3, 4)).numpy(),
    }


def tokenizer_bits(config: TokenizerConfig, frames: int, height: int, width: int) -> float:
    """Bits the tokens (DV) or float16 latents (CV) of one ``frames x height x width`` clip take."""
    s = config.spatial_compression
    positions = config.latent_frames(frames) * (height // s) * (width // s)
    if config.kind == "DV":
        return positions * math.log2(config.codebook_size)
    return positions * config.latent_dim * CV_BITS_PER_VALUE


# ---- H.264 at the tokenizer's rate -----------------------------------------------------------------


def h264_payload_bits(packets: list[bytes]) -> int:
    """Bits of the NAL units in Annex B ``packets``, start codes not counted: the bytes a decoder
    needs, less the framing a container would replace (an mp4 stores a 1-4 byte length instead), so
    H.264 is charged nothing for it, as the DV token stream has no per-frame framing."""
    return 8 * sum(len(nal) for packet in packets for nal in _START_CODE.split(packet) if nal)


def _drop_sei(packet: bytes) -> bytes:
    nals = [nal for nal in _START_CODE.split(packet) if nal]
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals if nal[0] & 0x1F != _SEI)


def h264_encode(frames: np.ndarray, crf: int, pix_fmt: str) -> list[bytes]:
    """uint8 ``(T, H, W, 3)`` -> libx264 Annex B packets at ``crf``, x264's SEI removed."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
    codec.time_base, codec.framerate = Fraction(1, 25), Fraction(25)
    codec.options = {**H264_OPTIONS, "crf": str(crf)}
    packets = []
    for index, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format=pix_fmt)
        frame.pts = index
        packets += codec.encode(frame)
    packets += codec.encode(None)  # flush
    return [_drop_sei(bytes(packet)) for packet in packets]


def h264_decode(packets: list[bytes], frames: int) -> np.ndarray:
    codec = av.CodecContext.create("h264", "r")
    decoded = [f for p in packets for f in codec.decode(av.Packet(p))] + list(codec.decode(None))
    if len(decoded) != frames:
        raise RuntimeError(f"H.264 round trip returned {len(decoded)} frames, expected {frames}")
    return np.stack([f.to_ndarray(format="rgb24") for f in decoded])  # (T, H, W, 3)


def h264_at_budget(frames: np.ndarray, budget_bits: float, pix_fmt: str) -> dict[str, Any]:
    """The lowest CRF whose payload fits ``budget_bits`` (bisection; size falls as CRF rises), decoded."""
    sizes: dict[int, list[bytes]] = {}

    def bits(crf: int) -> int:
        if crf not in sizes:
            sizes[crf] = h264_encode(frames, crf, pix_fmt)
        return h264_payload_bits(sizes[crf])

    over = bits(51) > budget_bits
    low, high = -1, 51  # CRF `high` fits; `low` does not (-1: nothing below 0 to try)
    while not over and high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if bits(middle) <= budget_bits else (middle, high)
    decoded = h264_decode(sizes[high], len(frames))
    return {"crf": high, "pix_fmt": pix_fmt, "bits": bits(high), "over_budget": over, "frames": decoded}


def best_h264(frames: np.ndarray, budget_bits: float) -> dict[str, Any]:
    """``h264_at_budget`` in each of ``H264_PIX_FMTS``: the within-budget one with the better PSNR."""
    runs = [h264_at_budget(frames, budget_bits, pix_fmt) for pix_fmt in H264_PIX_FMTS]
    clip = torch.from_numpy(frames)[None]
    for run in runs:
        run["psnr"] = float(clip_quality(clip, torch.from_numpy(run["frames"])[None])["psnr"].mean())
    return max(
        runs, key=lambda run: (not run["over_budget"], -run["bits"] if run["over_budget"] else run["psnr"])
    )


# ---- data -----------------------------------------------------------------------------------------


def checkpoint_scenes(metadata: dict, checkpoint: Path) -> list[SceneData]:
    """The scenes a checkpoint was trained on, from its metadata, or ``DEFAULT_SCENES``."""
    entries = metadata.get("data", {}).get("scenes") if isinstance(metadata.get("data"), dict) else None
    if entries is None:
        return list(DEFAULT_SCENES)
    try:
        scenes = [SceneData(**entry) for entry in entries]
    except TypeError as error:
        raise ValueError(
            f"{checkpoint}: metadata data.scenes entries must be SceneData fields: {error}"
        ) from error
    if not scenes:
        raise ValueError(f"{checkpoint}: metadata data.scenes is empty")
    return scenes


def heldout_clips(root: Path, temporal_compression: int, count: int) -> torch.Tensor:
    """Up to ``count`` clips spread evenly over the dataset, uint8 ``(N, T, H, W, 3)``: ``T = 1 + 4*step``
    (``step = lcm(k_tokenizer, k_dataset)``), or the longest ``1 + step*n`` that fits shorter episodes."""
    episodes = EpisodeDataset(root)
    step = math.lcm(temporal_compression, episodes.info.get("cosmos_sim", {}).get("frames_per_step", 1))
    longest = max(episodes.episode_length(i) for i in range(episodes.num_episodes))
    clip_frames = min(1 + 4 * step, 1 + step * ((longest - 1) // step))
    if clip_frames < 1 + step:
        raise ValueError(
            f"{root}: the longest episode has {longest} frames, fewer than one clip of {1 + step}"
        )
    clips = ClipDataset(episodes, clip_frames=clip_frames, action_key=None, state_key=None)
    picks = np.unique(np.linspace(0, len(clips) - 1, min(count, len(clips))).round().astype(int))
    return torch.stack([clips[int(i)]["frames"] for i in picks])


# ---- model runs -----------------------------------------------------------------------------------


def _encode(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model.encode(x)
    return out[0] if model.config.kind == "DV" else out  # DV: the token indices


def reconstruct(model: torch.nn.Module, clips: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 ``(N, T, H, W, 3)`` -> encoded, decoded and rounded to uint8, ``batch`` clips at a time;
    also what the encoder gave (DV: token indices ``(N, t, h, w)``, CV: latents), on the CPU."""
    device = next(model.parameters()).device
    frames, codes = [], []
    with torch.inference_mode():
        for chunk in clips.split(batch):
            code = _encode(model, frames_to_model(chunk, device=device))
            frames.append(model_to_frames(model.decode(code)))
            codes.append(code.cpu())
    return torch.cat(frames), torch.cat(codes)


def dv_stream_bits(
    tokens: torch.Tensor, codebook_size: int, levels: list[int]
) -> tuple[np.ndarray, list[str]]:
    """Bits of each clip's stored token stream ``(N,)`` and each stream's mode, from DV token indices
    ``(N, t, h, w)`` of a tokenizer with FSQ ``levels``; every stream is decoded back and must give the
    tokens it was made from."""
    bits, modes = [], []
    for clip_tokens in tokens.numpy():
        stream = encode_tokens(clip_tokens, codebook_size, levels)
        if not np.array_equal(decode_tokens(stream), clip_tokens):
            raise RuntimeError("the DV token stream did not decode to the tokens it was made from")
        bits.append(8 * len(stream))
        modes.append(MODE_NAMES[stream[0]])
    return np.array(bits, dtype=np.float64), modes


def _speed_batch(config: TokenizerConfig, batch: int, device: str) -> torch.Tensor:
    frames = 1 + 4 * config.temporal_compression
    g = torch.Generator().manual_seed(0)
    return (torch.rand(batch, 3, frames, SPEED_SIZE, SPEED_SIZE, generator=g) * 2 - 1).to(device)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure_speed(model: torch.nn.Module, batch: int, repeats: int, device: str) -> dict[str, Any]:
    x = _speed_batch(model.config, batch, device)
    frames = x.shape[0] * x.shape[2]
    times = []
    with torch.inference_mode():
        for _ in range(repeats + 1):  # the first run is a warm-up
            _sync(device)
            start = time.perf_counter()
            tokens = _encode(model, x)
            _sync(device)
            middle = time.perf_counter()
            model.decode(tokens)
            _sync(device)
            times.append((middle - start, time.perf_counter() - middle))
    t_enc, t_dec = (statistics.median(column) for column in zip(*times[1:], strict=True))
    return {
        **{"batch_clips": batch, "clip_frames": x.shape[2], "size": SPEED_SIZE, "repeats": repeats},
        "encode_fps": frames / t_enc,
        "decode_fps": frames / t_dec,
        "encode_decode_fps": frames / (t_enc + t_dec),
    }


def _peak_rss_mb() -> float:
    """This process's peak RSS. Linux: ``VmHWM``, because ``ru_maxrss`` survives exec, so a spawned child
    would report its parent's peak; elsewhere ``ru_maxrss`` (bytes on macOS)."""
    status = Path("/proc/self/status")
    if status.is_file():
        line = next(ln for ln in status.read_text().splitlines() if ln.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _peak_memory_child(checkpoint: str, batch: int, device: str, threads: int) -> dict[str, float]:
    """Runs in a fresh process: load, one encode + decode of the speed batch, report peak memory."""
    torch.set_num_threads(threads)
    baseline = _peak_rss_mb()
    model = load_tokenizer(checkpoint, device=device)
    x = _speed_batch(model.config, batch, device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode():
        model.decode(_encode(model, x))
    result = {"baseline_rss_mb": baseline, "peak_rss_mb": _peak_rss_mb()}
    if device.startswith("cuda"):
        result["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def measure_peak_memory(checkpoint: Path, batch: int, device: str) -> dict[str, float]:
    """Peak RSS (and CUDA memory) of a fresh spawned process; ``baseline_rss_mb`` is after its imports."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        args = (str(checkpoint), batch, device, torch.get_num_threads())
        return pool.submit(_peak_memory_child, *args).result()


# ---- one checkpoint -------------------------------------------------------------------------------


def evaluate_scene(model, clips: torch.Tensor, batch: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Quality, rate and the H.264 baseline on one scene's clips; also the first clip's frames."""
    n, frames, height, width, _ = clips.shape
    pixels = frames * height * width
    budget = tokenizer_bits(model.config, frames, height, width)
    recon, codes = reconstruct(model, clips, batch)
    ours = clip_quality(clips, recon)
    h264 = [best_h264(clip.numpy(), budget) for clip in clips]
    theirs = clip_quality(clips, torch.from_numpy(np.stack([run["frames"] for run in h264])))
    result: dict[str, Any] = {"clips": n, "clip_frames": frames, "height": height, "width": width}
    for prefix, quality in (("", ours), ("h264_", theirs)):
        result.update({prefix + key: float(values.mean()) for key, values in quality.items()})
    over = sum(run["over_budget"] for run in h264)
    result.update(
        bpp=budget / pixels,
        h264_bpp=float(np.mean([run["bits"] for run in h264])) / pixels,
        h264_max_bpp=max(run["bits"] for run in h264) / pixels,
        h264_crf_mean=float(np.mean([run["crf"] for run in h264])),
        h264_pix_fmt_counts={f: sum(run["pix_fmt"] == f for run in h264) for f in H264_PIX_FMTS},
        h264_over_budget=over > 0,
        h264_over_budget_clips=over,
        psnr_gain_db=result["psnr"] - result["h264_psnr"],
    )
    if model.config.kind == "DV":
        stream_bits, modes = dv_stream_bits(codes, model.config.codebook_size, model.config.levels)
        at_stream = [best_h264(clip.numpy(), bits) for clip, bits in zip(clips, stream_bits, strict=True)]
        theirs = clip_quality(clips, torch.from_numpy(np.stack([run["frames"] for run in at_stream])))
        result.update({"h264_stream_" + key: float(values.mean()) for key, values in theirs.items()})
        result.update(
            stream_bpp=float(stream_bits.mean()) / pixels,
            stream_mode_counts={mode: modes.count(mode) for mode in sorted(set(modes))},
            h264_stream_bpp=float(np.mean([run["bits"] for run in at_stream])) / pixels,
            h264_stream_over_budget_clips=int(sum(run["over_budget"] for run in at_stream)),
            psnr_gain_stream_db=result["psnr"] - result["h264_stream_psnr"],
        )
    sample = {"original": clips[0].numpy(), "tokenizer": recon[0].numpy(), "h264": h264[0]["frames"]}
    return result, sample


def _overall(scenes: list[dict]) -> dict[str, Any]:
    keys = ("psnr", "ssim", "flicker", "bpp", "h264_psnr", "h264_ssim", "h264_flicker", "h264_bpp")
    overall = {key: float(np.mean([scene[key] for scene in scenes])) for key in keys}
    overall["psnr_gain_db"] = overall["psnr"] - overall["h264_psnr"]
    overall["h264_over_budget"] = any(scene["h264_over_budget"] for scene in scenes)
    if "stream_bpp" in scenes[0]:
        for key in ("stream_bpp", "h264_stream_psnr", "h264_stream_ssim", "h264_stream_bpp"):
            overall[key] = float(np.mean([scene[key] for scene in scenes]))
        overall["h264_stream_over_budget_clips"] = sum(s["h264_stream_over_budget_clips"] for s in scenes)
        overall["psnr_gain_stream_db"] = overall["psnr"] - overall["h264_stream_psnr"]
    return overall


# ---- outputs --------------------------------------------------------------------------------------


def _machine(device: str) -> dict[str, Any]:
    return describe_machine(
        torch_threads=torch.get_num_threads(),
        device=device,
        gpu=torch.cuda.get_device_name() if device.startswith("cuda") else None,
        pyav=av.__version__,
        libavcodec=".".join(map(str, av.library_versions["libavcodec"])),
    )


QUALITY_HEADER = (
    "| model | scene | PSNR | SSIM | flicker | bpp | H.264 PSNR @bpp | gain | H.264 SSIM | H.264 flicker |"
)
STREAM_HEADER = "| model | scene | PSNR | stream bpp | H.264 PSNR @bpp | gain | H.264 over budget (clips) |"
SPEED_HEADER = (
    "| model | parameters | encode frames/s | decode frames/s | encode+decode frames/s | peak RSS MB |"
)


def _markdown(results: dict[str, Any]) -> str:
    quality, speed = [QUALITY_HEADER, "|---" * 10 + "|"], [SPEED_HEADER, "|---" * 6 + "|"]
    for model in results["models"]:
        for name, s in [*((s["scene"], s) for s in model["scenes"]), ("**all scenes**", model["overall"])]:
            over = " (over budget)" if s["h264_over_budget"] else ""
            h264 = f"{s['h264_psnr']:.2f} @{s['h264_bpp']:.3f}{over}"
            quality.append(
                f"| {model['label']} | {name} | {s['psnr']:.2f} | {s['ssim']:.3f} | {s['flicker']:.2f} | "
                f"{s['bpp']:.3f} | {h264} | {s['psnr_gain_db']:+.2f} | {s['h264_ssim']:.3f} | "
                f"{s['h264_flicker']:.2f} |"
            )
        sp, mem = model["speed"], model["memory"]
        cuda = f" (CUDA {mem['cuda_max_allocated_mb']:.0f})" if "cuda_max_allocated_mb" in mem else ""
        speed.append(
            f"| {model['label']} | {model['parameters']:,} | {sp['encode_fps']:,.0f} | "
            f"{sp['decode_fps']:,.0f} | {sp['encode_decode_fps']:,.0f} | {mem['peak_rss_mb']:,.0f}{cuda} |"
        )
    stream = [STREAM_HEADER, "|---" * 7 + "|"]
    for model in results["models"]:
        for name, s in [*((s["scene"], s) for s in model["scenes"]), ("**all scenes**", model["overall"])]:
            if "stream_bpp" in s:
                over = s["h264_stream_over_budget_clips"]
                stream.append(
                    f"| {model['label']} | {name} | {s['psnr']:.2f} | {s['stream_bpp']:.3f} | "
                    f"{s['h264_stream_psnr']:.2f} @{s['h264_stream_bpp']:.3f} | {s['psnr_gain_stream_db']:+.2f} | "
                    f"{over} |"
                )
    stream_section = (
        "DV at the rate of its stored tokens (`cosmos_sim.tokenizers.token_stream`: FSQ digits "
        "range-coded under adaptive context models, or raw where smaller; lossless, header and checksum "
        "included, per clip); H.264 at each clip's stream bits. Over budget: "
        "clips even CRF 51 does not fit (their H.264 figures use more bits than the tokens).\n\n"
        + "\n".join(stream)
        + "\n\n"
        if len(stream) > 2
        else ""
    )
    m, sp = results["machine"], results["models"][0]["speed"]
    return (
        "# Tokenizer benchmark\n\nHeld-out episodes. PSNR/SSIM: per frame of the uint8 reconstruction, "
        f"mean over a scene's frames (all scenes: mean of scenes; exact frames {PSNR_CAP_DB:.0f} dB). "
        "Flicker: mean |frame-to-frame change of the reconstruction - of the original| in 0..255. bpp: DV "
        "log2(codebook) bits per token, CV float16 latents. H.264 (libx264 veryslow, tune psnr, yuv420p or "
        "yuv444p): lowest CRF within the tokenizer's bits, achieved bpp after @ (NAL units only: no container, "
        "Annex B start codes or x264 SEI). "
        "Gain: tokenizer PSNR - H.264 PSNR.\n\n"
        + "\n".join(quality)
        + "\n\n"
        + stream_section
        + f"Speed on {m['device']} ({m['gpu'] or m['cpu']}, {m['torch_threads']} threads): "
        f"{sp['batch_clips']} clips x {sp['clip_frames']} frames at {SPEED_SIZE}x{SPEED_SIZE}, median of "
        f"{sp['repeats']} after a warm-up. Peak RSS: a fresh process loading the checkpoint and encoding + "
        "decoding one batch.\n\n" + "\n".join(speed) + "\n"
    )


SAMPLE_ROWS = {"original": "original", "tokenizer": "tokenizer", "h264": "H.264 at the same bits"}


def _samples_png(path: Path, samples: list[tuple[str, dict[str, np.ndarray]]], columns: int = 6) -> None:
    """Per (checkpoint, scene): a few frames of one clip, original above tokenizer above H.264, 2x size."""
    label_width, scale = 220, 2
    size = max(max(s["original"].shape[1:3]) for _, s in samples) * scale
    sheet = Image.new("RGB", (label_width + columns * size, len(samples) * 3 * size), "white")
    draw = ImageDraw.Draw(sheet)
    for block, (title, sample) in enumerate(samples):
        picks = np.linspace(0, len(sample["original"]) - 1, columns).round().astype(int)
        for row, (key, name) in enumerate(SAMPLE_ROWS.items()):
            top = (3 * block + row) * size
            draw.text((4, top + 4), f"{title}\n{name}" if row == 0 else name, fill="black")
            for col, t in enumerate(picks):
                tile = Image.fromarray(sample[key][t]).resize((size, size), Image.NEAREST)
                sheet.paste(tile, (label_width + col * size, top))
    sheet.save(path)


# ---- entry point ----------------------------------------------------------------------------------


def run_tokenizer_benchmark(
    checkpoints: list[str | Path] | None = None,
    out: str | Path = "outputs/bench/tokenizer",
    *,
    data_root: str | Path = "outputs/data/tokenizer",
    clips_per_scene: int = 8,
    batch: int = 16,
    repeats: int = 5,
    device: str | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    """Benchmark each tokenizer checkpoint (default: the zoo's CV4x8x8 and DV4x8x8); see the module doc.
    ``quick``: at most 2 clips per scene, a batch of 4 clips and 2 timed repeats."""
    checkpoints = [Path(c) for c in (checkpoints or DEFAULT_CHECKPOINTS)]
    out = Path(out)
    if isinstance(clips_per_scene, bool) or not isinstance(clips_per_scene, int) or clips_per_scene < 1:
        raise ValueError(f"clips_per_scene must be an int >= 1, got {clips_per_scene!r}")
    if batch < 1 or repeats < 1:
        raise ValueError(f"batch and repeats must be >= 1, got batch={batch!r}, repeats={repeats!r}")
    check_output_folder("tokenizer", out)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    loaded = {}
    for path in checkpoints:  # every checkpoint, weights included, is checked before any work starts
        if not path.is_dir():
            hint = " (the zoo does not ship it yet: pass --checkpoint)" if path in DEFAULT_CHECKPOINTS else ""
            raise FileNotFoundError(f"tokenizer checkpoint folder {path} does not exist{hint}")
        config, metadata = read_tokenizer_config(path)
        loaded[path] = config, checkpoint_scenes(metadata, path), load_tokenizer(path, device=device)
    if quick:
        clips_per_scene, batch, repeats = min(clips_per_scene, 2), min(batch, 4), min(repeats, 2)

    models, samples = [], []
    for path, (config, scenes, model) in loaded.items():
        roots = ensure_scene_datasets(data_root, scenes, "heldout")
        label = f"{config.name} ({path.name})"
        scene_results = []
        for scene, root in tqdm(list(zip(scenes, roots, strict=True)), desc=label, unit="scene"):
            clips = heldout_clips(root, config.temporal_compression, clips_per_scene)
            result, sample = evaluate_scene(model, clips, batch)
            episodes = EpisodeDataset(root).num_episodes
            scene_results.append(
                {"scene": scene.name, "env_id": scene.env_id, "heldout_episodes": episodes, **result}
            )
            samples.append((f"{label}\n{scene.name}", sample))
        models.append(
            {
                "checkpoint": str(path),
                "label": label,
                "name": config.name,
                "kind": config.kind,
                "config": config.to_dict(),
                "parameters": sum(p.numel() for p in model.parameters()),
                "scenes": scene_results,
                "overall": _overall(scene_results),
                "speed": measure_speed(model, batch, repeats, device),
                "memory": measure_peak_memory(path, batch, device),
            }
        )
    results = {
        "machine": _machine(device),
        "settings": {
            "quick": quick,
            "clips_per_scene": clips_per_scene,
            "data_root": str(data_root),
            "psnr_ssim_averaging": "per frame, mean over all frames of a scene; overall = mean over scenes",
            "psnr_cap_db": PSNR_CAP_DB,
            "flicker": "mean |diff_t(reconstruction) - diff_t(original)|, uint8 units",
            "cv_latent_bits_per_value": CV_BITS_PER_VALUE,
            "h264": {**H264_OPTIONS, "pix_fmts": list(H264_PIX_FMTS), "rate_control": "crf, bisection 0..51"},
        },
        "models": models,
    }
    markdown = _markdown(results)
    write_bytes_atomic(out / "tokenizer.json", (json.dumps(results, indent=2)).encode())
    write_bytes_atomic(out / "tokenizer.md", markdown.encode())
    _samples_png(out / "tokenizer_samples.png", samples)
    print(markdown)
    return results
