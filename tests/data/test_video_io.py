"""Video I/O: encode quality and size, exact time-range decoding, lossless remuxing, clear errors."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from cosmos_sim.data.video_io import VideoError, concatenate_videos, decode_video, encode_video, probe_video


def _gray_ramp(length: int, size: int = 32) -> np.ndarray:
    """Frame t is a uniform gray of level 8*t: after lossy coding its index is still round(mean/8)."""
    levels = (8 * np.arange(length)).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (length, size, size, 3)).copy()


def _frame_ids(frames: np.ndarray) -> list[int]:
    return np.rint(frames.reshape(len(frames), -1).mean(axis=1) / 8).astype(int).tolist()


def test_round_trip_of_rendered_scenes_keeps_40_db(tmp_path, synthetic):
    for index in range(3):
        frames = synthetic.render_frames(index, 41)
        path = tmp_path / f"episode{index}.mp4"
        encode_video(path, frames, fps=20)
        decoded = decode_video(path, expected_frames=len(frames))
        assert decoded.dtype == np.uint8 and decoded.shape == frames.shape
        assert synthetic.psnr(decoded, frames) >= 40.0
        # yuv444p at CRF 10 on 64x64 scenes: a few hundred bytes per frame, not raw size (12 kB).
        assert path.stat().st_size < 41 * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode0.mp4", "episode1.mp4", "episode2.mp4"]


def test_yuv420p_loses_the_colour_edges_yuv444p_keeps(tmp_path, synthetic):
    # Why yuv444p is the default: halved chroma resolution blurs one-pixel colour edges.
    frames = synthetic.render_frames(0, 17)
    encode_video(tmp_path / "444.mp4", frames, fps=20)
    encode_video(tmp_path / "420.mp4", frames, fps=20, pix_fmt="yuv420p")
    psnr_444 = synthetic.psnr(decode_video(tmp_path / "444.mp4"), frames)
    psnr_420 = synthetic.psnr(decode_video(tmp_path / "420.mp4"), frames)
    assert psnr_444 > psnr_420 + 5.0


def test_odd_frame_sizes_work_in_yuv444p_and_are_a_clear_error_in_yuv420p(tmp_path, synthetic):
    frames = synthetic.render_frames(1, 9)[:, :63, :61]
    encode_video(tmp_path / "odd.mp4", frames, fps=20)
    decoded = decode_video(tmp_path / "odd.mp4", expected_frames=9)
    assert decoded.shape == (9, 63, 61, 3)
    assert synthetic.psnr(decoded, frames) >= 40.0
    with pytest.raises(ValueError, match=r"odd420\.mp4.*even.*63x61"):
        encode_video(tmp_path / "odd420.mp4", frames, fps=20, pix_fmt="yuv420p")
    assert not (tmp_path / "odd420.mp4").exists()


def test_bad_frames_are_rejected_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"bad\.mp4.*uint8 \(T, H, W, 3\)"):
        encode_video(tmp_path / "bad.mp4", np.zeros((4, 8, 8, 3), np.float32), fps=20)
    with pytest.raises(ValueError, match="fps"):
        encode_video(tmp_path / "bad.mp4", np.zeros((4, 8, 8, 3), np.uint8), fps=0)
    # Too small for the time base: it would be written as 0 and read back as FFmpeg's default 24 fps.
    with pytest.raises(ValueError, match=r"fps 1e-05 is not a ratio with a denominator up to 10000"):
        encode_video(tmp_path / "bad.mp4", np.zeros((4, 8, 8, 3), np.uint8), fps=1e-5)
    assert list(tmp_path.iterdir()) == []
    encode_video(tmp_path / "ok.mp4", np.zeros((4, 8, 8, 3), np.uint8), fps=np.float32(30), crf=np.int64(10))
    encode_video(tmp_path / "ntsc.mp4", np.zeros((4, 8, 8, 3), np.uint8), fps=Fraction(30000, 1001))
    assert probe_video(tmp_path / "ntsc.mp4")["video.fps"] == pytest.approx(29.97, abs=1e-3)


def _encode_with_threads(path, frames, threads: int) -> bytes:
    """The same encode as encode_video's defaults, with x264 on ``threads`` threads."""
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=20)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv444p"
        stream.codec_context.thread_count = threads
        stream.options = {
            "g": "32",
            "bf": "0",
            "crf": "10",
            "x264-params": "keyint=32:min-keyint=32:scenecut=0",
        }
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return Path(path).read_bytes()


