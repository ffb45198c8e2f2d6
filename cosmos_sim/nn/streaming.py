"""Streaming state for causal temporal layers.

A causal video network can encode a clip chunk by chunk and give exactly the numbers it gives for
the whole clip, provided each layer that looks back in time remembers what it saw: a temporal
convolution its last ``kernel - stride`` input frames, a temporal attention its past keys and values,
the Haar patcher and the temporal resamplers whether the clip has started. ``TemporalCache`` holds
that memory, one entry per layer; ``streaming(cache)`` makes it visible to every layer called inside
the ``with`` block, so the layers' ``forward`` signatures stay those of plain modules (and the
published module tree is unchanged). Outside a ``streaming`` block no layer keeps any state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from torch import nn

_ACTIVE: ContextVar[TemporalCache | None] = ContextVar("cosmos_sim_temporal_cache", default=None)


class TemporalCache:
    """What each causal temporal layer of one stream has seen so far (tensors on the stream's device)."""

    def __init__(self) -> None:
        self._entries: dict[int, Any] = {}
        self._owners: dict[int, nn.Module] = {}  # keeps ids valid while the cache lives

    def get(self, layer: nn.Module) -> Any:
        return self._entries.get(id(layer))

    def put(self, layer: nn.Module, value: Any) -> None:
        self._entries[id(layer)] = value
        self._owners[id(layer)] = layer

    def __len__(self) -> int:
        return len(self._entries)

    # Entries are keyed by id(layer), which a pickled or deep-copied cache (a pickled env, say) does
    # not keep: store (layer, value) pairs instead and re-key on load, with the "started" marker
    # stored by name because a copied sentinel is a different object.
    def __getstate__(self) -> dict[str, Any]:
        pairs = [
            (self._owners[key], "started" if value is _STARTED else value)
            for key, value in self._entries.items()
        ]
        return {"pairs": pairs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._entries, self._owners = {}, {}
        for layer, value in state["pairs"]:
            self.put(layer, _STARTED if isinstance(value, str) and value == "started" else value)


def active_cache() -> TemporalCache | None:
    """The cache of the ``streaming`` block being executed, or None when the whole clip is at hand."""
    return _ACTIVE.get()


@contextmanager
def streaming(cache: TemporalCache) -> Iterator[TemporalCache]:
    """Run the enclosed forward passes as the next chunk of the stream that ``cache`` remembers."""
    token = _ACTIVE.set(cache)
    try:
        yield cache
    finally:
        _ACTIVE.reset(token)


_STARTED = object()


def continues_stream(layer: nn.Module) -> bool:
    """True if ``layer`` already processed an earlier chunk of the active stream (then it must not
    treat the chunk's first frame as the clip's first frame). Marks ``layer`` as started."""
    cache = active_cache()
    if cache is None:
        return False
    started = cache.get(layer) is _STARTED
    cache.put(layer, _STARTED)
    return started
