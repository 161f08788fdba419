"""Emulator of the lab boards' acquisition server (``daq-server.c``: MCPHA + daq mode, TCP port 1001).

One client at a time, as on the board (the next one is accepted when the first has gone). Every
command is one little-endian 64-bit word ``code << 56 | channel << 52 | value`` (value: 52 bits);
only codes 11, 12, 20 and the daq stream send anything back:

====  =========================================  ======================================
code  command (channel: bits 52..55)             reply
====  =========================================  ======================================
0     reset histogram of channel 0/1
1     reset timer of channel 0/1
2     reset oscilloscope
3     reset generator
4     sample rate (CIC decimation; < 4: none)
5     negator of channel 0/1 (value 0/1)
6-8   PHA delay, min and max threshold
9     timer set value (125 MHz ticks)
10    timer run (channel 0, 1, or 2 = both)
11    read status                                36 bytes: 4 x uint64 timers, uint32
                                                 trigger address << 1 | scope busy
12    read histogram of channel 0/1              4096 x uint32
13    trigger source = channel 0/1
14    trigger slope (0 rising, 1 falling)
15    trigger mode (0 normal, 1 auto)
16    trigger level (low 16 bits, int16)
17    samples before the trigger (stored - 1)
18    total samples (stored - 1)
19    start oscilloscope
20    read oscilloscope                          tot x (int16 IN1, int16 IN2)
21-28 pulser: fall, rise (0..100, else ignored),
      lower, upper limit, rate, distribution,
      reset spectrum, bin (value = bin << 32 | n)
29    start pulser (keep pulsing after the client
      leaves if value != 0)
30    stop pulser
31    start daq: N more traces                   N traces back to back, as code 20 each
====  =========================================  ======================================

All integers little-endian. In daq mode the server's thread sends a trace as soon as the scope
reports the trigger recorded, resets and restarts the scope, and counts down; the count left
when a send fails stays for the next client, as in ``daq-server.c``. The emulator can also
reproduce the symptom behind mimoCoRB2's ``CUT_OFF`` work-around: ``stale_tail`` samples at the
end of every daq trace hold what the RAM held before (the last write burst of the FPGA's RAM
writer has not reached the memory when the thread reads it at once; the reference requests 100
samples more and discards them).

``replay=True`` (benchmarks) sends the first trace again and again without waiting, so a
measurement shows the protocol's and the client's cost, not the emulator's trace generation.

Fault injection for tests: ``stall_after=N`` (traces; the board stops sending, the connection
stays open), ``cut_after=N`` (the connection is closed in the middle of trace N+1), and
``stall()`` / ``resume()`` / ``drop_connections()`` at any time.
"""

from __future__ import annotations

import math
import socket
import struct
import threading
import time
from collections import deque

import numpy as np

from mimocorb_gui.functions.importers.rp_daq_board import DaqBoard
from mimocorb_gui.functions.importers.rp_server_base import EmulatorTcpServer
from mimocorb_gui.functions.importers.rp_signal import SignalModel

__all__ = ["DaqServer", "command_word", "split_command"]

VALUE_MASK = 0xFFFFFFFFFFFFF  # 52 bits


def command_word(code: int, channel: int, value: int) -> bytes:
    """The 8 bytes of one command, exactly as the clients (``struct.pack('<Q', ...)``) build them."""
    return struct.pack("<Q", (code & 0xFF) << 56 | (channel & 0xF) << 52 | (int(value) & VALUE_MASK))


def split_command(word: bytes) -> tuple[int, int, int]:
    """``(code, channel, value)`` of 8 command bytes, as the server decodes them."""
    (command,) = struct.unpack("<Q", word)
    return (command >> 56) & 0xFF, (command >> 52) & 0xF, command & VALUE_MASK


def _int16(value: int) -> int:
    v = value & 0xFFFF
    return v - 0x10000 if v & 0x8000 else v


