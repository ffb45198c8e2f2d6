"""A lossless byte stream of one clip's discrete (DV) token indices: what storing the tokens costs.

A DV tokenizer's nominal rate is ``log2(codebook_size)`` bits for every latent position. Stored, the
indices compress: where the scene does not change, a position keeps its token from one latent frame
to the next, and flat backgrounds repeat one token across space. This stream takes the smallest of

  - ``RAW``: the indices as big-endian 16-bit values (32-bit above 65,536 codes), 2 bytes a token
    (the nominal rate of the default 64,000 codes is 15.97 bits);
  - ``DELTA_DEFLATE``: latent frame 0 as it is, every later frame as its difference from the frame
    before (modulo the codebook size, so unchanged positions are 0), in the same values, compressed
    by DEFLATE (``zlib``, raw, level 9);
  - ``CONTEXT_RANGE`` (only when the FSQ ``levels`` are given): each token split into its FSQ digits
    and range-coded (``constriction``) under adaptive context models, the way a video codec's
    entropy coder (H.264's CABAC) works. In raster order, latent frame by latent frame:

      * latent frame 0: each digit under a model keyed by the digit's channel and the same digit of
        the token on its left (flat areas repeat);
      * later frames: one "unchanged since the previous latent frame" bit per position, keyed by the
        same bit of the left and upper neighbours (static regions cluster); for a changed token, each
        digit's step from the previous frame (modulo its level count) under a model keyed by its
        channel (FSQ channels move by small steps).

    Every model starts from the Krichevsky-Trofimov estimate (a half count per symbol) and learns
    the clip as it goes, so the stream needs no table fitted to any data and decodes on its own. A
    CRC-32 of the tokens closes the payload: a range coder cannot tell a corrupt payload from a
    valid one, the checksum can,

after an 11-byte header (mode; frames, height and width in latents; codebook size), so a stream
decodes on its own; ``CONTEXT_RANGE`` adds the levels (a count byte, then a byte each).
``decode_tokens(encode_tokens(t, k, levels)) == t`` always; the tokenizer benchmark checks it on
every clip whose rate it reports.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable, Sequence

import constriction
import numpy as np

RAW, DELTA_DEFLATE, CONTEXT_RANGE = 0, 1, 2
MODE_NAMES = {RAW: "raw", DELTA_DEFLATE: "delta_deflate", CONTEXT_RANGE: "context_range"}
"""A stream's first byte (its mode) -> the name reports use."""
_HEADER = struct.Struct(">BHHHI")  # mode, frames, height, width, codebook size
_DEFLATE_LEVEL = 9
_CRC = struct.Struct(">I")
_WORD = np.dtype(">u4")  # the range coder's compressed words, stored big-endian
_MAX_CONTEXT_TOKENS = 2**22
"""``CONTEXT_RANGE`` codes token by token in Python (~15 us a token); a longer clip is not offered it,
and a stream that claims more is refused instead of decoded for minutes."""


def _check_codebook_size(codebook_size: int, where: str) -> None:
    if isinstance(codebook_size, bool) or not isinstance(codebook_size, (int, np.integer)):
        raise ValueError(f"{where} codebook_size must be an integer, got {codebook_size!r}")
    if not 2 <= codebook_size < 2**32:
        raise ValueError(f"{where} codebook_size must be in [2, 2**32), got {codebook_size}")


def _check_levels(levels: Sequence[int], codebook_size: int, where: str) -> list[int]:
    levels = list(levels)
    if not 1 <= len(levels) <= 255 or any(
        isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n < 256 for n in levels
    ):
        raise ValueError(f"{where} levels must be 1 to 255 integers in [2, 256), got {levels!r}")
    if math.prod(levels) != codebook_size:
        raise ValueError(
            f"{where} levels {levels} give {math.prod(levels)} codes, not the codebook size {codebook_size}"
        )
    return [int(n) for n in levels]


def _value_dtype(codebook_size: int) -> str:
    return ">u2" if codebook_size <= 2**16 else ">u4"


def _delta_deflated(tokens: np.ndarray, codebook_size: int) -> bytes:
    delta = tokens.copy()
    delta[1:] = (tokens[1:] - tokens[:-1]) % codebook_size
    compressor = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -15)  # raw DEFLATE, no zlib header
    raw = delta.astype(_value_dtype(codebook_size)).tobytes()
    return compressor.compress(raw) + compressor.flush()


