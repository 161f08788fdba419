"""Ring buffers for single-process worker tests: made and removed together, drained to a list, or
filled by a worker function running in a thread."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager

from mimocorb_gui.core.bufferio import BufferIO, StopFlag
from mimocorb_gui.core.ringbuffer import RingBuffer


@contextmanager
def rings(*specs):
    """``with rings((name, slots, length, dtype), ...) as (a, b):`` buffers unlinked afterwards."""
    made = []
    try:
        for spec in specs:
            made.append(RingBuffer(*spec))
        yield made
    finally:
        for rb in made:
            rb.unlink()


def drain(rb, timeout: float = 10.0) -> list:
    """Copies of ``(metadata, data)`` of every event until the end of stream; fails on a timeout."""
    reader = rb.reader()
    out = []
    while True:
        idx = reader.acquire(timeout=timeout)
        assert idx != -2, "timeout while draining"
        if idx < 0:
            return out
        m, d = reader.slot(idx)
        out.append((m.copy(), d.copy()))
        reader.release(idx)


class WorkerThread:
    """A worker function (e.g. an importer) in a thread of this process, writing into a RingBuffer read here.

    ``with WorkerThread(redpitaya.waveform, config) as w: events = w.take(10)``; leaving the block
    sets the stop flag, joins the thread and removes the buffer. What the function raised is in
    ``error``, what it logged in ``messages()``.
    """

    def __init__(
        self,
        function,
        config: dict,
        data_length: int = 1000,
        fields=("IN1", "IN2"),
        kind: str = "int16",
        slot_count: int = 16,
        run_dir=".",
        setup_dir=".",
    ) -> None:
        self.rb = RingBuffer(
            f"worker_thread_{id(self) & 0xFFFFFF:x}", slot_count, data_length, {f: kind for f in fields}
        )
        self.stop_flag = StopFlag()
        self.records: list[logging.LogRecord] = []
        logger = logging.getLogger(f"test.worker_thread.{id(self)}")
        logger.setLevel(logging.DEBUG)
        handler = logging.Handler()
        handler.emit = self.records.append  # type: ignore[method-assign]
        logger.addHandler(handler)
        self.function = function
        self.io = BufferIO(
            function.__name__,
            [],
            [self.rb.writer(0)],
            [],
            config=config,
            logger=logger,
            stop_flag=self.stop_flag,
            run_dir=run_dir,
            setup_dir=setup_dir,
        )
        self.reader = self.rb.reader()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.function(self.io)
        except BaseException as e:  # reported to the test
            self.error = e

    def __enter__(self) -> WorkerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_flag.set()
        self.thread.join(timeout=5)
        self.rb.close()
        self.rb.unlink()

    def take(self, n: int, timeout: float = 10.0) -> list:
        """Copies of ``(metadata, data)`` of up to ``n`` events: fewer at the end of stream or after ``timeout``."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            idx = self.reader.acquire(timeout=0.2)
            if idx == -1:
                break
            if idx >= 0:
                meta, data = self.reader.slot(idx)
                out.append((meta.copy(), data.copy()))
                self.reader.release(idx)
        return out

    def drain(self, timeout: float = 10.0) -> list:
        """Everything until end of stream (the worker closed its sink), or what came within ``timeout``."""
        return self.take(10**9, timeout)

    def messages(self) -> str:
        return "\n".join(r.getMessage() for r in self.records)
