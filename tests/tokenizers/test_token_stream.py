"""The DV token stream: lossless, smaller where tokens repeat or change little, and clear about a bad
stream."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from cosmos_sim.tokenizers.token_stream import (
    CONTEXT_RANGE,
    DELTA_DEFLATE,
    RAW,
    decode_tokens,
    encode_tokens,
)

CODES = 64_000
LEVELS = (8, 8, 8, 5, 5, 5)
HEADER_BYTES = 11
RADIX = np.cumprod([1, *LEVELS[:-1]])


def _mode(stream: bytes) -> int:
    return stream[0]


def test_round_trip_is_exact_and_picks_the_smaller_mode():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, CODES, (5, 8, 8))
    static = np.repeat(noise[:1], 5, axis=0)  # a scene that does not change after latent frame 0
    for tokens in (noise, static, np.zeros((1, 2, 3), np.int32), np.full((3, 4, 4), CODES - 1)):
        stream = encode_tokens(tokens, CODES)
        assert np.array_equal(decode_tokens(stream), tokens)
    # Random indices do not compress: stored raw, 2 bytes a token.
    assert _mode(encode_tokens(noise, CODES)) == RAW
    assert len(encode_tokens(noise, CODES)) == HEADER_BYTES + 2 * noise.size
    # Unchanged positions become zeros: the 4 repeated latent frames cost almost nothing.
    static_stream = encode_tokens(static, CODES)
    assert _mode(static_stream) == DELTA_DEFLATE
    assert len(static_stream) < HEADER_BYTES + 2 * 64 + 40


def test_changing_positions_round_trip_through_the_delta_mode():
    # A mostly static clip whose few changing positions step down and wrap (63999 -> 0 is +1).
    tokens = np.repeat(np.arange(64).reshape(1, 8, 8) * 1000, 6, axis=0)
    tokens[:, 0, 0] = [5, 3, 63_999, 0, 1, 63_998]
    tokens[3:, 7, 7] = 12_345
    stream = encode_tokens(tokens, CODES)
    assert _mode(stream) == DELTA_DEFLATE
    assert np.array_equal(decode_tokens(stream), tokens)


def test_codebooks_above_16_bits_round_trip():
    tokens = np.array([[[0, 2**20, 2**31]]])
    assert np.array_equal(decode_tokens(encode_tokens(tokens, 2**32 - 1)), tokens)


@pytest.mark.parametrize(
    ("tokens", "codes", "message"),
    [
        (np.zeros((2, 2)), CODES, r"need integer indices \(T, h, w\)"),
        (np.zeros((1, 2, 2), np.float32), CODES, "need integer indices"),
        (np.full((1, 2, 2), CODES), CODES, r"indices must lie in \[0, 64000\), got 64000"),
        (np.full((1, 2, 2), -1), CODES, "got -1"),
        (np.zeros((1, 2, 2), np.int64), 1, r"codebook_size must be in \[2, 2\*\*32\)"),
        (np.zeros((1, 2, 2), np.int64), 64000.0, "codebook_size must be an integer, got 64000.0"),
    ],
)
def test_bad_tokens_are_refused(tokens, codes, message):
    with pytest.raises(ValueError, match=message):
        encode_tokens(tokens, codes)


def test_bad_streams_are_refused():
    stream = encode_tokens(np.repeat(np.arange(16).reshape(1, 4, 4), 3, axis=0), CODES)
    with pytest.raises(ValueError, match="11-byte header, got 4 bytes"):
        decode_tokens(stream[:4])
    with pytest.raises(ValueError, match="unknown mode 7 \\(expected 0, 1 or 2\\)"):
        decode_tokens(b"\x07" + stream[1:])
    with pytest.raises(ValueError, match="DEFLATE payload is corrupt"):
        decode_tokens(stream[:HEADER_BYTES] + b"\xff" * 8)
    with pytest.raises(ValueError, match="truncated or followed by extra bytes"):
        decode_tokens(stream + b"\x00")
    with pytest.raises(ValueError, match="truncated or followed by extra bytes"):
        decode_tokens(stream[:-2])
    # A payload that inflates past the header's tokens is refused without inflating all of it.
    bomb = zlib.compress(b"\x00" * 10_000_000, 9)[2:-4]  # raw DEFLATE of 10 MB of zeros
    with pytest.raises(ValueError, match="the header's \\(1, 4, 4\\) tokens need 32"):
        decode_tokens(struct.pack(">BHHHI", DELTA_DEFLATE, 1, 4, 4, CODES) + bomb)
    wrong_shape = struct.pack(">BHHHI", RAW, 2, 4, 4, CODES) + b"\x00" * 10
    with pytest.raises(ValueError, match=r"holds 10 bytes, the header's \(2, 4, 4\) tokens need 64"):
        decode_tokens(wrong_shape)
    odd = struct.pack(">BHHHI", RAW, 1, 1, 1, CODES) + b"\x00"
    with pytest.raises(ValueError, match="holds 1 bytes"):
        decode_tokens(odd)
    no_codebook = struct.pack(">BHHHI", RAW, 1, 1, 1, 0) + b"\x00\x00"
    with pytest.raises(ValueError, match=r"the header's codebook_size must be in \[2, 2\*\*32\), got 0"):
        decode_tokens(no_codebook)
    too_big = struct.pack(">BHHHI", RAW, 1, 1, 1, 10) + b"\x00\x0b"
    with pytest.raises(ValueError, match="a value 11 is not below the codebook size 10"):
        decode_tokens(too_big)


def _moving_square(frames: int = 5, side: int = 8) -> np.ndarray:
    """Tokens of a latent clip like the tokenizer's: a background of a few similar tokens, and a 2x2
    patch whose FSQ digits step by one as it moves one latent to the right each frame."""
    rng = np.random.default_rng(1)
    background = rng.integers(0, 2, (side, side, len(LEVELS))) + np.array([3, 3, 3, 2, 2, 2])
    digits = np.repeat(background[None], frames, axis=0)
    for t in range(frames):
        digits[t, 2:4, t : t + 2] += np.array([1, -1, 1, 0, 1, -1])
    return (digits * RADIX).sum(-1)


def test_context_range_round_trips_and_beats_deflate_on_structured_tokens():
    tokens = _moving_square()
    stream = encode_tokens(tokens, CODES, LEVELS)
    assert _mode(stream) == CONTEXT_RANGE
    assert np.array_equal(decode_tokens(stream), tokens)
    deflated = encode_tokens(tokens, CODES)  # without levels the digit coder is not offered
    assert _mode(deflated) == DELTA_DEFLATE
    assert len(stream) < 0.9 * len(deflated)  # 126 bytes against 150
    # A static clip: every later position is one cheap "unchanged" bit.
    static = np.repeat(tokens[:1], 9, axis=0)
    assert len(encode_tokens(static, CODES, LEVELS)) < len(encode_tokens(tokens[:1], CODES, LEVELS)) + 12


def test_context_range_round_trips_edge_values_and_shapes():
    rng = np.random.default_rng(2)
    for tokens in (
        np.full((3, 2, 2), CODES - 1),  # the top digit of every channel, then a wrap to 0
        np.array([[[CODES - 1]], [[0]], [[1]]]),
        rng.integers(0, CODES, (4, 3, 5)),
        np.zeros((1, 1, 1), np.int64),
    ):
        stream = encode_tokens(tokens, CODES, LEVELS)
        assert np.array_equal(decode_tokens(stream), tokens)
    # Random indices do not compress: raw wins, so the stream never costs more than 2 bytes a token.
    noise = rng.integers(0, CODES, (5, 8, 8))
    assert len(encode_tokens(noise, CODES, LEVELS)) == HEADER_BYTES + 2 * noise.size


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ((8, 8, 8, 5, 5), r"levels \[8, 8, 8, 5, 5\] give 12800 codes, not the codebook size 64000"),
        ((8, 8, 8, 5, 5, 5, 1), r"integers in \[2, 256\)"),
        ((64_000,), r"integers in \[2, 256\)"),
        ((8.0, 8, 8, 5, 5, 5), "integers"),
        ((), "1 to 255 integers"),
    ],
)
def test_bad_levels_are_refused(levels, message):
    with pytest.raises(ValueError, match=message):
        encode_tokens(np.zeros((1, 2, 2), np.int64), CODES, levels)


def test_bad_context_range_streams_are_refused():
    stream = encode_tokens(_moving_square(), CODES, LEVELS)
    assert _mode(stream) == CONTEXT_RANGE
    levels_end = HEADER_BYTES + 1 + len(LEVELS)
    for byte, bit in ((levels_end + 1, 0x40), (levels_end + 5, 0x01), (len(stream) - 6, 0x80)):
        flipped = bytearray(stream)  # a bit of the range-coded words
        flipped[byte] ^= bit
        with pytest.raises(ValueError, match="CONTEXT_RANGE payload is corrupt"):
            decode_tokens(bytes(flipped))
    checksum = bytearray(stream)
    checksum[-1] ^= 0x01
    with pytest.raises(ValueError, match="its checksum does not match"):
        decode_tokens(bytes(checksum))
    with pytest.raises(ValueError, match="not 6 levels, 4-byte words and a 4-byte checksum"):
        decode_tokens(stream[:-1])
    with pytest.raises(ValueError, match="payload is empty"):
        decode_tokens(stream[:HEADER_BYTES])
    wrong_levels = stream[:HEADER_BYTES] + bytes([6, 8, 8, 8, 5, 5, 4]) + stream[levels_end:]
    with pytest.raises(ValueError, match="the stream's levels .* give 51200 codes"):
        decode_tokens(wrong_levels)
    huge = struct.pack(">BHHHI", CONTEXT_RANGE, 1024, 1024, 1024, CODES) + stream[HEADER_BYTES:]
    with pytest.raises(ValueError, match=r"\(1024, 1024, 1024\) tokens exceed"):
        decode_tokens(huge)