class DaqServer(EmulatorTcpServer):
    """The daq server on ``host:port`` (port 0: a free one, see ``.port``), served by threads."""

    thread_name = "rp-daq"
    description = "Red Pitaya daq emulator"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate: float = 1000.0,
        seed: int | None = None,
        model: SignalModel | None = None,
        stale_tail: int = 32,
        realtime: bool = True,
        stall_after: int | None = None,
        cut_after: int | None = None,
        record_truth: bool = False,
        replay: bool = False,
    ) -> None:
        super().__init__(host, port)
        self.model = model if model is not None else SignalModel(rate=(float(rate), float(rate)))
        self.board = DaqBoard(self.model, seed, record_truth=record_truth)
        self.stale_tail = stale_tail
        self.realtime = realtime
        self.replay = (
            replay  # benchmarks: resend the first trace at once (the client's and the wire's cost only)
        )
        self._replayed: bytes | None = None
        self.stall_after = stall_after
        self.cut_after = cut_after
        self.received: deque[tuple[int, int, int]] = deque(maxlen=20000)  # decoded commands, for tests
        self.traces_sent = 0
        self.keep_pulsing = False
        self._daq_count = 0
        self._daq_lock = threading.Condition()
        self._daq_thread: threading.Thread | None = None
        self._send_lock = threading.Lock()
        self._client: socket.socket | None = None
        self._tail = np.zeros((0, 2), dtype=np.int16)
        self._osc_trace: np.ndarray | None = None

    # -- connections -----------------------------------------------------------------------
    def _stopping_now(self) -> None:
        with self._daq_lock:
            self._daq_lock.notify_all()

    def drop_connections(self) -> None:
        client = self._client
        if client is not None:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _handle_connection(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        """One client at a time, as on the board: served here, in the accept thread."""
        self._client = conn
        try:
            self._serve(conn)
        finally:
            self._client = None
            with self._daq_lock:
                self._daq_lock.notify_all()
            if self._daq_thread is not None:
                self._daq_thread.join(timeout=2)
                self._daq_thread = None
            try:
                conn.close()
            except OSError:
                pass
            if not self.keep_pulsing:
                self.board.stop_generator()

    # -- the protocol ----------------------------------------------------------------------
    def _serve(self, conn: socket.socket) -> None:
        buf = bytearray()
        for chunk in self._received(conn):
            buf += chunk
            while len(buf) >= 8:
                word = bytes(buf[:8])
                del buf[:8]
                code, chan, value = split_command(word)
                self.received.append((code, chan, value))
                if self._stalled.is_set():
                    continue
                if not self._execute(conn, code, chan, value):
                    return

    def _send(self, conn: socket.socket, payload: bytes) -> bool:
        with self._send_lock:
            try:
                conn.sendall(payload)
            except OSError:
                return False
        return True

    def _execute(self, conn: socket.socket, code: int, chan: int, value: int) -> bool:
        """One command as ``daq-server.c`` executes it; False when a reply could not be sent."""
        b = self.board
        regs = b.regs
        with b.lock:
            if code == 0 and chan in (0, 1):
                b.reset_histogram(chan)
            elif code == 1 and chan in (0, 1):
                b.reset_timer(chan)
            elif code == 2:
                b.osc_ready_at = 0.0
            elif code == 3:
                pass  # generator reset: its FIFO is emptied; the pulser thread goes on
            elif code == 4:
                regs.cic, regs.rate = (False, 4) if value < 4 else (True, value & 0xFFFF)
            elif code == 5 and chan in (0, 1) and value in (0, 1):
                b.advance()
                regs.negate[chan] = bool(value)
            elif code in (6, 7, 8) and chan in (0, 1):
                target = {6: regs.pha_delay, 7: regs.pha_min, 8: regs.pha_max}[code]
                b.advance()
                target[chan] = value & 0xFFFF
            elif code == 9 and chan in (0, 1):
                b.advance()
                regs.timer_set[chan] = value
            elif code == 10 and value in (0, 1):
                for ch in (0, 1) if chan == 2 else (chan,) if chan in (0, 1) else ():
                    b.set_timer_running(ch, bool(value))
            elif code == 13 and chan in (0, 1):
                regs.trigger_source = chan
            elif code == 14 and value in (0, 1):
                regs.trigger_slope = value
            elif code == 15 and value in (0, 1):
                regs.trigger_mode = value
            elif code == 16:
                regs.trigger_level = _int16(value)
            elif code == 17:
                regs.pre_minus_one = (value - 1) & 0xFFFFFFFF
            elif code == 18:
                regs.tot_minus_one = (value - 1) & 0xFFFFFFFF
            elif code == 19:
                self._start_oscilloscope()
            elif code in (21, 22):
                if 0 <= value <= 100:
                    setattr(regs.generator, "fall" if code == 21 else "rise", value)
            elif code in (23, 24):
                setattr(regs.generator, "lower" if code == 23 else "upper", _int16(value))
            elif code == 25:
                b.advance()
                regs.generator.rate = value & 0xFFFFFFFF
            elif code == 26:
                regs.generator.distribution = value & 0xFFFFFFFF
            elif code == 27:
                regs.generator.spectrum[:] = 0
            elif code == 28:
                regs.generator.spectrum[(value >> 32) & 0xFFF] = value & 0xFFFFFFFF
            elif code == 29:
                self.keep_pulsing = bool(value)
                b.start_generator()
            elif code == 30:
                b.stop_generator()
        if code == 11:
            return self._send(conn, b.status())
        if code == 12 and chan in (0, 1):
            return self._send(conn, b.histogram(chan))
        if code == 20:
            return self._send(conn, self._read_oscilloscope())
        if code == 31:
            self._start_daq(conn, value)
        return True

    # -- oscilloscope and daq --------------------------------------------------------------
    def _next_trace(self) -> tuple[np.ndarray, float]:
        b = self.board
        with b.lock:
            k = b.traces_made
            b.traces_made += 1
        return b.trace(k)

    def _start_oscilloscope(self) -> None:
        trace, wait = self._next_trace()
        b = self.board
        b.osc_ready_at = time.monotonic() + (wait if math.isfinite(wait) else 1e9)
        b.trigger_address = (b.trigger_address + trace.shape[0] + 1) % 0x800000
        self._osc_trace = trace

    def _read_oscilloscope(self) -> bytes:
        tot = self.board.regs.tot
        trace = self._osc_trace
        if trace is None or trace.shape[0] != tot:
            trace = np.zeros((tot, 2), dtype=np.int16)  # nothing recorded: what the RAM holds
        return trace.tobytes()

    def _start_daq(self, conn: socket.socket, n: int) -> None:
        with self._daq_lock:
            self._daq_count += n
            self._daq_lock.notify_all()
        if self._daq_thread is None or not self._daq_thread.is_alive():
            self._daq_thread = threading.Thread(
                target=self._daq_loop, args=(conn,), name=f"rp-daq-stream:{self.port}", daemon=True
            )
            self._daq_thread.start()

    def _daq_loop(self, conn: socket.socket) -> None:
        t_ready = time.monotonic()
        while not self._stopping.is_set() and self._client is conn:
            with self._daq_lock:
                if self._daq_count <= 0:
                    return
            if self._stalled.is_set():
                time.sleep(0.01)
                continue
            if self.stall_after is not None and self.traces_sent >= self.stall_after:
                self._stalled.set()
                continue
            if self.replay and self._replayed is not None and len(self._replayed) == self.board.regs.tot * 4:
                if not self._send(conn, self._replayed):
                    return
                self.traces_sent += 1
                with self._daq_lock:
                    self._daq_count -= 1
                continue
            trace, wait = self._next_trace()
            if not math.isfinite(wait):  # normal trigger mode, a level nothing crosses: wait for a change
                time.sleep(0.01)
                continue
            t_ready += wait
            if self.realtime:
                delay = t_ready - time.monotonic()
                if delay > 0.0005:
                    time.sleep(delay)
                else:
                    t_ready = max(t_ready, time.monotonic() - 0.05)  # a late board does not catch up forever
            payload = self._with_stale_tail(trace)
            if self.replay:
                self._replayed = payload
            if self.cut_after is not None and self.traces_sent >= self.cut_after:
                self._send(conn, payload[: len(payload) // 2])
                self.drop_connections()
                return
            if not self._send(conn, payload):
                return  # as daq-server.c: the count left stays for the next client
            self.traces_sent += 1
            with self._daq_lock:
                self._daq_count -= 1

    def _with_stale_tail(self, trace: np.ndarray) -> bytes:
        n = min(self.stale_tail, trace.shape[0])
        if n <= 0:
            return trace.tobytes()
        fresh_tail = trace[-n:].copy()
        out = trace.copy()
        old = self._tail if self._tail.shape[0] == n else np.zeros((n, 2), dtype=np.int16)
        out[-n:] = old
        self._tail = fresh_tail
        return out.tobytes()
