"""Event links between runs over ZeroMQ: the socket side of ``network.send`` and ``network.receive``.

Invariants:

- Lossless (default): DEALER -> ROUTER (a PUSH/PULL with a way back) with small high-water marks. A
  sender whose receiver is slow or absent blocks in ``send`` (its source buffer fills, the importer upstream accumulates dead time,
  as with a full ring buffer). Each event arrives once; the events of one sender arrive in order.
- Lossy (``lossy=True``): the same sockets, but ``send`` never blocks: an event that finds the queue
  full is dropped and counted by the sender (it takes no sequence number); the receiver counts any
  gap in a sender's sequence numbers as lost in transit. (PUB/SUB was the first choice; with libzmq
  4.3.5 a SUB that binds received nothing from a PUB that connects, and the receiver binds here.)
- By default the receiver binds and every sender connects, so many sending processes fan in to one
  receiver; ``bind`` on the sender reverses the roles.
- End of stream is counted: the receiver knows how many senders it expects (``senders``) and its
  stream ends when every one of them has sent END or has been silent for ``heartbeat_timeout``
  seconds (counted as vanished, logged). Senders send a heartbeat after ``heartbeat`` idle seconds.
- A lossless sender closes only after the receiver acknowledged its END (``ACK`` back through the
  ROUTER): libzmq discards what a receiver has not yet read from a connection that closes, so
  closing right after the last send would lose the end of the stream.
- Zero-copy data frames stay owned by ZeroMQ until it has sent them: the sender keeps the source
  slot until the frame's tracker says done (``hold`` callbacks release them in order).
- Nothing a peer sends makes the receiver raise: undecodable, truncated, oversized and mismatching
  messages are dropped, counted by reason, and reported through ``on_problem``.
"""

from __future__ import annotations

import collections
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import zmq

from mimocorb_gui.core.remote import wire
from mimocorb_gui.core.remote.security import HandshakeWatch, secure_socket

__all__ = ["EventReceiver", "EventSender", "ReceiverCounts", "SenderGone"]

LOSSLESS_HWM = 16  # messages queued per peer before a lossless sender blocks
LOSSY_HWM = 256  # a monitoring copy may lag this far behind before it drops
LOSSY_KERNEL_BUFFER = 65536  # bytes of socket buffer per side for a lossy link
# s a lossy sender drops events without trying once its queue was full: a failed send costs more CPU
# (header, frames, exception) than the event's whole way through the acquisition; the queue drains at
# the monitor's pace, so trying again at once would only burn CPU the lossless stream needs
LOSSY_RETRY = 0.002
PENDING_ZERO_COPY = 8  # slots a sender may hold while ZeroMQ still sends their data frames
_POLL_MS = 50
ACK = b"MCRB-ACK"  # the receiver's answer to a sender's END
ALIVE = b"MCRB-ALIVE"  # the receiver's heartbeat to each sender it knows
_META = struct.Struct("<qdd")  # the metadata record (ringbuffer.METADATA_DTYPE) as the header copies it


class SenderGone(Exception):
    """The receiver could not be reached while the run was stopping."""


class _Socket:
    """A socket of its own context (closing it waits, linger, until queued messages have left) with
    CurveZMQ keys applied (core.remote.security), bound or connected; nothing left open if a step fails.

    ``check_handshake()`` raises ``KeyRefused`` once the binding side refused a connecting side's keys.
    """

    def __init__(self, kind: int, address: str, bind: bool, keys, server_key, where: str, **options) -> None:
        self.ctx = zmq.Context()
        self.sock = sock = self.ctx.socket(kind)
        self.auth = self.watch = None
        try:
            for name, value in options.items():
                setattr(sock, name, value)
            self.auth = secure_socket(sock, address, bind, keys, server_key, where)
            if bind:
                sock.bind(address)
            else:
                if keys is not None:
                    self.watch = HandshakeWatch(sock, address, keys, server_key)
                sock.connect(address)
        except BaseException:
            self.close(0)
            raise

    def check_handshake(self) -> None:
        if self.watch is not None:
            self.watch.check()

    def close(self, linger: float) -> None:
        if self.watch is not None:
            self.watch.close()
        self.sock.close(linger=int(linger * 1000))
        if self.auth is not None:
            self.auth.stop()
        self.ctx.term()


