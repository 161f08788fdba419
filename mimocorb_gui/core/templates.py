"""Worker templates of the mimoCoRB2 manual: Importer, Exporter, Filter, Processor, Observer, IsAlive.

Each template checks at construction that the worker has the buffers it needs (raising
``SetupCheckError`` naming the worker and what is wrong) and then moves events with the
ring buffer's handles. When source and sink share a dtype, events are copied as bytes.
The same rules are published in ``TEMPLATE_RULES`` for the setup validator and the editor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.ringbuffer import Reader, Writer

__all__ = [
    "TEMPLATE_RULES",
    "copy_event",
    "setup_check",
    "Exporter",
    "Filter",
    "Importer",
    "IsAlive",
    "Observer",
    "Processor",
    "SetupCheckError",
    "TemplateRule",
]


_SMALL_EVENT_BYTES = 4096  # below this, bytes() + memoryview copy beats a NumPy slice assignment


def setup_check(check: Callable[..., list[str]]) -> Callable[[Callable], Callable]:
    """Attach a check that the setup validator runs before anything starts.

    ``check(config, sources=[BufferSpec], sinks=[BufferSpec], observes=[BufferSpec], setup_dir=Path)
    -> [message]`` gets the worker's merged config, its buffers (with ``name``, ``slot_count``,
    ``data_length``, ``dtype``) and the setup's folder (accept ``**_`` for what you do not need); each message becomes an error at ``Workers.<name>.config``, naming the key and
    the valid choices. Usable on user functions too::

        @setup_check(lambda config, **buffers: [] if "threshold" in config else ["'threshold' is missing"])
        def my_filter(io): ...
    """

    def attach(function: Callable) -> Callable:
        function.check_setup = check
        return function

    return attach


class SetupCheckError(ValueError):
    """A worker's buffers do not fit the template it uses."""


@dataclass(frozen=True)
class TemplateRule:
    """How many buffers of each role a template accepts (max None = any) and dtype rules."""

    sources: tuple[int, int | None]
    sinks: tuple[int, int | None]
    observes: tuple[int, int | None]
    sinks_share_source_dtype: bool = False

    def check(self, worker: str, template: str, n_sources: int, n_sinks: int, n_observes: int) -> list[str]:
        problems = []
        for role, (lo, hi), n in (
            ("sources", self.sources, n_sources),
            ("sinks", self.sinks, n_sinks),
            ("observes", self.observes, n_observes),
        ):
            if n < lo or (hi is not None and n > hi):
                want = f"exactly {lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
                problems.append(f"{template} worker '{worker}' needs {want} {role}, has {n}")
        return problems


TEMPLATE_RULES: dict[str, TemplateRule] = {
    "Importer": TemplateRule(sources=(0, 0), sinks=(1, 1), observes=(0, 0)),
    "Exporter": TemplateRule(sources=(1, 1), sinks=(0, None), observes=(0, 0), sinks_share_source_dtype=True),
    "Filter": TemplateRule(sources=(1, 1), sinks=(1, None), observes=(0, 0), sinks_share_source_dtype=True),
    "Processor": TemplateRule(sources=(1, 1), sinks=(1, None), observes=(0, 0)),
    "Observer": TemplateRule(sources=(0, 0), sinks=(0, 0), observes=(1, 1)),
    "IsAlive": TemplateRule(sources=(0, None), sinks=(0, None), observes=(0, None)),
}


def copy_event(writer: Writer, idx: int, meta: np.ndarray, data: np.ndarray) -> None:
    """Copy one event into an acquired slot: bytes when the dtypes match, field by field otherwise."""
    out_meta, out_data = writer.slot(idx)
    out_meta[:] = meta
    raw = writer.raw(idx)
    if raw is not None and data.dtype == out_data.dtype and data.shape == out_data.shape:
        raw[:] = data.view(np.uint8)
    else:
        out_data[:] = data


def _forward(writers, meta: np.ndarray, data: np.ndarray) -> None:
    """Copy one event into a new slot of each writer."""
    for w in writers:
        widx = w.acquire()
        copy_event(w, widx, meta, data)
        w.commit(widx)


