"""Emulator of the Red Pitaya SCPI acquisition server (STEMlab 125-14), for tests and demos without hardware.

Speaks the subset of the official ``scpi-server`` that the ``redpitaya`` importer uses, over TCP
with ``\\r\\n`` terminations, the way the board does:

- headers are case-insensitive and accept the short or the long form of every keyword
  (``ACQ:TRig`` matches ``ACQ:TR`` and ``acq:trig``), ``#`` suffixes select the channel
  (``ACQ:SOUR2:...``), ``;`` separates several commands in one message;
- an unknown header or a bad parameter pushes an entry onto the error queue and sends nothing
  (a query then gets no answer, as on the board); ``SYST:ERR?`` pops ``-113,"Undefined header"``
  and answers ``0,"No error"`` when the queue is empty;
- a 16384-sample circular buffer per input; ``ACQ:START`` arms one capture (it must be sent again
  for every capture), ``ACQ:TRig <source>`` selects the trigger, ``ACQ:TRig:STAT?`` answers ``TD``
  once triggered, ``ACQ:TRig:FILL?`` ``1`` once the ``8192 + ACQ:TRig:DLY`` samples after the
  trigger are written, ``ACQ:TPOS?`` is the write pointer at the trigger;
- ``ACQ:SOUR<n>:DATA:STArt:N? <start>,<n>`` reads a window of the circular buffer, as raw ADC
  counts (``ACQ:DATA:Units RAW``) or volts, as ASCII ``{v,v,...}`` or (``ACQ:DATA:FORMAT BIN``)
  an IEEE-488.2 block ``#<n><len><bytes>`` of big-endian int16 (little-endian after
  ``ACQ:DATA:BYTE:ORDER LEND``); ``ACQ:SOUR<n>:DATA:OLD:N? <n>`` the oldest n samples (just
  after the write pointer), ``...:LAT:N? <n>`` the newest n (ending at it);
- what Red Pitaya's own client ``redpitaya_scpi.scpi`` sends: ``*STB?`` (bit 2 set while the error
  queue holds entries; its ``check_error`` then pops them with ``SYST:ERR:NEXT?``),
  ``ACQ:BUF:SIZE?``, ``ACQ:TRig:DLY:NS`` / ``ACQ:TRig:DLY:NS?``.

The signal: each input carries a Poisson train of detector pulses (double exponential, rise
20 ns, decay 1 us by default) whose heights follow a Cs-137 gamma spectrum (photopeak at 662 keV,
Compton continuum up to the 477 keV edge, backscatter peak and Ba X-rays), plus Gaussian noise.
Times are real: the sample period is ``8 ns * decimation`` (so decimation changes the time scale
of the pulses), triggers arrive at the configured rate, filling the post-trigger part of the
buffer takes its real time. ``ACQ:AVG ON`` (the default) averages the 125 MS/s signal over
each decimated sample, as the FPGA does.

The trigger honours the source, level (``ACQ:TRig:LEV`` volts; raw counts = volts / full scale *
8192, full scale 1 V for the LV jumper, 20 V for HV), slope and delay: the sample at ``TPOS`` is
the first one at/after the level crossing in the given direction, the ``8192 - DLY`` samples
before it are pre-trigger samples.

Fault injection for tests: ``stall_after=N`` (the board stops answering when the (N+1)-th capture
is armed; the connection stays open), ``close_after=N`` (the connection is closed then), and at
any time ``server.stall()``, ``server.resume()``, ``server.drop_connections()``.

Run it stand-alone with ``mimocorb rp-emulator`` (with the daq server; ``--scpi-port``), or in tests::

    with ScpiServer(rate=2000, seed=1) as server:
        scope = RedPitayaScope("127.0.0.1", port=server.port)
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from mimocorb_gui.functions.importers.rp_scpi_board import DECIMATIONS, FULL_SCALE_V, ScpiBoard
from mimocorb_gui.functions.importers.rp_scpi_parser import (
    E_ILLEGAL_PARAMETER,
    E_MISSING_PARAMETER,
    E_QUEUE_OVERFLOW,
    E_UNDEFINED_HEADER,
    Node,
    ScpiError,
    compile_pattern,
    ieee_block,
    is_start,
    match,
    split_commands,
)
from mimocorb_gui.functions.importers.rp_server_base import EmulatorTcpServer
from mimocorb_gui.functions.importers.rp_signal import BUFFER_SIZE, SignalModel

__all__ = ["ScpiServer"]

log = logging.getLogger("mimocorb.rp_emulator")

IDN = "REDPITAYA,INSTR2014,EMULATOR,mimocorb_gui"
TRIGGER_SOURCES = ("DISABLED", "NOW", "CH1_PE", "CH1_NE", "CH2_PE", "CH2_NE", "EXT_PE", "EXT_NE")
ERROR_QUEUE_LENGTH = 16


class _Session:
    """Per-connection SCPI context: data format, units, byte order and the error queue."""

    def __init__(self, server: ScpiServer, conn: socket.socket) -> None:
        self.server = server
        self.board = server.board
        self.conn = conn
        self.binary = False
        self.units = "VOLTS"
        self.big_endian = True
        self.errors: deque[tuple[int, str]] = deque()
        self.commands = self._command_table()
        self._dispatch: dict[tuple[str, ...], tuple[Callable, list[int]]] = {}

    # -- plumbing --------------------------------------------------------------------------
    def push_error(self, code: tuple[int, str]) -> None:
        if len(self.errors) >= ERROR_QUEUE_LENGTH:
            self.errors[-1] = E_QUEUE_OVERFLOW
        else:
            self.errors.append(code)

    def serve(self) -> None:
        buf = bytearray()
        conn = self.conn
        try:
            for chunk in self.server._received(conn):
                buf += chunk
                while True:
                    nl = buf.find(b"\n")
                    if nl < 0:
                        break
                    line = bytes(buf[:nl]).rstrip(b"\r").decode("ascii", errors="replace")
                    del buf[: nl + 1]
                    if not self.handle_line(line):
                        return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_line(self, line: str) -> bool:
        """Execute one message; False when the connection is to be closed."""
        srv = self.server
        if srv._stalled.is_set():
            return True  # a board that stopped answering: swallows everything
        srv._record(line)
        outputs: list[bytes] = []
        path: list[str] = []
        for segment in split_commands(line):
            segment = segment.strip()
            if not segment:
                continue
            header, _, params = segment.partition(" ")
            if header.startswith(":"):
                words = header[1:].split(":")
            elif header.startswith("*") or not path:
                words = header.split(":")
            else:
                words = path + header.split(":")
            if not header.startswith("*"):
                path = words[:-1]
            if is_start(words):
                fault = srv._capture_started()
                if fault == "stall":
                    return True
                if fault == "close":
                    return False
            try:
                out = self.execute(words, [p.strip() for p in params.split(",")] if params.strip() else [])
            except ScpiError as e:
                self.push_error(e.code)
                log.debug("SCPI error %s for %r %s", e.code, segment, e.detail)
                continue
            if out is not None:
                outputs.append(out)
        if outputs:
            try:
                self.conn.sendall(b";".join(outputs) + b"\r\n")
            except OSError:
                return False
        return True

    def execute(self, words: list[str], params: list[str]) -> bytes | None:
        key = tuple(w.upper() for w in words)
        hit = self._dispatch.get(key)
        if hit is None:
            query = bool(words) and words[-1].endswith("?")
            if query:
                words = words[:-1] + [words[-1][:-1]]
            for nodes, is_query, handler in self.commands:
                if is_query == query:
                    ok, nums = match(nodes, words)
                    if ok:
                        hit = self._dispatch[key] = (handler, nums)
                        break
            else:
                raise ScpiError(E_UNDEFINED_HEADER, ":".join(words))
        handler, nums = hit
        return handler(nums, params)

    # -- parameters ------------------------------------------------------------------------
    @staticmethod
    def _param(params: list[str], i: int) -> str:
        if i >= len(params) or not params[i]:
            raise ScpiError(E_MISSING_PARAMETER)
        return params[i]

    def _int(self, params: list[str], i: int) -> int:
        try:
            return int(float(self._param(params, i)))
        except ValueError:
            raise ScpiError(E_ILLEGAL_PARAMETER) from None

    def _float_volts(self, params: list[str], i: int) -> float:
        p = self._param(params, i).upper().replace(" ", "")
        factor = 1.0
        for unit, f in (("MV", 1e-3), ("UV", 1e-6), ("V", 1.0)):
            if p.endswith(unit):
                p, factor = p[: -len(unit)], f
                break
        try:
            return float(p) * factor
        except ValueError:
            raise ScpiError(E_ILLEGAL_PARAMETER) from None

    def _choice(self, params: list[str], i: int, choices: Sequence[str]) -> str:
        p = self._param(params, i).upper()
        if p not in choices:
            raise ScpiError(E_ILLEGAL_PARAMETER, f"{p} not in {choices}")
        return p

    @staticmethod
    def _channel(nums: list[int]) -> int:
        ch = nums[0] if nums else 1
        if ch not in (1, 2):
            raise ScpiError(E_ILLEGAL_PARAMETER, f"channel {ch}")
        return ch - 1

    # -- results ---------------------------------------------------------------------------
    def _samples(self, ch: int, start: int, n: int) -> bytes:
        board = self.board
        data = board.buffer()[ch]
        end = start + n
        raw = (
            data[start:end]
            if end <= BUFFER_SIZE
            else np.concatenate([data[start:], data[: end - BUFFER_SIZE]])
        )
        if self.units == "RAW":
            if self.binary:
                payload = raw.astype(">i2" if self.big_endian else "<i2").tobytes()
                return ieee_block(payload)
            return ("{" + ",".join(map(str, raw.tolist())) + "}").encode()
        volts = raw.astype(np.float32) * np.float32(FULL_SCALE_V[board.state.gain[ch]] / 8192.0)
        if self.binary:
            return ieee_block(volts.astype(">f4" if self.big_endian else "<f4").tobytes())
        return ("{" + ",".join(f"{v:f}" for v in volts.tolist()) + "}").encode()

    # -- command table ---------------------------------------------------------------------
    def _command_table(
        self,
    ) -> list[tuple[list[Node], bool, Callable[[list[int], list[str]], bytes | None]]]:
        b = self.board
        st = lambda: b.state  # noqa: E731 - the state object is replaced by ACQ:RST

        def ok(fn: Callable[[], object]) -> Callable[[list[int], list[str]], None]:
            def h(nums: list[int], params: list[str]) -> None:
                fn()

            return h

        def text(fn: Callable[[], object]) -> Callable[[list[int], list[str]], bytes]:
            return lambda nums, params: str(fn()).encode()

        def idn(nums, params):
            return IDN.encode()

        def rst(nums, params):
            b.reset()
            self.binary, self.units, self.big_endian = False, "VOLTS", True

        def cls(nums, params):
            self.errors.clear()

        def err_next(nums, params):
            code, msg = self.errors.popleft() if self.errors else (0, "No error")
            return f'{code},"{msg}"'.encode()

        def err_count(nums, params):
            return str(len(self.errors)).encode()

        def acq_rst(nums, params):
            b.reset()
            self.binary, self.units = False, "VOLTS"

        def dec(nums, params):
            value = self._int(params, 0)
            if value not in DECIMATIONS:
                raise ScpiError(E_ILLEGAL_PARAMETER, f"decimation {value}")
            with b.lock:
                st().decimation = value

        def avg(nums, params):
            p = self._param(params, 0).upper()
            if p not in ("ON", "OFF", "1", "0"):
                raise ScpiError(E_ILLEGAL_PARAMETER)
            with b.lock:
                st().averaging = p in ("ON", "1")

        def trig(nums, params):
            b.set_trigger(self._choice(params, 0, TRIGGER_SOURCES))

        def trig_stat(nums, params):
            return b"TD" if b.triggered() else b"WAIT"

        def dly(nums, params):
            value = self._int(params, 0) if params else 0
            if not -(BUFFER_SIZE // 2) <= value <= 2**31 - 1:
                raise ScpiError(E_ILLEGAL_PARAMETER, f"delay {value}")
            with b.lock:
                st().trigger_delay = min(value, BUFFER_SIZE // 2)

        def dly_ns(nums, params):
            value = self._int(params, 0) if params else 0
            with b.lock:
                st().trigger_delay = max(
                    -(BUFFER_SIZE // 2), min(BUFFER_SIZE // 2, round(value * 1e-9 / b.dt))
                )

        def lev(nums, params):
            value = self._float_volts(params, 0)
            with b.lock:
                st().trigger_level_v = value

        def hyst(nums, params):
            with b.lock:
                st().hysteresis_v = self._float_volts(params, 0)

        def gain(nums, params):
            ch = self._channel(nums)
            value = self._choice(params, 0, ("LV", "HV"))
            with b.lock:
                st().gain[ch] = value

        def units(nums, params):
            self.units = self._choice(params, 0, ("RAW", "VOLTS"))

        def fmt(nums, params):
            self.binary = self._choice(params, 0, ("BIN", "ASCII")) == "BIN"

        def order(nums, params):
            self.big_endian = self._choice(params, 0, ("BEND", "LEND")) == "BEND"

        def data_start_n(nums, params):
            ch = self._channel(nums)
            start, n = self._int(params, 0), self._int(params, 1)
            if not (0 <= start < BUFFER_SIZE and 1 <= n <= BUFFER_SIZE):
                raise ScpiError(E_ILLEGAL_PARAMETER, f"start {start} size {n}")
            return self._samples(ch, start, n)

        def data_start_end(nums, params):
            ch = self._channel(nums)
            start, end = self._int(params, 0), self._int(params, 1)
            if not (0 <= start < BUFFER_SIZE and 0 <= end < BUFFER_SIZE):
                raise ScpiError(E_ILLEGAL_PARAMETER, f"start {start} end {end}")
            return self._samples(ch, start, (end - start) % BUFFER_SIZE + 1)

        def data_all(nums, params):
            ch = self._channel(nums)
            return self._samples(ch, (b.wpos() + 1) % BUFFER_SIZE, BUFFER_SIZE)

        def data_old_n(nums, params):
            ch = self._channel(nums)
            n = self._int(params, 0)
            if not 1 <= n <= BUFFER_SIZE:
                raise ScpiError(E_ILLEGAL_PARAMETER, f"size {n}")
            return self._samples(
                ch, (b.wpos() + 1) % BUFFER_SIZE, n
            )  # the oldest n: just after the write pointer

        def data_latest_n(nums, params):
            ch = self._channel(nums)
            n = self._int(params, 0)
            if not 1 <= n <= BUFFER_SIZE:
                raise ScpiError(E_ILLEGAL_PARAMETER, f"size {n}")
            return self._samples(ch, (b.wpos() + 1 - n) % BUFFER_SIZE, n)  # the newest n, ending at it

        def status_byte(nums, params):
            return str(0x04 if self.errors else 0).encode()  # IEEE 488.2: bit 2 = error/event queue not empty

        def srate(nums, params):
            return f"{125e6 / st().decimation:9.0f} Hz".encode()

        table: list[tuple[str, Callable]] = [
            ("*IDN?", idn),
            ("*RST", rst),
            ("*CLS", cls),
            ("*OPC?", lambda nums, params: b"1"),
            ("*STB?", status_byte),
            ("SYSTem:ERRor[:NEXT]?", err_next),
            ("SYSTem:ERRor:COUNt?", err_count),
            ("ACQ:START", ok(b.start)),
            ("ACQ:STOP", ok(b.stop)),
            ("ACQ:RST", acq_rst),
            ("ACQ:DEC", dec),
            ("ACQ:DEC?", text(lambda: st().decimation)),
            ("ACQ:DEC:Factor", dec),
            ("ACQ:DEC:Factor?", text(lambda: st().decimation)),
            ("ACQ:SRATe?", srate),
            ("ACQ:AVG", avg),
            ("ACQ:AVG?", text(lambda: "ON" if st().averaging else "OFF")),
            ("ACQ:TRig", trig),
            ("ACQ:TRig:STAT?", trig_stat),
            ("ACQ:TRig:DLY", dly),
            ("ACQ:TRig:DLY?", text(lambda: st().trigger_delay)),
            ("ACQ:TRig:DLY:NS", dly_ns),
            ("ACQ:TRig:DLY:NS?", text(lambda: round(st().trigger_delay * b.dt * 1e9))),
            ("ACQ:TRig:HYST", hyst),
            ("ACQ:TRig:HYST?", text(lambda: f"{st().hysteresis_v:g}")),
            ("ACQ:TRig:FILL?", text(lambda: int(b.filled()))),
            ("ACQ:TRig:LEV", lev),
            ("ACQ:TRig:LEV?", text(lambda: f"{st().trigger_level_v:.7g}")),
            ("ACQ:SOUR#:GAIN", gain),
            ("ACQ:SOUR#:GAIN?", lambda nums, params: st().gain[self._channel(nums)].encode()),
            ("ACQ:WPOS?", text(b.wpos)),
            ("ACQ:TPOS?", text(b.tpos)),
            ("ACQ:DATA:Units", units),
            ("ACQ:DATA:Units?", text(lambda: self.units)),
            ("ACQ:DATA:FORMAT", fmt),
            ("ACQ:DATA:FORMAT?", text(lambda: "BIN" if self.binary else "ASCII")),
            ("ACQ:DATA:BYTE:ORDER", order),
            ("ACQ:DATA:BYTE:ORDER?", text(lambda: "BEND" if self.big_endian else "LEND")),
            ("ACQ:SOUR#:DATA:STArt:End?", data_start_end),
            ("ACQ:SOUR#:DATA:Start:End?", data_start_end),
            ("ACQ:SOUR#:DATA:STArt:N?", data_start_n),
            ("ACQ:SOUR#:DATA:Start:N?", data_start_n),
            ("ACQ:SOUR#:DATA:OLD:N?", data_old_n),
            ("ACQ:SOUR#:DATA:LATest:N?", data_latest_n),
            ("ACQ:SOUR#:DATA?", data_all),
            ("ACQ:BUF:SIZE?", text(lambda: BUFFER_SIZE)),
        ]
        return [(*compile_pattern(pattern), handler) for pattern, handler in table]


# ----------------------------------------------------------------------------------------------
# the server
# ----------------------------------------------------------------------------------------------


class ScpiServer(EmulatorTcpServer):
    """A Red Pitaya SCPI server on ``host:port`` (port 0: a free one, see ``.port``), served by threads.

    Use as a context manager (``with ScpiServer() as srv: ... srv.port``) or ``start()`` /
    ``stop()``. All connections share one emulated board; each has its own SCPI context.
    """

    thread_name = "rp-emulator"
    description = "Red Pitaya emulator"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate: float | Sequence[float] = 1000.0,
        seed: int | None = None,
        model: SignalModel | None = None,
        stall_after: int | None = None,
        close_after: int | None = None,
    ) -> None:
        super().__init__(host, port)
        if model is None:
            rates = (float(rate), float(rate)) if isinstance(rate, int | float) else tuple(map(float, rate))
            model = SignalModel(rate=rates)  # type: ignore[arg-type]
        self.model = model
        self.board = ScpiBoard(model, seed)
        self.stall_after = stall_after
        self.close_after = close_after
        self.captures = 0  # ACQ:START commands executed
        self.received: deque[str] = deque(maxlen=2000)  # recent messages, for tests
        self._clients: list[tuple[socket.socket, threading.Thread]] = []
        self._lock = threading.Lock()

    # -- connections -----------------------------------------------------------------------
    def drop_connections(self) -> None:
        """Close every client connection (the board 'disappears' mid-run)."""
        with self._lock:
            clients, self._clients = self._clients, []
        for conn, thread in clients:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
            if thread is not threading.current_thread():
                thread.join(timeout=1)

    def _capture_started(self) -> str | None:
        """Count an ``ACQ:START``; returns 'stall' / 'close' when a fault is due instead."""
        with self._lock:
            n = self.captures
            if self.stall_after is not None and n >= self.stall_after:
                self._stalled.set()
                return "stall"
            if self.close_after is not None and n >= self.close_after:
                return "close"
            self.captures = n + 1
            return None

    def _record(self, line: str) -> None:
        self.received.append(line)

    def _handle_connection(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        """A thread per client, each with its own SCPI context."""
        session = _Session(self, conn)
        thread = threading.Thread(target=session.serve, name=f"rp-emulator-client:{addr[1]}", daemon=True)
        with self._lock:
            self._clients = [(c, t) for c, t in self._clients if t.is_alive()]
            self._clients.append((conn, thread))
        log.debug("client %s:%d connected", *addr)
        thread.start()