class EventSender:
    """One sending process's socket: ``send`` events, ``end`` the stream, ``close``."""

    def __init__(
        self,
        address: str,
        dtype: np.dtype,
        data_length: int,
        *,
        bind: bool = False,
        lossy: bool = False,
        heartbeat: float = 1.0,
        keys=None,
        server_key=None,
        where: str = "",
    ) -> None:
        self.address = address
        self.lossy = lossy
        self.heartbeat = heartbeat
        self.sender_id = int.from_bytes(os.urandom(8), "little")
        self.sequence = 0
        self.dropped = 0
        self.sent = 0
        self._dtype_bytes = wire.dtype_text(dtype)
        self._data_length = data_length
        self._last_send = time.monotonic()
        self._pending: collections.deque = collections.deque()
        self._receiver_seen = time.monotonic()
        self._full_until = 0.0  # lossy: events until then are dropped without a send attempt
        # a lossy monitoring copy shows the newest events: no megabytes of backlog in the kernel
        lossy_options = {"sndbuf": LOSSY_KERNEL_BUFFER} if lossy else {}
        self._socket = _Socket(
            zmq.DEALER, address, bind, keys, server_key, where,
            linger=0, sndhwm=LOSSY_HWM if lossy else LOSSLESS_HWM, **lossy_options,
        )  # fmt: skip
        self.sock = sock = self._socket.sock
        self._poller = zmq.Poller()
        self._poller.register(sock, zmq.POLLOUT)

    def _header(self, kind: int, counter: int = 0, timestamp: float = 0.0, deadtime: float = 0.0) -> bytes:
        header = wire.encode_header(
            kind,
            self.sender_id,
            self.sequence,
            counter,
            timestamp,
            deadtime,
            self._data_length,
            self._dtype_bytes,
        )
        self.sequence += 1
        return header

    def _wait_writable(self, give_up: Callable[[float], bool] | None) -> bool:
        """Block until a message can be queued; False if ``give_up(seconds blocked)`` said so."""
        t0 = time.monotonic()
        while not self._poller.poll(_POLL_MS):
            self._socket.check_handshake()  # refused keys: no receiver will ever take it
            if give_up is not None and give_up(time.monotonic() - t0):
                return False
        return True

    def send(
        self,
        metadata: np.ndarray,
        data: np.ndarray,
        release: Callable[[], None] | None = None,
        give_up: Callable[[float], bool] | None = None,
    ) -> bool:
        """Send one event (``metadata`` a 1-record array, ``data`` its slot's array).

        ``release`` is called once ZeroMQ no longer needs ``data``'s memory (at once for copied
        frames). Returns False if the event was dropped (lossy mode, queue full) or ``give_up`` ended
        a blocked wait (lossless; ``release`` has been called then).
        """
        if self.lossy and time.monotonic() < self._full_until:
            return self._drop(release)  # the queue was full a moment ago: drop without asking ZeroMQ
        meta_bytes = metadata.view(np.uint8)
        counter, timestamp, deadtime = _META.unpack(meta_bytes)
        header = self._header(wire.EVENT, counter, timestamp, deadtime)
        raw = data.view(np.uint8)
        frames = [header, meta_bytes, raw]
        # zero-copy frames keep their slot until ZeroMQ has sent them (smaller ones pyzmq copies anyway);
        # a lossy sender copies: waiting for a slow receiver to take the bytes would block it after all
        track = not self.lossy and raw.nbytes >= zmq.COPY_THRESHOLD
        if self.lossy:
            try:
                tracker = self.sock.send_multipart(frames, zmq.NOBLOCK, copy=True)
            except zmq.Again:
                self._socket.check_handshake()
                self.sequence -= 1  # not sent: the receiver counts only what was lost on the way
                self._full_until = time.monotonic() + LOSSY_RETRY
                return self._drop(release)
        else:
            try:
                tracker = self.sock.send_multipart(frames, zmq.NOBLOCK, copy=False, track=track)
            except zmq.Again:
                if not self._wait_writable(give_up):
                    self.sequence -= 1
                    if release is not None:
                        release()
                    return False
                tracker = self.sock.send_multipart(frames, copy=False, track=track)
        self.sent += 1
        self._last_send = time.monotonic()
        if release is not None:
            if tracker is None or tracker.done:
                release()
            else:
                self._pending.append((tracker, release))
                self._release_done(PENDING_ZERO_COPY)
        return True

    def _drop(self, release: Callable[[], None] | None) -> bool:
        self.dropped += 1
        if release is not None:
            release()
        return False

    def _release_done(self, keep: int) -> None:
        """Release held slots whose frames ZeroMQ has sent; wait while more than ``keep`` are held."""
        pending = self._pending
        while pending and (pending[0][0].done or len(pending) > keep):
            tracker, release = pending.popleft()
            tracker.wait()
            release()

    def beat(self) -> None:
        """Send a heartbeat if nothing was sent for ``heartbeat`` seconds (never blocks)."""
        self._release_done(PENDING_ZERO_COPY)
        self._drain_incoming()
        self._socket.check_handshake()
        if time.monotonic() - self._last_send < self.heartbeat:
            return
        try:
            self.sock.send_multipart([self._header(wire.HEARTBEAT), b"", b""], zmq.NOBLOCK)
        except zmq.Again:
            self.sequence -= 1  # the queue is full of events: they say we are alive
        self._last_send = time.monotonic()

    def _drain_incoming(self) -> bool:
        """Read the receiver's messages (ALIVE, ACK) without waiting; True once END was acknowledged."""
        acked = False
        while True:
            try:
                answer = self.sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                return acked
            self._receiver_seen = time.monotonic()
            acked = acked or answer == ACK

    def end(self, give_up: Callable[[float], bool] | float | None = None) -> bool:
        """Send end of stream and wait for the receiver's acknowledgement; True once it has everything.

        While it waits, ``give_up(seconds since the receiver was last heard of)`` may end the wait
        (the receiver says ALIVE every heartbeat, also while it works through a backlog); a number
        gives up after that many silent seconds.
        """
        if isinstance(give_up, int | float):
            limit = float(give_up)
            give_up = lambda silent: silent >= limit  # noqa: E731
        self._release_done(0)
        self._drain_incoming()
        if not self._wait_writable(give_up):
            return False
        self.sock.send_multipart([self._header(wire.END), b"", b""])
        self._receiver_seen = time.monotonic()
        while True:
            if self._drain_incoming():
                return True
            self._socket.check_handshake()
            if give_up is not None and give_up(time.monotonic() - self._receiver_seen):
                return False
            self.sock.poll(_POLL_MS, zmq.POLLIN)

    def close(self, linger: float = 0.0) -> None:
        """Close the socket, giving queued messages ``linger`` seconds to leave."""
        self._release_done(0)
        self._socket.close(linger)


