"""``importers.redpitaya.spectrum``: the board's own pulse-height histograms and timers, read at an interval.

The MCPHA FPGA histograms every pulse of IN1 and IN2 into 4096 bins while its timer runs (no
network traffic per pulse). At the start the importer resets the histograms and timers (codes 0,
1), sets the negators (5), PHA delay and thresholds (6-8) and the acquisition time (9; none given:
the largest the 52-bit value allows), starts the timers (10) and, if configured, the pulser
(21-29). Every ``interval`` seconds it reads the status (11: the timers, in 125 MHz ticks) and the
histograms (12) and

- writes one event to its sink: the fields ``IN1`` / ``IN2`` (data_length 4096) hold the counts;
- keeps ``Histograms_<sink>/`` in the run directory in the layout ``exporters.histogram`` writes
  (``core.livehist``: ``info.csv`` and one ``<channel>.npy`` per channel, bins centred on the
  integers 0..4095), so the histogram dock shows the board's spectrum like any other, and
  ``timers.csv`` (Channel, LiveTime, RealTime in seconds): live time is the board's timer (the time
  the PHA was counting), real time the wall-clock time since the start.

When the acquisition time is reached the timers stop on the board; the importer reads once more
and ends.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mimocorb_gui.functions.importers.rp_daq import (
    CLOCK_HZ,
    DAQ_PORT,
    HIST_BINS,
    INPUTS,
    SAMPLE_RATES,
    VALUE_MASK,
    RedPitayaDaq,
    parse_generator,
)
from mimocorb_gui.functions.importers.rp_daq_waveform import common_problems
from mimocorb_gui.functions.importers.rp_scpi import RedPitayaError

__all__ = ["TIMERS_FILE", "check_config", "histogram_specs", "read_timers", "run", "timers_text"]

WHERE = "redpitaya.spectrum"
TIMERS_FILE = "timers.csv"


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def check_config(
    config: Mapping[str, Any],
    dtype: np.dtype | None = None,
    data_length: int | None = None,
    folder: str | None = None,
) -> list[str]:
    """All problems of a spectrum config (and its sink), as messages naming the key and what is valid."""
    problems = common_problems(config, folder)

    def bad(key: str, message: str) -> None:
        problems.append(f"config key '{key}': {message}")

    for key in ("interval", "duration"):
        if key in config and config[key] is not None:
            v = config[key]
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0 or not math.isfinite(v):
                bad(key, f"{v!r} is not a positive number of seconds")
    if "duration" in config and config["duration"] is not None and _is_number(config["duration"]):
        if config["duration"] * CLOCK_HZ > VALUE_MASK:
            bad(
                "duration",
                f"{config['duration']!r} s is longer than the board's timer holds ({VALUE_MASK / CLOCK_HZ:.0f} s)",
            )
    for key in ("min_threshold", "max_threshold"):
        if key in config and (not _is_int(config[key]) or not 0 <= config[key] <= HIST_BINS - 1):
            bad(key, f"{config[key]!r} is not an integer 0..{HIST_BINS - 1} (histogram bins)")
    if _is_int(config.get("min_threshold", 0)) and _is_int(config.get("max_threshold", HIST_BINS - 1)):
        if config.get("min_threshold", 0) > config.get("max_threshold", HIST_BINS - 1):
            bad("min_threshold", "is above max_threshold")
    if "pha_delay" in config and (not _is_int(config["pha_delay"]) or not 0 <= config["pha_delay"] <= 0xFFFF):
        bad("pha_delay", f"{config['pha_delay']!r} is not an integer 0..65535 (samples)")
    if "sample_rate" in config and config["sample_rate"] not in SAMPLE_RATES:
        bad(
            "sample_rate",
            f"{config['sample_rate']!r} is not allowed (valid: {', '.join(map(str, SAMPLE_RATES))})",
        )
    for key in ("negator_IN1", "negator_IN2"):
        if key in config and not isinstance(config[key], bool):
            bad(key, f"{config[key]!r} is not allowed (valid: true, false)")
    if data_length is not None and data_length != HIST_BINS:
        problems.append(f"sink data_length {data_length} must be {HIST_BINS} (the board's histogram bins)")
    if dtype is not None:
        names = dtype.names or ()
        wrong = [n for n in names if n not in INPUTS]
        if not names or wrong:
            problems.append(
                f"sink data_dtype fields {list(names)} not allowed: use IN1 and/or IN2 (e.g. int64)"
            )
        for n in names:
            if n in INPUTS and dtype[n].kind not in "iuf":
                problems.append(f"sink data_dtype field '{n}' must hold counts (int64), is {dtype[n]}")
    return problems


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def histogram_specs(channels: list[str]) -> dict:
    """``core.livehist`` bin specs of 4096 bins centred on 0..4095, in the manual's [min, max, NBins] form."""
    from mimocorb_gui.core.livehist import parse_bins

    # The manual's convention: edges numpy.linspace(min, max, NBins), i.e. NBins - 1 bins; older
    # code took NBins as the number of bins. Ask for the one that gives 4096 bins of width 1.
    for nbins in (HIST_BINS + 1, HIST_BINS):
        specs = parse_bins({ch: [-0.5, HIST_BINS - 0.5, nbins] for ch in channels})
        if all(len(s.edges) == HIST_BINS + 1 for s in specs.values()):
            return specs
    raise RuntimeError("core.livehist gives no 4096-bin histogram for [-0.5, 4095.5]")  # pragma: no cover


