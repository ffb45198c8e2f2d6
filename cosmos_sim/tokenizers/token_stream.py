"""A lossless byte stream of one clip's discrete (DV) token indices: what storing the tokens costs.

A DV tokenizer's nominal rate is ``log2(codebook_size)`` bits for every latent position. Stored, the
indices compress: where the scene does not change, a position keeps its token from one latent frame
to the next, and flat backgrounds repeat one token across space. This stream takes the smaller of

  - ``RAW``: the indices as big-endian 16-bit values (32-bit above 65,536 codes), 2 bytes a token
    (the nominal rate of the default 64,000 codes is 15.97 bits);
  - ``DELTA_DEFLATE``: latent frame 0 as it is, every later frame as its difference from the frame
    before (modulo the codebook size, so unchanged positions are 0), in the same values, compressed
    by DEFLATE (``zlib``, raw, level 9),

after an 11-byte header (mode; frames, height and width in latents; codebook size), so a stream
decodes on its own. ``decode_tokens(encode_tokens(t, k)) == t`` always; the tokenizer benchmark
checks it on every clip whose rate it reports.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

RAW, DELTA_DEFLATE = 0, 1
_HEADER = struct.Struct(">BHHHI")  # mode, frames, height, width, codebook size
_DEFLATE_LEVEL = 9


def _check_codebook_size(codebook_size: int, where: str) -> None:
    if isinstance(codebook_size, bool) or not isinstance(codebook_size, (int, np.integer)):
        raise ValueError(f"{where} codebook_size must be an integer, got {codebook_size!r}")
    if not 2 <= codebook_size < 2**32:
        raise ValueError(f"{where} codebook_size must be in [2, 2**32), got {codebook_size}")


def _value_dtype(codebook_size: int) -> str:
    return ">u2" if codebook_size <= 2**16 else ">u4"


def _delta_deflated(tokens: np.ndarray, codebook_size: int) -> bytes:
    delta = tokens.copy()
    delta[1:] = (tokens[1:] - tokens[:-1]) % codebook_size
    compressor = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -15)  # raw DEFLATE, no zlib header
    raw = delta.astype(_value_dtype(codebook_size)).tobytes()
    return compressor.compress(raw) + compressor.flush()


def encode_tokens(tokens: np.ndarray, codebook_size: int) -> bytes:
    """int token indices ``(T, h, w)`` of one clip, each in ``[0, codebook_size)`` -> stream bytes."""
    tokens = np.asarray(tokens)
    if tokens.ndim != 3 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"encode_tokens: need integer indices (T, h, w), got {tokens.dtype} {tokens.shape}")
    _check_codebook_size(codebook_size, "encode_tokens:")
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
    if mode not in (RAW, DELTA_DEFLATE):
        raise ValueError(f"decode_tokens: unknown mode {mode} (expected {RAW} or {DELTA_DEFLATE})")
    _check_codebook_size(codebook_size, "decode_tokens: the header's")
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
