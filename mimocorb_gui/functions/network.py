"""Stream a buffer to another run over ZeroMQ (``network.send``) and receive it (``network.receive``);
send a monitoring copy of an observed buffer that never slows the acquisition (``network.monitor``).

The sockets and the wire format live in ``core.remote.link`` and ``core.remote.wire``; this module
holds the two prebuilt functions, their config checks and their logging.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.remote.link import LOSSY_RETRY, EventReceiver, EventSender
from mimocorb_gui.core.remote.security import is_loopback, normalize_address
from mimocorb_gui.core.templates import Exporter, Importer, Observer, _forward, setup_check
from mimocorb_gui.functions._checks import check_number, flag_problem, number_problem
from mimocorb_gui.functions._pacing import EventPacer

__all__ = ["monitor", "receive", "send"]

DEFAULT_HEARTBEAT = 1.0  # s between heartbeats of an idle sender
HEARTBEAT_TIMEOUTS = 3  # heartbeats a receiver misses before it counts a sender as vanished
PROBLEMS_LOGGED = 10  # problems of one kind logged one by one; after that every 100th and a summary


def _check_link(config: Mapping, setup_dir: Path | None = None, sender: bool = True, **_) -> list[str]:
    """Config problems of a network worker, before anything starts."""
    problems = []
    address = config.get("address")
    if not isinstance(address, str | int) or isinstance(address, bool) or not str(address).strip():
        problems.append(
            f"'address' is missing or not text, got {address!r} (valid: tcp://127.0.0.1:PORT, ipc:///path, or a port)"
        )
    else:
        text = normalize_address(address)
        if text.split("://", 1)[0] not in ("tcp", "ipc"):
            problems.append(f"'address' {address!r}: unknown transport (valid: tcp://HOST:PORT, ipc://PATH)")
        elif config.get("keys") is None and not is_loopback(text):
            problems.append(
                f"'address' {text} is not a loopback address: other machines could connect. Make keys with "
                "'mimocorb keys DIR' and give 'keys: DIR' (the connecting side also 'server_key: FILE', the binding "
                "side's DIR/mimocorb.key), or use tcp://127.0.0.1:PORT"
            )
    checks = [flag_problem(key, config[key]) for key in ("bind", "lossy") if key in config]
    checks.append(number_problem("heartbeat", config.get("heartbeat", DEFAULT_HEARTBEAT), above=0))
    if not sender:
        checks.append(number_problem("senders", config.get("senders", 1), minimum=1, integer=True))
    if "max_rate" in config:  # network.monitor
        checks.append(number_problem("max_rate", config["max_rate"], minimum=0))
    problems += [p for p in checks if p]
    for key in ("keys", "server_key"):
        value = config.get(key)
        if value is not None:
            path = Path(value) if setup_dir is None else Path(setup_dir) / value
            if not path.exists():
                problems.append(f"'{key}': {path} does not exist (make keys with 'mimocorb keys DIR')")
    return problems


def _path(io: BufferIO, key: str) -> Path | None:
    value = io.get(key)
    return None if value is None else io.setup_dir / value


def _link_options(io: BufferIO, bind_default: bool) -> dict:
    return {
        "bind": bool(io.get("bind", bind_default)),
        "lossy": bool(io.get("lossy", False)),
        "heartbeat": float(io.get("heartbeat", DEFAULT_HEARTBEAT)),
        "keys": _path(io, "keys"),
        "server_key": _path(io, "server_key"),
        "where": f"worker '{io.name}'",
    }


def _raise_problems(io: BufferIO, sender: bool) -> None:
    problems = _check_link(io.config, setup_dir=io.setup_dir, sender=sender)
    if problems:
        raise ValueError(f"worker '{io.name}': " + "; ".join(problems))


@setup_check(lambda config, setup_dir=None, **_: _check_link(config, setup_dir, sender=True))
def send(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Send every event of the source buffer to another run over the network.

    Reads the source buffer and sends each event (data with its counter, timestamp and dead time)
    to ``address``, where a ``network.receive`` worker of another run puts it into its buffer.
    Lossless by default: while the receiver is slow or not there yet, this worker waits and the
    source buffer fills, so the importer upstream accumulates dead time exactly as with a full ring
    buffer. With ``lossy: true`` events that do not fit the network queue are dropped and counted
    instead (for a monitoring copy that never slows the acquisition, network.monitor observes the
    buffer instead of reading every event). When the run is stopped and the
    receiver stays unreachable for three heartbeats, the remaining events are counted as not sent
    and the worker ends. Wire format: ``mimocorb_gui.core.remote.wire``.

    Type
    ----
    Exporter

    Buffers
    -------
    sources
        1
    sinks
        Pass through data without modification to all sinks. Must share same dtype as source buffer.
    observes
        0

    Configs
    -------
    address : str
        Where the receiver is: tcp://HOST:PORT, ipc:///path, or a port (tcp://127.0.0.1:PORT).
        A non-loopback address needs 'keys'.
    bind : bool, optional (default=False)
        Bind the address here and let the receiver connect (default: the receiver binds and every
        sending process connects, so many senders fan in to one receiver).
    lossy : bool, optional (default=False)
        Never wait for the receiver: an event that finds the network queue full is dropped and counted.
    heartbeat : float, optional (default=1)
        Seconds between heartbeats while no event is sent; the receiver counts a sender silent for
        three heartbeats as vanished.
    keys : str, optional
        Directory made by 'mimocorb keys DIR' (CurveZMQ pair and allowed_keys), relative to the setup.
    server_key : str, optional
        The binding side's public key file (its DIR/mimocorb.key), needed with 'keys' when connecting.

    Examples
    --------
    >>> # Workers:  send: {function: network.send, sources: [InputBuffer],
    >>> #                  config: {address: "tcp://127.0.0.1:5600"}}
    """
    exporter = Exporter(buffer_io)
    _raise_problems(buffer_io, sender=True)
    reader, writers, log = exporter.reader, buffer_io.write, buffer_io.logger
    source = reader.buffer
    options = _link_options(buffer_io, bind_default=False)
    give_up_after = HEARTBEAT_TIMEOUTS * options["heartbeat"]
    sender = EventSender(normalize_address(buffer_io["address"]), source.dtype, source.data_length, **options)

    def give_up(blocked: float) -> bool:
        return buffer_io.stop_requested and blocked >= give_up_after

    unsent = 0
    idle = min(0.5, options["heartbeat"] / 2)
    try:
        while True:
            idx = reader.acquire(timeout=idle)
            if idx == -2:
                sender.beat()
                continue
            if idx < 0:
                break
            meta, data = reader.slot(idx)
            try:
                _forward(writers, meta, data)
            except BaseException:
                reader.release(idx)
                raise
            if not sender.send(meta, data, release=lambda i=idx: reader.release(i), give_up=give_up):
                if options["lossy"]:
                    continue
                unsent = 1 + buffer_io.drain_sources()
                log.warning(
                    f"receiver at {sender.address} unreachable for {give_up_after:g} s after the stop: "
                    f"{unsent} event(s) not sent"
                )
                break
        if unsent == 0:
            # lossless: wait for the acknowledgement as for a send (until a stop, then 3 silent heartbeats);
            # lossy: never longer than 3 silent heartbeats
            end_give_up = give_up if not options["lossy"] else (lambda silent: silent >= give_up_after)
            if not sender.end(end_give_up):
                log.warning(
                    f"end of stream not acknowledged by {sender.address} (silent for {give_up_after:g} s): "
                    "events still on the way may be lost"
                )
    finally:
        sender.close(linger=give_up_after if unsent == 0 else 0.0)
        buffer_io.shutdown_sinks()
    lossy_note = f", {sender.dropped} dropped (queue full)" if options["lossy"] else ""
    log.info(f"sent {sender.sent} event(s) to {sender.address}{lossy_note}")