# ---- CONTEXT_RANGE: FSQ digits under adaptive context models ---------------------------------------

_Coder = Callable[[tuple, int, "int | None"], int]
"""``code(context, alphabet, symbol)``: codes ``symbol`` (encoding) or reads it (decoding, ``None``)
under the adaptive model of ``context`` over ``alphabet`` symbols, and returns it."""


def _walk(
    shape: tuple[int, int, int], levels: list[int], code: _Coder, source: np.ndarray | None
) -> np.ndarray:
    """The digits ``(T, h, w, len(levels))`` of a clip, visited in coding order; encoding and decoding
    run this one function, so their contexts cannot drift apart. ``source``: the digits to encode."""
    frames, height, width = shape
    digits = np.zeros((*shape, len(levels)), np.int64)
    unchanged = np.zeros(shape, bool)
    for t in range(frames):
        for y in range(height):
            for x in range(width):
                if t > 0:  # 2 = no neighbour there
                    left = int(unchanged[t, y, x - 1]) if x else 2
                    up = int(unchanged[t, y - 1, x]) if y else 2
                    same = None if source is None else int((source[t, y, x] == source[t - 1, y, x]).all())
                    if code(("unchanged", left, up), 2, same):
                        unchanged[t, y, x] = True
                        digits[t, y, x] = digits[t - 1, y, x]
                        continue
                for i, n in enumerate(levels):
                    if t == 0:
                        left = int(digits[t, y, x - 1, i]) if x else n  # n = no neighbour
                        value = None if source is None else int(source[t, y, x, i])
                        digits[t, y, x, i] = code(("first", i, left), n, value)
                    else:
                        before = int(digits[t - 1, y, x, i])
                        step = None if source is None else (int(source[t, y, x, i]) - before) % n
                        digits[t, y, x, i] = (before + code(("step", i), n, step)) % n
    return digits


def _adaptive(operate: Callable[[int | None, object], int]) -> _Coder:
    """A ``_Coder`` whose models are Krichevsky-Trofimov counts (kept doubled, so exact integers)."""
    counts: dict[tuple, np.ndarray] = {}

    def code(context: tuple, alphabet: int, symbol: int | None) -> int:
        table = counts.setdefault(context, np.ones(alphabet))
        model = constriction.stream.model.Categorical(table / table.sum(), lazy=True)
        symbol = operate(symbol, model)
        table[symbol] += 2
        return symbol

    return code


def _radix(levels: list[int]) -> np.ndarray:
    """Place values of the FSQ digits: mixed radix, the first channel least significant."""
    return np.cumprod([1, *levels[:-1]], dtype=np.int64)


def _tokens_crc(tokens: np.ndarray) -> bytes:
    return _CRC.pack(zlib.crc32(tokens.astype(">u4").tobytes()))