@dataclass
class ReceiverCounts:
    """What a receiver saw: events, senders ended or vanished, and every drop by its reason."""

    events: int = 0
    senders_ended: int = 0
    senders_vanished: int = 0
    lost_in_transit: int = 0  # lossy: gaps in the senders' sequence numbers
    dropped: dict[str, int] = field(default_factory=dict)  # malformed or refused messages, by reason

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


class EventReceiver:
    """The receiving socket: ``receive`` yields decoded events of the expected dtype and length."""

    def __init__(
        self,
        address: str,
        dtype: np.dtype,
        data_length: int,
        *,
        senders: int = 1,
        bind: bool = True,
        lossy: bool = False,
        heartbeat: float = 1.0,
        heartbeat_timeout: float | None = None,
        keys=None,
        server_key=None,
        where: str = "",
        on_problem: Callable[[str, str], None] | None = None,
    ) -> None:
        self.address = address
        self.dtype = dtype
        self.data_length = data_length
        self.expected_senders = senders
        self.lossy = lossy
        self.heartbeat_timeout = heartbeat_timeout if heartbeat_timeout is not None else 3.0 * heartbeat
        self.counts = ReceiverCounts()
        self.on_problem = on_problem
        self._dtype_bytes = wire.dtype_text(dtype)
        self._data_bytes = data_length * dtype.itemsize
        self._last_seen: dict[int, float] = {}
        self._next_seq: dict[int, int] = {}
        self._done: set[int] = set()
        self._next_check = 0.0
        self._peers: dict[int, bytes] = {}
        self._alive_sent = 0.0
        self.heartbeat = heartbeat
        self._socket = _Socket(
            zmq.ROUTER, address, bind, keys, server_key, where,
            # linger also decides whether a disconnected sender's queued messages are still delivered:
            # with 0 they are discarded when its connection ends (libzmq terminates the pipe at once)
            linger=1000,
            rcvhwm=LOSSY_HWM if lossy else LOSSLESS_HWM,
            **({"rcvbuf": LOSSY_KERNEL_BUFFER} if lossy else {}),
            # a frame far larger than an event is cut off by ZeroMQ before it takes memory
            maxmsgsize=max(self._data_bytes, 4096 + wire.MAX_DTYPE_TEXT) + 65536,
        )  # fmt: skip
        self.sock = self._socket.sock

    @property
    def ended(self) -> bool:
        """Every expected sender has ended or vanished."""
        return self.counts.senders_ended + self.counts.senders_vanished >= self.expected_senders

    def shift_clocks(self, seconds: float) -> None:
        """The caller was busy (e.g. blocked on a full sink) for ``seconds``: do not count it as silence."""
        for sender in self._last_seen:
            self._last_seen[sender] += seconds

    def _problem(self, reason: str, text: str) -> None:
        self.counts.dropped[reason] = self.counts.dropped.get(reason, 0) + 1
        if self.on_problem is not None:
            self.on_problem(reason, text)

    def _check_silence(self, now: float) -> None:
        for sender, seen in list(self._last_seen.items()):
            if sender not in self._done and now - seen > self.heartbeat_timeout:
                self._done.add(sender)
                self.counts.senders_vanished += 1
                self._problem(
                    "vanished",
                    f"sender {sender:016x} silent for {now - seen:.1f} s (heartbeat timeout "
                    f"{self.heartbeat_timeout:g} s): counted as ended",
                )

    def poll(self, timeout: float) -> wire.Message | None:
        """The next valid event within ``timeout`` seconds, else None (end, silence, drops handled)."""
        deadline = time.monotonic() + timeout
        sock = self.sock
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
                peer = frames.pop(0).bytes  # ROUTER: the sender's routing id
            except zmq.Again:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sock.poll(int(min(remaining, self.heartbeat) * 1000), zmq.POLLIN):
                    self._socket.check_handshake()  # a receiver that connects: refused by the sender's side
                    now = time.monotonic()
                    self._say_alive(now)
                    if now < deadline:
                        continue
                    self._check_silence(now)
                    return None
                continue
            now = time.monotonic()
            if now >= self._next_check:  # a silent sender among busy ones
                self._next_check = now + 0.25
                self._check_silence(now)
                self._say_alive(now)
            message = self._accept(frames, now, peer)
            if message is not None:
                return message
            if self.ended or time.monotonic() >= deadline:
                self._check_silence(time.monotonic())
                return None

    def _say_alive(self, now: float) -> None:
        """Tell every sender still sending that this receiver is there (each heartbeat)."""
        if now - self._alive_sent < self.heartbeat:
            return
        self._alive_sent = now
        for sender, peer in self._peers.items():
            if sender not in self._done:
                try:
                    self.sock.send_multipart([peer, ALIVE], zmq.NOBLOCK)
                except zmq.ZMQError:
                    pass

    def _accept(self, frames: list, now: float, peer: bytes | None = None) -> wire.Message | None:
        msg = wire.decode(frames, max_data_bytes=self._data_bytes)
        if isinstance(msg, wire.Malformed):
            self._problem(msg.reason, msg.problem)
            return None
        if msg.dtype_bytes != self._dtype_bytes or msg.data_length != self.data_length:
            self._problem(
                "mismatch",
                f"stream of dtype {wire.describe_dtype(msg.dtype_bytes)}, data_length {msg.data_length} does "
                f"not fit the sink (dtype {wire.format_dtype(self.dtype)}, data_length {self.data_length})",
            )
            return None
        sender = msg.sender
        if sender in self._done:
            self._problem("late", f"message from sender {sender:016x} after its end of stream")
            return None
        expected = self._next_seq.get(sender)
        if expected is None:
            if len(self._last_seen) >= self.expected_senders:
                self._problem(
                    "senders",
                    f"a sender more than the {self.expected_senders} expected ('senders' in the receiver's config)",
                )
                return None
            expected = 0 if not self.lossy else msg.sequence  # lossy: joined late, nothing was lost to us
        if msg.sequence != expected:
            if msg.sequence < expected:
                self._problem(
                    "sequence", f"sender {sender:016x}: message {msg.sequence} again (expected {expected})"
                )
                return None
            self.counts.lost_in_transit += msg.sequence - expected
        self._next_seq[sender] = msg.sequence + 1
        if peer is not None:
            self._peers[sender] = peer
        self._last_seen[sender] = now
        if msg.kind == wire.END:
            if peer is not None:
                try:
                    self.sock.send_multipart([peer, ACK], zmq.NOBLOCK)
                except zmq.ZMQError:  # gone already: it will time out waiting, nothing is lost here
                    pass
            self._done.add(sender)
            self.counts.senders_ended += 1
            return None
        if msg.kind == wire.HEARTBEAT:
            return None
        if len(msg.data) != self._data_bytes:
            self._problem("truncated", f"data frame of {len(msg.data)} bytes, expected {self._data_bytes}")
            return None
        self.counts.events += 1
        return msg

    def close(self) -> None:
        self._socket.close(0)