class _Template:
    rule_name = ""

    def __init__(self, io: BufferIO) -> None:
        self.io = io
        rule = TEMPLATE_RULES[self.rule_name]
        problems = rule.check(io.name, self.rule_name, len(io.read), len(io.write), len(io.observe))
        if rule.sinks_share_source_dtype and io.read:
            src = io.read[0].buffer.dtype
            for w in io.write:
                if w.buffer.dtype != src:
                    problems.append(
                        f"{self.rule_name} worker '{io.name}': sink '{w.buffer.name}' must have the dtype of "
                        f"source '{io.read[0].buffer.name}' ({_fmt(src)}), has {_fmt(w.buffer.dtype)}"
                    )
                elif w.buffer.data_length != io.read[0].buffer.data_length:
                    problems.append(
                        f"{self.rule_name} worker '{io.name}': sink '{w.buffer.name}' must have the data_length "
                        f"of source '{io.read[0].buffer.name}' ({io.read[0].buffer.data_length}), "
                        f"has {w.buffer.data_length}"
                    )
        if problems:
            raise SetupCheckError("; ".join(problems))

    def _stopped(self) -> bool:
        return self.io.stop_requested


def _fmt(dtype: np.dtype) -> str:
    return "{" + ", ".join(f"{n}: {dtype[n].str.lstrip('<|=')}" for n in dtype.names) + "}"


class Importer(_Template):
    """Worker class for importing data from an external generator into the single sink.

    ``importer(ufunc)``: ``ufunc()`` is a generator yielding events shaped like ``data_example``
    and finally ``None``. Metadata is added: counter, timestamp (when the event was ready) and
    deadtime (seconds from ready until stored, i.e. the wait for a free slot, plus
    source dead time reported with ``add_deadtime``). The loop also ends
    when the run is stopped.
    """

    rule_name = "Importer"

    def __init__(self, io: BufferIO) -> None:
        super().__init__(io)
        self.writer = io.write[0]
        self.data_example = self.writer.data_example
        self.metadata_example = self.writer.metadata_example
        self.counter = 0
        self._source_deadtime = 0.0

    def add_deadtime(self, seconds: float) -> None:
        """Report dead time of the source itself (e.g. a board re-arming) before the next yielded event.

        It is added to that event's ``deadtime`` metadata and to the buffer's dead-time total.
        """
        self._source_deadtime += seconds

    def __call__(self, ufunc: Callable[[], Iterator]) -> None:
        writer = self.writer
        rb = writer.buffer
        dtype, shape = rb.dtype, (rb.data_length,)
        small = rb.data_length * dtype.itemsize <= _SMALL_EVENT_BYTES
        stop = self.io.stop_flag.shared_value if self.io.stop_flag is not None else None
        now = time.time
        gen = ufunc()
        try:
            for data in gen:
                if data is None or (stop is not None and stop.value):
                    break
                t_ready = now()
                idx = writer.acquire()
                try:
                    if (
                        idx >= 0
                        and type(data) is np.ndarray
                        and data.dtype == dtype
                        and data.shape == shape
                        and data.flags.c_contiguous
                    ):
                        # same layout: copy bytes (a field-by-field assignment is ~30x slower)
                        if small:
                            rb.slot_memoryviews[idx][:] = data.tobytes()
                        else:
                            rb.slot_bytes[idx][:] = data.view(np.uint8)
                    else:
                        writer.slot(idx)[1][:] = data
                except BaseException:
                    writer.discard(idx)
                    raise
                deadtime = now() - t_ready
                if self._source_deadtime:
                    deadtime += self._source_deadtime
                    writer.last_wait += self._source_deadtime
                    self._source_deadtime = 0.0
                writer.set_metadata(idx, self.counter, t_ready, deadtime)
                writer.commit(idx)
                self.counter += 1
        finally:
            close = getattr(gen, "close", None)
            if close is not None:
                close()
            self.io.shutdown_sinks()


class _OneSource(_Template):
    """A template reading one source buffer."""

    def __init__(self, io: BufferIO) -> None:
        super().__init__(io)
        self.reader: Reader = io.read[0]
        self.data_example = self.reader.data_example
        self.metadata_example = self.reader.metadata_example

    @contextmanager
    def events(self) -> Iterator[Iterator[tuple[np.ndarray, np.ndarray]]]:
        """``with t.events() as events: for metadata, data in events:`` each source event until the end.

        An event's slot is given back when the loop moves on (or leaves); the sinks are closed
        when the block ends, however it ends.
        """
        reader = self.reader
        current = [-1]

        def loop() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            while True:
                reader.release(current[0])
                current[0] = reader.acquire()
                if current[0] < 0:
                    return
                yield reader.slot(current[0])

        try:
            yield loop()
        finally:
            reader.release(current[0])
            self.io.shutdown_sinks()