def _context_ranged(tokens: np.ndarray, levels: list[int]) -> bytes:
    digits = (tokens[..., None] // _radix(levels)) % np.array(levels)
    encoder = constriction.stream.queue.RangeEncoder()

    def encode(symbol: int | None, model) -> int:
        encoder.encode(symbol, model)
        return symbol

    _walk(tokens.shape, levels, _adaptive(encode), digits)
    levels_bytes = bytes([len(levels), *levels])
    return levels_bytes + encoder.get_compressed().astype(_WORD).tobytes() + _tokens_crc(tokens)


def _context_range_decoded(payload: bytes, shape: tuple[int, int, int], codebook_size: int) -> np.ndarray:
    if not payload:
        raise ValueError("decode_tokens: the CONTEXT_RANGE payload is empty (no levels)")
    count = payload[0]
    start = 1 + count
    if len(payload) < start + _CRC.size or (len(payload) - start - _CRC.size) % _WORD.itemsize:
        raise ValueError(
            f"decode_tokens: the CONTEXT_RANGE payload of {len(payload)} bytes is not {count} levels, "
            f"4-byte words and a 4-byte checksum"
        )
    if math.prod(shape) > _MAX_CONTEXT_TOKENS:
        raise ValueError(
            f"decode_tokens: the header's {shape} tokens exceed the {_MAX_CONTEXT_TOKENS} a CONTEXT_RANGE "
            "stream may hold"
        )
    levels = _check_levels(payload[1:start], codebook_size, "decode_tokens: the stream's")
    words = np.frombuffer(payload[start : -_CRC.size], _WORD).astype(np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    try:
        digits = _walk(shape, levels, _adaptive(lambda _, model: decoder.decode(model)), None)
    except AssertionError as error:  # constriction's report of words no model could have written
        raise ValueError(f"decode_tokens: the CONTEXT_RANGE payload is corrupt: {error}") from None
    tokens = (digits * _radix(levels)).sum(-1)
    if _tokens_crc(tokens) != payload[-_CRC.size :]:
        raise ValueError("decode_tokens: the CONTEXT_RANGE payload is corrupt (its checksum does not match)")
    return tokens


# ---- the stream ------------------------------------------------------------------------------------


def encode_tokens(tokens: np.ndarray, codebook_size: int, levels: Sequence[int] | None = None) -> bytes:
    """int token indices ``(T, h, w)`` of one clip, each in ``[0, codebook_size)`` -> stream bytes.
    ``levels``: the tokenizer's FSQ levels (their product is ``codebook_size``); with them the
    ``CONTEXT_RANGE`` mode competes too."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 3 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"encode_tokens: need integer indices (T, h, w), got {tokens.dtype} {tokens.shape}")
    _check_codebook_size(codebook_size, "encode_tokens:")
    if levels is not None:
        levels = _check_levels(levels, codebook_size, "encode_tokens:")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= codebook_size):
        raise ValueError(
            f"encode_tokens: indices must lie in [0, {codebook_size}), got {tokens.min()} .. {tokens.max()}"
        )
    if max(tokens.shape) >= 2**16:
        raise ValueError(f"encode_tokens: each side must be < 65536 latents, got {tokens.shape}")
    tokens = tokens.astype(np.int64)
    candidates = {
        RAW: tokens.astype(_value_dtype(codebook_size)).tobytes(),
        DELTA_DEFLATE: _delta_deflated(tokens, codebook_size),
    }
    if levels is not None and tokens.size <= _MAX_CONTEXT_TOKENS:
        candidates[CONTEXT_RANGE] = _context_ranged(tokens, levels)
    mode = min(candidates, key=lambda m: len(candidates[m]))
    return _HEADER.pack(mode, *tokens.shape, codebook_size) + candidates[mode]


def decode_tokens(stream: bytes) -> np.ndarray:
    """Stream bytes -> int64 token indices ``(T, h, w)``."""
    if len(stream) < _HEADER.size:
        raise ValueError(
            f"decode_tokens: a stream has an {_HEADER.size}-byte header, got {len(stream)} bytes"
        )
    mode, frames, height, width, codebook_size = _HEADER.unpack_from(stream)
    payload, shape = stream[_HEADER.size :], (frames, height, width)
    count = frames * height * width
    if mode not in (RAW, DELTA_DEFLATE, CONTEXT_RANGE):
        raise ValueError(
            f"decode_tokens: unknown mode {mode} (expected {RAW}, {DELTA_DEFLATE} or {CONTEXT_RANGE})"
        )
    _check_codebook_size(codebook_size, "decode_tokens: the header's")
    if mode == CONTEXT_RANGE:
        return _context_range_decoded(payload, shape, codebook_size)
    dtype = np.dtype(_value_dtype(codebook_size))
    raw = payload
    if mode == DELTA_DEFLATE:
        inflater = zlib.decompressobj(-15)
        try:  # inflate no more than the header's tokens need (and one byte to notice more)
            raw = inflater.decompress(payload, count * dtype.itemsize + 1)
        except zlib.error as error:
            raise ValueError(f"decode_tokens: the DEFLATE payload is corrupt: {error}") from None
        if len(raw) <= count * dtype.itemsize and (not inflater.eof or inflater.unused_data):
            raise ValueError("decode_tokens: the DEFLATE payload is truncated or followed by extra bytes")
    if len(raw) != count * dtype.itemsize:
        raise ValueError(
            f"decode_tokens: the payload holds {len(raw)} bytes, the header's {shape} tokens need "
            f"{count * dtype.itemsize}"
        )
    values = np.frombuffer(raw, dtype).astype(np.int64).reshape(shape)
    if values.size and values.max() >= codebook_size:
        raise ValueError(
            f"decode_tokens: a value {values.max()} is not below the codebook size {codebook_size}"
        )
    return values if mode == RAW else np.cumsum(values, axis=0) % codebook_size