def _write_timers(folder: Path, rows: list[tuple[str, float, float]]) -> None:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["Channel", "LiveTime", "RealTime"])
    for ch, live, real in rows:
        w.writerow([ch, f"{live:.6f}", f"{real:.6f}"])
    tmp = folder / f".{TIMERS_FILE}.{os.getpid()}.tmp"
    tmp.write_text(out.getvalue(), encoding="utf-8")
    os.replace(tmp, folder / TIMERS_FILE)


def read_timers(folder: str | Path) -> dict[str, tuple[float, float]]:
    """``{channel: (live time, real time)}`` from ``timers.csv`` in a histogram folder; empty when there is none."""
    try:
        text = (Path(folder) / TIMERS_FILE).read_text(encoding="utf-8")
    except OSError:
        return {}
    out = {}
    for row in csv.DictReader(io.StringIO(text)):
        try:
            out[row["Channel"]] = (float(row["LiveTime"]), float(row["RealTime"]))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def timers_text(folder: str | Path, channel: str) -> str:
    """``'live 12.3 s, real 12.4 s'`` for a channel of the board's spectrum, or '' (for the histogram dock)."""
    times = read_timers(folder).get(channel)
    return f"live {times[0]:.1f} s, real {times[1]:.1f} s" if times else ""


def run(buffer_io) -> None:
    """The read-out loop of ``redpitaya.spectrum`` (see its docstring)."""
    from mimocorb_gui.core.livehist import LiveHistogramWriter, histogram_dir
    from mimocorb_gui.core.templates import Importer

    importer = Importer(buffer_io)
    example = importer.data_example
    log = buffer_io.logger
    config = buffer_io.config
    channels = [name for name in INPUTS if name in (example.dtype.names or ())]
    sink_name = buffer_io.sinks[0].buffer.name

    def stop() -> bool:
        return bool(getattr(buffer_io, "stop_requested", False))

    def ufunc():
        problems = check_config(config, example.dtype, int(example.shape[0]), str(buffer_io.setup_dir))
        if problems:
            raise ValueError(f"{WHERE}: " + "; ".join(problems))
        interval = float(config.get("interval", 1.0))
        duration = config.get("duration")
        timer_ticks = int(duration * CLOCK_HZ) if duration is not None else VALUE_MASK
        emulator = None
        ip, port = str(config.get("ip", "127.0.0.1")).strip(), int(config.get("port", DAQ_PORT))
        if config.get("emulate") is True:
            from mimocorb_gui.functions.importers.rp_daq_server import DaqServer

            emulator = DaqServer("127.0.0.1", 0).start()
            ip, port = emulator.address
            log.warning("emulate: true - reading the built-in emulator at %s:%d, not a board", ip, port)
        folder = Path(histogram_dir(buffer_io.run_dir, sink_name))
        writer = LiveHistogramWriter(folder, histogram_specs(channels))
        rp = RedPitayaDaq(ip, port, float(config.get("timeout", 5.0)))
        readouts = 0
        try:
            rp.open()
            if "sample_rate" in config:
                rp.command(4, 0, int(config["sample_rate"]))
            if config.get("generator") is not None:
                rp.start_generator(
                    parse_generator(config["generator"], getattr(buffer_io, "setup_dir", None))
                )
            for name in channels:
                ch = INPUTS[name]
                rp.command(10, ch, 0)
                rp.command(0, ch)
                rp.command(1, ch)
                rp.command(5, ch, int(bool(config.get(f"negator_{name}", False))))
                rp.command(6, ch, int(config.get("pha_delay", 100)))
                rp.command(7, ch, int(config.get("min_threshold", 0)))
                rp.command(8, ch, int(config.get("max_threshold", HIST_BINS - 1)))
                rp.command(9, ch, timer_ticks)
            t_start = time.monotonic()
            for name in channels:
                rp.command(10, INPUTS[name], 1)
            next_read = t_start
            while True:
                next_read += interval
                while not stop() and time.monotonic() < next_read:
                    time.sleep(min(0.05, max(next_read - time.monotonic(), 0)))
                t0 = time.monotonic()
                status = rp.status()
                real = time.monotonic() - t_start  # after the reply: never less than the board's live time
                event = np.zeros(example.shape, dtype=example.dtype)
                rows = []
                for name in channels:
                    counts = rp.histogram(INPUTS[name])
                    event[name] = counts
                    writer.counts[name][:] = counts
                    rows.append((name, status["timers"][INPUTS[name]], real))
                writer.flush()
                _write_timers(folder, rows)
                importer.add_deadtime(time.monotonic() - t0)
                readouts += 1  # read and in the files even if the stop drops the event below
                yield event
                finished = all(status["timer_ticks"][INPUTS[n]] >= timer_ticks for n in channels)
                if stop() or finished:
                    if finished:
                        log.info("acquisition time %.3g s reached", timer_ticks / CLOCK_HZ)
                    break
        except RedPitayaError as e:
            log.error("%s; stopping after %d read-outs (all kept)", e, readouts)
            raise
        finally:
            # here, not after the loop: on a stop the importer closes this generator at its yield
            if readouts:
                log.info(
                    "%d read-outs; %s",
                    readouts,
                    ", ".join(
                        f"{n}: {int(writer.counts[n].sum())} counts in {t:.3f} s live, {r:.3f} s real"
                        for n, t, r in rows
                    ),
                )
            if rp.sock is not None:
                try:
                    for name in channels:
                        rp.command(10, INPUTS[name], 0)
                except RedPitayaError:
                    pass
            rp.close()
            writer.close()
            if emulator is not None:
                emulator.stop()
        yield None

    importer(ufunc)
