"""Worker templates of the mimoCoRB2 manual: Importer, Exporter, Filter, Processor, Observer, IsAlive.

Each template checks at construction that the worker has the buffers it needs (raising
``SetupError`` naming the worker and what is wrong) and then moves events with the
ring buffer's handles. When source and sink share a dtype, events are copied as bytes.
The same rules are published in ``TEMPLATE_RULES`` for the setup validator and the editor.

Like mimoCoRB2's template base, every template object carries the members of its BufferIO
(``io``, ``read``, ``write``, ``observe``, ``config``, ``logger``, ``name``, ``run_dir``,
``setup_dir``, ``shutdown_sinks``, ``drain_sources``). ``SetupError`` and ``UfuncError`` behave as
there: the message is logged and the sinks are shut down before the raise; in a run the run is
also asked to stop, and the worker process drains the sources (counting what it discards) before
it ends (a BufferIO made by hand, outside a run, is not drained: nothing would end its sources).
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
    "SetupError",
    "TemplateRule",
    "UfuncError",
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


def _clean_up_for_error(instance, message: str) -> None:
    """What mimoCoRB2 does before raising a template error: log, shut the sinks, drain the sources."""
    if instance is None:
        return
    logger = getattr(instance, "logger", None)
    if logger is not None:
        logger.error(message)
    io = getattr(instance, "io", instance)
    stop_flag = getattr(io, "stop_flag", None)
    instance.shutdown_sinks()
    if stop_flag is not None:
        # in a run: it ends in order (the importers stop); the worker process then drains the
        # sources and counts what it discarded (core.workers). A BufferIO made by hand has no stop
        # request to give: draining would wait for an end that may never come
        stop_flag.set()


class SetupError(RuntimeError):
    """mimoCoRB2's ``SetupError(instance, message, exception=None)``: a worker's setup does not fit."""

    def __init__(self, instance, message: str, exception: BaseException | None = None) -> None:
        _clean_up_for_error(instance, message)
        if exception is not None:
            message += f" ({exception})"
        super().__init__(message)


class SetupCheckError(SetupError, ValueError):
    """A worker's buffers do not fit the template it uses (a ``SetupError``; also a ``ValueError``)."""


class UfuncError(RuntimeError):
    """mimoCoRB2's ``UfuncError``: a template's user function failed or returned something unusable.

    ``UfuncError(instance, message, exception=None, ufunc_input=None, ufunc_output=None)`` logs the
    message (and the input/output given), shuts the sinks down and drains the sources, as there.
    """

    def __init__(
        self,
        instance,
        message: str,
        exception: BaseException | None = None,
        ufunc_input=None,
        ufunc_output=None,
    ) -> None:
        logger = getattr(instance, "logger", None)
        if logger is not None:
            if ufunc_input is not None:
                logger.error("Input: %s", ufunc_input)
            if ufunc_output is not None:
                logger.error("Output: %s", ufunc_output)
        _clean_up_for_error(instance, message)
        if exception is not None:
            message += f" ({type(exception).__name__}: {exception})"
        super().__init__(message)


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
        # mimoCoRB2's template base: the BufferIO's members on the template object
        self.read = io.read
        self.write = io.write
        self.observe = io.observe
        self.config = io.config
        self.logger = io.logger
        self.name = io.name
        self.run_dir = io.run_dir
        self.setup_dir = io.setup_dir
        self.shutdown_sinks = io.shutdown_sinks
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
            raise SetupCheckError(self, "; ".join(problems))

    def drain_sources(self) -> int:
        """Read and discard what is left in the sources until they end; returns the count."""
        self.logger.info("Draining sources")
        return self.io.drain_sources()

    def _stopped(self) -> bool:
        return self.io.stop_requested


def _fmt(dtype: np.dtype) -> str:
    return "{" + ", ".join(f"{n}: {dtype[n].str.lstrip('<|=')}" for n in dtype.names) + "}"


class Importer(_Template):
    """Worker class for importing data from an external generator into the single sink.

    ``importer(ufunc)``: ``ufunc()`` is a generator yielding events shaped like ``data_example``
    and finally ``None``. Metadata is added: counter, timestamp (when the event was ready) and
    deadtime with mimoCoRB2's meaning: the *fraction* ``(t_written - t_ready) / (t_written -
    t_previous)`` of the time since the previous event was written that went into waiting for a
    free slot (plus source dead time reported with ``add_deadtime``). The buffer's dead-time
    total (what the GUI shows) keeps counting seconds. The loop also ends when the run is stopped.
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
        if not callable(ufunc):
            raise UfuncError(self, "ufunc not callable")
        writer = self.writer
        rb = writer.buffer
        dtype, shape = rb.dtype, (rb.data_length,)
        small = rb.data_length * dtype.itemsize <= _SMALL_EVENT_BYTES
        stop = self.io.stop_flag.shared_value if self.io.stop_flag is not None else None
        now = time.time
        gen = ufunc()
        t_previous = now()  # when the previous event was written (mimoCoRB2's time_last_event)
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
                t_written = now()
                waited = t_written - t_ready
                if self._source_deadtime:
                    waited += self._source_deadtime
                    writer.last_wait += self._source_deadtime
                    self._source_deadtime = 0.0
                # mimoCoRB2's meaning: the fraction of the time since the previous event spent not ready
                span = t_written - t_previous
                fraction = min(1.0, waited / span) if span > 0 else 0.0
                writer.set_metadata(idx, self.counter, t_ready, fraction)
                writer.commit(idx)
                self.counter += 1
                t_previous = t_written
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
        if not callable(ufunc):
            raise UfuncError(self, "ufunc not callable")
        writers = self.io.write
        n_sinks = len(writers)
        with self.events() as events:
            for meta, data in events:
                try:
                    result = ufunc(data)
                except Exception as exc:
                    raise UfuncError(self, "ufunc failed", exc, ufunc_input=data) from exc
                if isinstance(result, bool | np.bool_):
                    targets = writers if result else ()
                else:
                    result = list(result)
                    if len(result) != n_sinks:
                        raise UfuncError(
                            self,
                            f"Filter worker '{self.io.name}': ufunc returned {len(result)} values for {n_sinks} sinks",
                            ufunc_input=data,
                            ufunc_output=result,
                        )
                    targets = [w for w, keep in zip(writers, result, strict=True) if keep]
                _forward(targets, meta, data)


class Processor(_OneSource):
    """Worker class for processing: ``ufunc(data)`` returns None (skip) or one result per sink (None skips)."""

    rule_name = "Processor"

    def __call__(self, ufunc: Callable[[np.ndarray], list | None]) -> None:
        if not callable(ufunc):
            raise UfuncError(self, "ufunc not callable")
        writers = self.io.write
        n_sinks = len(writers)
        with self.events() as events:
            for meta, data in events:
                try:
                    results = ufunc(data)
                except Exception as exc:
                    raise UfuncError(self, "ufunc failed", exc, ufunc_input=data) from exc
                if results is None:
                    continue
                if isinstance(results, np.ndarray) or len(results) != n_sinks:
                    raise UfuncError(
                        self,
                        f"Processor worker '{self.io.name}': ufunc must return None or a list of "
                        f"{n_sinks} results (one per sink: {', '.join(self.io.buffer_names_out)})",
                        ufunc_input=data,
                        ufunc_output=results,
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