@setup_check(lambda config, setup_dir=None, **_: _check_link(config, setup_dir, sender=True))
def monitor(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Send copies of the newest events of an observed buffer to another run (lossy).

    A monitoring copy that never slows the acquisition: it observes the buffer (it never takes an
    event from a worker, and its process runs at a lower priority than the acquisition) and sends
    the newest event whenever the network queue has room, at most ``max_rate`` events per second.
    Events it did not sample or that found the queue full are counted here (the log's last line);
    the receiving ``network.receive`` (with ``lossy: true``) counts what was lost on the way. Ends
    with the observed buffer or the run, sending end of stream.

    Type
    ----
    Observer

    Buffers
    -------
    sources
        0
    sinks
        0
    observes
        1 (the buffer whose events are copied; the receiver's sink has its dtype and data_length)

    Configs
    -------
    address : str
        Where the receiver is: tcp://HOST:PORT, ipc:///path, or a port (tcp://127.0.0.1:PORT).
        A non-loopback address needs 'keys'.
    max_rate : float, optional (default=0)
        Events per second sent at most; 0: as many as the network and the receiver take.
    bind : bool, optional (default=False)
        Bind the address here and let the receiver connect.
    heartbeat : float, optional (default=1)
        Seconds between heartbeats while no event is sent.
    keys : str, optional
        Directory made by 'mimocorb keys DIR' (CurveZMQ pair and allowed_keys), relative to the setup.
    server_key : str, optional
        The binding side's public key file (its DIR/mimocorb.key), needed with 'keys' when connecting.

    Examples
    --------
    >>> # Workers:  monitor: {function: network.monitor, observes: [InputBuffer],
    >>> #                     config: {address: "tcp://127.0.0.1:5601", max_rate: 50}}
    >>> # the receiving run:  {function: network.receive, sinks: [Monitor], config: {address: 5601, lossy: true}}
    """
    observer = Observer(buffer_io)
    _raise_problems(buffer_io, sender=True)
    max_rate = check_number(buffer_io, "max_rate", 0, minimum=0)
    buffer = buffer_io.observe[0].buffer
    options = _link_options(buffer_io, bind_default=False) | {"lossy": True}
    give_up_after = HEARTBEAT_TIMEOUTS * options["heartbeat"]
    sender = EventSender(normalize_address(buffer_io["address"]), buffer.dtype, buffer.data_length, **options)
    pacer = EventPacer(max_rate, "uniform", should_stop=lambda: buffer_io.stop_requested)
    try:
        for data, meta in observer():
            if data is None:
                break
            if not sender.send(meta, data):
                time.sleep(LOSSY_RETRY)  # the queue is full: sampling again at once would only cost CPU
            sender.beat()
            pacer.wait()
        if not sender.end(lambda silent: silent >= give_up_after):
            buffer_io.logger.warning(f"end of stream not acknowledged by {sender.address}")
    finally:
        sender.close(linger=give_up_after)
    written = int(buffer.events_written)
    buffer_io.logger.info(
        f"sent {sender.sent} of the {written} event(s) written to '{buffer.name}' to {sender.address}; "
        f"not sent {written - sender.sent}: {sender.dropped} dropped (queue full), the rest not sampled"
    )


class _ProblemLog:
    """Log each kind of receive problem: the first few one by one, then every 100th, and a summary."""

    def __init__(self, io: BufferIO) -> None:
        self.io = io
        self.seen: dict[str, int] = {}

    def __call__(self, reason: str, text: str) -> None:
        n = self.seen[reason] = self.seen.get(reason, 0) + 1
        if reason == "vanished":
            self.io.logger.error(f"{text}")
        elif n <= PROBLEMS_LOGGED or n % 100 == 0:
            self.io.logger.warning(f"message dropped ({reason}, #{n}): {text}")


@setup_check(lambda config, setup_dir=None, **_: _check_link(config, setup_dir, sender=False))
def receive(buffer_io: BufferIO) -> None:
    """mimoCoRB2 Function: Receive events sent by network.send workers of other runs into the sink buffer.

    Puts every event that arrives at ``address`` into the sink buffer, keeping the counter,
    timestamp and dead time the sending side gave it; the time this worker waits for a free slot
    in its sink is added to the event's dead time (and to the buffer's dead-time total). The stream
    ends when each of the ``senders`` sending processes has ended its stream, or has been silent
    for three heartbeats (a vanished sender, logged as an error); then the sink is closed and the
    run ends in order. Messages that do not fit the sink (other dtype or data_length, naming both),
    truncated, oversized or undecodable ones are dropped, counted and logged; the run goes on.

    Type
    ----
    Importer

    Buffers
    -------
    sources
        0
    sinks
        1 with the dtype and data_length of the sending side's source buffer
    observes
        0

    Configs
    -------
    address : str
        Where to receive: tcp://HOST:PORT, ipc:///path, or a port (tcp://127.0.0.1:PORT). A non-loopback
        address needs 'keys'.
    bind : bool, optional (default=True)
        Bind the address here (senders connect); false to connect to a sender that binds.
    senders : int, optional (default=1)
        Number of sending processes (all workers, all machines) whose end of stream ends this one.
    lossy : bool, optional (default=False)
        The senders are lossy (lossy: true there): a sender joining late is not an error; gaps are counted.
    heartbeat : float, optional (default=1)
        The senders' heartbeat interval; a sender silent for three of them counts as vanished.
    keys : str, optional
        Directory made by 'mimocorb keys DIR'; its allowed_keys lists who may connect.
    server_key : str, optional
        The binding side's public key file, needed with 'keys' when this side connects.

    Examples
    --------
    >>> # Workers:  receive: {function: network.receive, sinks: [InputBuffer],
    >>> #                     config: {address: "tcp://127.0.0.1:5600", senders: 1}}
    """
    importer = Importer(buffer_io)
    _raise_problems(buffer_io, sender=False)
    writer, log = importer.writer, buffer_io.logger
    sink = writer.buffer
    options = _link_options(buffer_io, bind_default=True)
    problems = _ProblemLog(buffer_io)
    receiver = EventReceiver(
        normalize_address(buffer_io["address"]),
        sink.dtype,
        sink.data_length,
        senders=int(buffer_io.get("senders", 1)),
        heartbeat_timeout=HEARTBEAT_TIMEOUTS * options["heartbeat"],
        on_problem=problems,
        **options,
    )
    log.info(f"receiving at {receiver.address} from {receiver.expected_senders} sender(s)")
    t0 = time.monotonic()
    try:
        while not receiver.ended:
            stopping = buffer_io.stop_requested
            msg = receiver.poll(0.0 if stopping else 0.1)
            if msg is None:
                if stopping:
                    break  # stopped: what had arrived is stored, the rest stays with the senders
                continue
            idx = writer.acquire()
            receiver.shift_clocks(writer.last_wait)
            if idx >= 0:
                writer.raw(idx)[:] = np.frombuffer(msg.data, np.uint8)
                writer.set_metadata(idx, msg.counter, msg.timestamp, msg.deadtime + writer.last_wait)
            writer.commit(idx)
    finally:
        receiver.close()
        buffer_io.shutdown_sinks()
        c = receiver.counts
        dropped = ", ".join(f"{k}: {v}" for k, v in sorted(c.dropped.items())) or "none"
        log.info(
            f"received {c.events} event(s) in {time.monotonic() - t0:.1f} s; senders ended {c.senders_ended}, "
            f"vanished {c.senders_vanished}; lost in transit {c.lost_in_transit}; messages dropped: {dropped}"
        )
