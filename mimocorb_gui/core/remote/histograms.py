"""Histograms of a served run for viewers on other machines: what the histogram exporters count.

The served side (``RunServer``) keeps one ``HistogramPublisher`` per histogrammed buffer. It reads
the run's own feed (``Run.histograms(buffer)``: the live counts in the run directory) at most every
``MIN_INTERVAL`` seconds, however many viewers ask, and numbers each state that differs from the
one before (``version``). A viewer (``RemoteHistograms``, what ``RemoteRun.histograms`` returns)
asks with the version it holds and gets nothing but ``{"changed": false}`` while the counts stay the
same. When they changed, the answer is compact:

- head (JSON): ``version``, ``base`` (the version the counts are relative to, or null for full
  counts), and per channel ``name``, ``total`` (values histogrammed: bins + underflow + overflow +
  NaN), ``bins`` (number of counts) and ``edges`` ``[min, max]`` when the edges are
  ``numpy.linspace(min, max, bins + 1)`` (as core.livehist writes them), else null;
- per channel one frame: the counts as little-endian int64, minus the base version's counts when
  ``base`` is set, zlib-compressed (a spectrum's later states differ in few bins: mostly zeros);
  then, only where ``edges`` is null, one frame of the bin edges as little-endian float64.

The publisher keeps the state before the newest, so a viewer that keeps up (polls at least as often
as the counts change) gets differences; any other viewer gets full counts. After the run ended the
next request reads the final counts at once. Nothing a malformed answer holds crashes a viewer:
it keeps the counts it had and says why in ``error``. No Qt here.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable

import numpy as np

from mimocorb_gui.core.histfeed import HistogramData

__all__ = ["MIN_INTERVAL", "HistogramPublisher", "RemoteHistograms", "decode_histograms", "encode_histograms"]

MIN_INTERVAL = 0.25  # s between two reads of a buffer's histograms on the served side
COUNT_DTYPE = np.dtype("<i8")
EDGE_DTYPE = np.dtype("<f8")
MAX_BINS = 1 << 22  # counts per channel a viewer accepts (32 MiB of int64)


def _linspace_edges(edges: np.ndarray) -> list[float] | None:
    """[min, max] if ``edges`` is exactly numpy.linspace(min, max, len(edges)), else None."""
    if len(edges) < 2:
        return None
    lo, hi = float(edges[0]), float(edges[-1])
    return [lo, hi] if np.array_equal(edges, np.linspace(lo, hi, len(edges))) else None


def _same_layout(a: HistogramData, b: HistogramData) -> bool:
    return a.keys() == b.keys() and all(
        len(a[ch][1]) == len(b[ch][1]) and np.array_equal(a[ch][0], b[ch][0]) for ch in a
    )


def _same_counts(a: HistogramData | None, b: HistogramData) -> bool:
    return (
        a is not None
        and _same_layout(a, b)
        and all(a[ch][2] == b[ch][2] and np.array_equal(a[ch][1], b[ch][1]) for ch in a)
    )


def encode_histograms(
    data: HistogramData, version: int, base: HistogramData | None = None, base_version: int | None = None
) -> tuple[dict, list[bytes]]:
    """The head and frames of ``data`` (as differences to ``base`` if given and of the same layout)."""
    relative = base is not None and base_version is not None and _same_layout(data, base)
    channels, frames, edge_frames = [], [], []
    for ch, (edges, counts, total) in data.items():
        values = np.asarray(counts, dtype=COUNT_DTYPE)
        if relative:
            values = values - np.asarray(base[ch][1], dtype=COUNT_DTYPE)
        compact = _linspace_edges(np.asarray(edges, dtype=float))
        channels.append({"name": ch, "total": int(total), "bins": len(values), "edges": compact})
        frames.append(zlib.compress(values.tobytes(), 1))
        if compact is None:
            edge_frames.append(np.asarray(edges, dtype=EDGE_DTYPE).tobytes())
    head = {
        "changed": True,
        "version": version,
        "base": base_version if relative else None,
        "channels": channels,
    }
    return head, frames + edge_frames


def decode_histograms(head: dict, frames: list, base: HistogramData | None) -> HistogramData:
    """The counts an answer of ``encode_histograms`` holds (``base``: the viewer's state of ``head['base']``).

    Raises ValueError saying what is wrong with a malformed answer.
    """
    channels = head.get("channels")
    if not isinstance(channels, list) or len(frames) < len(channels):
        raise ValueError("histogram answer: 'channels' and frames do not match")
    relative = head.get("base") is not None
    if relative and base is None:
        raise ValueError("histogram answer relative to counts this viewer does not hold")
    out: HistogramData = {}
    edge_frames = iter(frames[len(channels) :])
    for entry, frame in zip(channels, frames, strict=False):
        try:
            name, total, bins, compact = (
                str(entry["name"]),
                int(entry["total"]),
                int(entry["bins"]),
                entry["edges"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"histogram answer: bad channel entry {entry!r}") from exc
        if not 0 < bins <= MAX_BINS:
            raise ValueError(f"histogram answer: channel '{name}' with {bins} bins (at most {MAX_BINS})")
        inflate = zlib.decompressobj()
        try:
            raw = inflate.decompress(bytes(frame), bins * COUNT_DTYPE.itemsize + 1)
        except zlib.error as exc:
            raise ValueError(f"histogram answer: channel '{name}': {exc}") from exc
        if len(raw) != bins * COUNT_DTYPE.itemsize or inflate.unconsumed_tail:
            raise ValueError(f"histogram answer: channel '{name}' does not hold {bins} counts")
        counts = np.frombuffer(raw, COUNT_DTYPE).copy()
        if compact is not None:
            lo, hi = (float(v) for v in compact)
            edges = np.linspace(lo, hi, bins + 1)
        else:
            edge_bytes = bytes(next(edge_frames, b""))
            if len(edge_bytes) != (bins + 1) * EDGE_DTYPE.itemsize:
                raise ValueError(f"histogram answer: channel '{name}' without its {bins + 1} bin edges")
            edges = np.frombuffer(edge_bytes, EDGE_DTYPE).astype(float)
        if relative:
            held = base.get(name)
            if held is None or len(held[1]) != bins:
                raise ValueError(
                    f"histogram answer: differences to channel '{name}' this viewer does not hold"
                )
            counts += held[1]
        out[name] = (edges, counts, total)
    return out


class HistogramPublisher:
    """The served side of one buffer's histograms: throttled reads, numbered states, compact answers."""

    def __init__(self, feed, run_ended: Callable[[], bool], min_interval: float = MIN_INTERVAL) -> None:
        self.feed = feed  # anything with read() -> HistogramData | None, close()
        self.run_ended = run_ended
        self.min_interval = min_interval
        self.version = 0  # 0: nothing yet
        self.reads = 0
        self._data: HistogramData | None = None
        self._previous: tuple[int, HistogramData] | None = None
        self._read_at = -float("inf")
        self._final = False
        self._answers: dict[int | None, tuple[dict, list[bytes]]] = {}

    def _update(self) -> None:
        now = time.monotonic()
        ended = self.run_ended()
        if self._final or (now - self._read_at < self.min_interval and not ended):
            return
        self._read_at = now
        self._final = ended  # the counts read after the run ended are the last ones
        data = self.feed.read()
        self.reads += 1
        if not data or _same_counts(self._data, data):
            return
        if self._data is not None:
            self._previous = (self.version, self._data)
        self._data = data
        self.version += 1
        self._answers = {}

    def answer(self, held_version: int) -> tuple[dict, list[bytes]]:
        """The answer to a viewer holding ``held_version`` of the counts (head without ``ok``)."""
        self._update()
        if self._data is None or held_version == self.version:
            return {"changed": False, "version": self.version}, []
        base = self._previous if self._previous is not None and self._previous[0] == held_version else None
        key = None if base is None else base[0]
        if key not in self._answers:
            self._answers[key] = encode_histograms(
                self._data, self.version, None if base is None else base[1], key
            )
        return self._answers[key]

    def close(self) -> None:
        self.feed.close()


class RemoteHistograms:
    """A served run's histograms of one buffer, read like a local ``HistogramFeed`` (read / close)."""

    kind = "remote"

    def __init__(self, request: Callable, buffer: str) -> None:
        self._request = request  # RemoteRun.request
        self.buffer = buffer
        self.version = 0
        self.error = ""
        self.received_bytes = 0  # frames of the answers that held counts
        self._data: HistogramData | None = None
        self._closed = False

    def read(self) -> HistogramData | None:
        """The newest counts (one request; unchanged counts cost a few bytes), or the last ones after close()."""
        if self._closed:
            return self._copy()
        reply = self._request(
            {"op": "histograms", "buffer": self.buffer, "version": self.version}, frames=True
        )
        if reply is None:
            return self._copy()
        head, frames = reply
        if not head.get("ok"):
            self.error = str(head.get("error", "histograms refused"))
        elif head.get("changed"):
            try:
                self._data = decode_histograms(
                    head, frames, self._data if head.get("base") == self.version else None
                )
                self.version = int(head["version"])
                self.received_bytes += sum(len(f) for f in frames)
                self.error = ""
            except (ValueError, KeyError, TypeError) as exc:
                self.error = str(exc)
                self.version = 0  # ask for full counts next time
        return self._copy()

    def _copy(self) -> HistogramData | None:
        if self._data is None:
            return None
        return {ch: (edges, counts.copy(), total) for ch, (edges, counts, total) in self._data.items()}

    def close(self) -> None:
        """No more requests; read() keeps answering with the last counts (the final ones after a run)."""
        self._closed = True