class Exporter(_OneSource):
    """Worker class for exporting data and metadata; identical sinks get a copy of every event.

    ``for data, metadata in exporter:`` yields views into the buffer slot, valid until the next
    iteration, until the source ends.
    """

    rule_name = "Exporter"

    def __iter__(self) -> Generator[tuple[np.ndarray, np.ndarray], None, None]:
        reader, writers = self.reader, self.io.write
        idx = -1
        try:
            while True:
                idx = reader.acquire()
                if idx < 0:
                    break
                meta, data = reader.slot(idx)
                _forward(writers, meta, data)
                yield data, meta
                reader.release(idx)
                idx = -1
        finally:
            reader.release(idx)
            self.io.shutdown_sinks()


class Filter(_OneSource):
    """Worker class for filtering: ``ufunc(data)`` returns a bool (all sinks) or a list of bools (per sink)."""

    rule_name = "Filter"

    def __call__(self, ufunc: Callable[[np.ndarray], bool | list[bool]]) -> None:
        writers = self.io.write
        n_sinks = len(writers)
        with self.events() as events:
            for meta, data in events:
                result = ufunc(data)
                if isinstance(result, bool | np.bool_):
                    targets = writers if result else ()
                else:
                    result = list(result)
                    if len(result) != n_sinks:
                        raise ValueError(
                            f"Filter worker '{self.io.name}': ufunc returned {len(result)} values for {n_sinks} sinks"
                        )
                    targets = [w for w, keep in zip(writers, result, strict=True) if keep]
                _forward(targets, meta, data)


class Processor(_OneSource):
    """Worker class for processing: ``ufunc(data)`` returns None (skip) or one result per sink (None skips)."""

    rule_name = "Processor"

    def __call__(self, ufunc: Callable[[np.ndarray], list | None]) -> None:
        writers = self.io.write
        n_sinks = len(writers)
        with self.events() as events:
            for meta, data in events:
                results = ufunc(data)
                if results is None:
                    continue
                if isinstance(results, np.ndarray) or len(results) != n_sinks:
                    raise ValueError(
                        f"Processor worker '{self.io.name}': ufunc must return None or a list of "
                        f"{n_sinks} results (one per sink: {', '.join(self.io.buffer_names_out)})"
                    )
                for w, result in zip(writers, results, strict=True):
                    if result is None:
                        continue
                    widx = w.acquire()
                    try:
                        copy_event(w, widx, meta, np.asarray(result))
                    except BaseException:
                        w.discard(widx)
                        raise
                    w.commit(widx)


class Observer(_Template):
    """Worker class for observing a buffer: ``observer()`` yields ``(data, metadata)`` copies of new events.

    Never takes a slot from readers. Yields ``(None, None)`` once the buffer is closed (or the run
    stops) and every event was seen, then ends.
    """

    rule_name = "Observer"

    def __init__(self, io: BufferIO, poll_interval: float = 0.01) -> None:
        super().__init__(io)
        self.observer = io.observe[0]
        self.data_example = self.observer.data_example
        self.metadata_example = self.observer.metadata_example
        self.poll_interval = poll_interval

    def __call__(self) -> Generator[tuple[np.ndarray, np.ndarray] | tuple[None, None], None, None]:
        obs = self.observer
        rb = obs.buffer
        while True:
            if obs.new_events() > 0 and obs.copy_latest():
                meta, data = obs.get()
                yield data, meta
                continue
            if rb.closed or self._stopped():
                break
            time.sleep(self.poll_interval)
        yield None, None


class IsAlive(_Template):
    """Worker class for checking whether the observed buffers (or the run) are still alive."""

    rule_name = "IsAlive"

    def __init__(self, io: BufferIO) -> None:
        super().__init__(io)
        self.buffers = [h.buffer for h in (*io.observe, *io.read, *io.write)]

    def __call__(self) -> bool:
        if self._stopped() and not self.buffers:
            return False
        return any(not b.closed for b in self.buffers) if self.buffers else not self._stopped()