def test_the_file_depends_on_the_frames_not_on_the_core_count(tmp_path):
    # x264 decides differently on more threads (at this size), so a file encoded on a machine with more
    # cores would differ; encode_video runs one, as on any machine.
    frames = np.random.default_rng(0).integers(0, 256, (30, 256, 256, 3), dtype=np.uint8)
    encode_video(tmp_path / "ours.mp4", frames, fps=20)
    one, four = (_encode_with_threads(tmp_path / f"{n}.mp4", frames, n) for n in (1, 4))
    assert one != four, "frames too easy to tell thread counts apart"
    assert (tmp_path / "ours.mp4").read_bytes() == one


def test_decode_selects_exactly_the_frames_in_the_range(tmp_path):
    frames = _gray_ramp(30)
    path = tmp_path / "ramp.mp4"
    encode_video(path, frames, fps=10, gop=4)  # keyframes at 0, 4, 8, ...: starts fall between them
    assert _frame_ids(decode_video(path)) == list(range(30))
    assert _frame_ids(decode_video(path, start=0.7, end=1.3)) == [7, 8, 9, 10, 11, 12]
    assert _frame_ids(decode_video(path, start=2.5)) == list(range(25, 30))
    # Range ends stored as float seconds (0.1 * 3 = 0.30000000000000004) select the same frames.
    assert _frame_ids(decode_video(path, start=0.1 * 3, end=0.1 * 6, expected_frames=3)) == [3, 4, 5]


def test_wrong_frame_count_and_unreadable_files_name_the_file(tmp_path):
    path = tmp_path / "ramp.mp4"
    encode_video(path, _gray_ramp(12), fps=10)
    with pytest.raises(
        VideoError, match=r"ramp\.mp4: expected 5 frames in \[0\.000000, 0\.400000\) s, decoded 4"
    ):
        decode_video(path, end=0.4, expected_frames=5)

    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(VideoError, match=r"truncated\.mp4: unreadable video"):
        decode_video(truncated)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 100)
    with pytest.raises(VideoError, match=r"garbage\.mp4: unreadable video"):
        decode_video(garbage)
    with pytest.raises(FileNotFoundError, match=r"missing\.mp4"):
        decode_video(tmp_path / "missing.mp4")


def test_concatenation_is_lossless_and_returns_each_inputs_time_span(tmp_path, synthetic):
    lengths = [9, 5, 13]
    parts = []
    for index, length in enumerate(lengths):
        parts.append(tmp_path / f"part{index}.mp4")
        encode_video(parts[-1], synthetic.render_frames(index, length), fps=20)
    spans = concatenate_videos(parts, tmp_path / "all.mp4")

    assert spans == [(0.0, 9 / 20), (9 / 20, 14 / 20), (14 / 20, 27 / 20)]
    for part, (begin, end), length in zip(parts, spans, lengths, strict=True):
        segment = decode_video(tmp_path / "all.mp4", start=begin, end=end, expected_frames=length)
        # Remuxing copies the compressed packets, so every decoded pixel is unchanged.
        np.testing.assert_array_equal(segment, decode_video(part))
    assert probe_video(tmp_path / "all.mp4") == {
        "video.height": 64,
        "video.width": 64,
        "video.codec": "h264",
        "video.pix_fmt": "yuv444p",
        "video.is_depth_map": False,
        "video.fps": 20,
        "video.channels": 3,
        "has_audio": False,
    }
    assert len(decode_video(tmp_path / "all.mp4")) == sum(lengths)


def test_concatenating_videos_with_other_parameters_is_a_clear_error(tmp_path, synthetic):
    encode_video(tmp_path / "a.mp4", synthetic.render_frames(0, 5), fps=20)
    encode_video(tmp_path / "b.mp4", synthetic.render_frames(0, 5)[:, :32, :32], fps=20)
    with pytest.raises(VideoError, match=r"b\.mp4: cannot be remuxed after .*a\.mp4.*width: 64 vs 32"):
        concatenate_videos([tmp_path / "a.mp4", tmp_path / "b.mp4"], tmp_path / "out.mp4")
    with pytest.raises(FileNotFoundError, match=r"nope\.mp4"):
        concatenate_videos([tmp_path / "a.mp4", tmp_path / "nope.mp4"], tmp_path / "out.mp4")
    # Nothing half-written is left under the output name or as a temporary file.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4", "b.mp4"]
