"""Red Pitaya over loopback: traces/s and MB/s of the daq protocol (port 1001) beside SCPI, and spectrum read-outs/s.

The emulator (``mimocorb rp-emulator``) runs in its own process. Rows:

- daq, replay: the daq server resends one trace at once (``--replay``), so the figures are the
  protocol's and the client's cost (``RedPitayaDaq.traces`` plus the copy into an event of the
  sink's dtype, as the importer does), for set_size 1, 10, 100 and 1000 / 16384 samples x 2 channels;
- daq, generated: every trace simulated by the emulator (its trace generation is then the limit);
- SCPI binary: one capture per trigger (ACQ:START, TRig, STAT?/FILL?, TPOS?, two block reads);
- spectrum: one read-out = status (36 bytes) + two FPGA histograms (2 x 16 KiB).

    .venv/bin/python benchmarks/bench_redpitaya.py [--seconds 2]

Printed as a table; not a test. A real board adds 1 GbE (~110 MB/s at most) and its own CPU.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time

import numpy as np

from mimocorb_gui.functions.importers.rp_daq import RedPitayaDaq, TraceSettings
from mimocorb_gui.functions.importers.rp_scpi import RedPitayaScope, ScopeSettings

DTYPE = np.dtype([("IN1", "i2"), ("IN2", "i2")])


def start_emulator(*extra: str) -> tuple[subprocess.Popen, int, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mimocorb_gui.functions.importers.rp_emulator", "--daq-port", "0"]
        + ["--scpi-port", "0", "--rate", "100000", "--seed", "1", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    text = ""
    while "Ctrl-C" not in text:
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            raise RuntimeError(f"emulator did not start: {text!r}")
        text += line
    daq = int(re.search(r"daq server .* on 127\.0\.0\.1:(\d+)", text).group(1))
    scpi = int(re.search(r"SCPI server on 127\.0\.0\.1:(\d+)", text).group(1))
    return proc, daq, scpi


def measure_daq(port: int, n_samples: int, set_size: int, seconds: float) -> dict:
    with RedPitayaDaq("127.0.0.1", port, timeout=5) as rp:
        rp.configure(
            TraceSettings(sample_rate=1, trigger_level=300, pre_trigger=n_samples // 4, n_samples=n_samples)
        )
        event = np.empty(n_samples, dtype=DTYPE)
        n = 0
        traces = rp.traces(n_samples, set_size)
        for _ in range(3):  # warm up (the first trace is simulated)
            next(traces)
        cpu0, t0 = time.process_time(), time.perf_counter()
        for trace in traces:
            event["IN1"] = trace[:, 0]
            event["IN2"] = trace[:, 1]
            n += 1
            if time.perf_counter() - t0 > seconds:
                break
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        traces.close()
    return _row(n, wall, cpu, n_samples)


def measure_scpi(port: int, n_samples: int, seconds: float) -> dict:
    with RedPitayaScope("127.0.0.1", port, timeout=5, transfer="binary") as sc:
        sc.configure(
            ScopeSettings(decimation=1, n_samples=n_samples, pre_trigger=n_samples // 4, trigger_level=300)
        )
        for _ in range(3):
            sc.acquire()
        n = 0
        cpu0, t0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            sc.acquire()
            n += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return _row(n, wall, cpu, n_samples)


def measure_spectrum(port: int, seconds: float) -> dict:
    with RedPitayaDaq("127.0.0.1", port, timeout=5) as rp:
        for ch in (0, 1):
            rp.command(7, ch, 0)
            rp.command(8, ch, 4095)
            rp.command(9, ch, 10**15)
        rp.command(10, 2, 1)
        n = 0
        cpu0, t0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            rp.status()
            rp.histogram(0)
            rp.histogram(1)
            n += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "per s": n / wall,
        "MB/s": n * (36 + 2 * 16384) / wall / 1e6,
        "client CPU ms": 1e3 * cpu / n,
        "n": n,
    }


def _row(n: int, wall: float, cpu: float, n_samples: int) -> dict:
    return {"per s": n / wall, "MB/s": n * 4 * n_samples / wall / 1e6, "client CPU ms": 1e3 * cpu / n, "n": n}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=2.0, help="duration of each measurement")
    args = p.parse_args(argv)
    rows: list[tuple[str, dict]] = []
    proc, daq, scpi = start_emulator("--replay")
    try:
        for n_samples in (1000, 16384):
            for set_size in (1, 10, 100):
                rows.append(
                    (
                        f"daq replay   {n_samples:>5} x 2  set_size {set_size:>3}",
                        measure_daq(daq, n_samples, set_size, args.seconds),
                    )
                )
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    proc, daq, scpi = start_emulator()
    try:
        for n_samples in (1000, 16384):
            rows.append(
                (
                    f"daq generated {n_samples:>5} x 2 set_size 100",
                    measure_daq(daq, n_samples, 100, args.seconds),
                )
            )
        for n_samples in (1000, 16384):
            rows.append(
                (
                    f"SCPI binary  {n_samples:>5} x 2  (per trigger)",
                    measure_scpi(scpi, n_samples, args.seconds),
                )
            )
        rows.append(("spectrum read-out: status + 2 x 4096 bins", measure_spectrum(daq, args.seconds)))
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    print(f"\nRed Pitaya over loopback, emulator in its own process, {args.seconds:g} s per row\n")
    w = max(len(label) for label, _ in rows)
    print(f"{'':<{w}}  {'traces or read-outs/s':>22}  {'MB/s':>8}  {'client CPU ms each':>18}  {'n':>7}")
    for label, r in rows:
        print(
            f"{label:<{w}}  {r['per s']:>22.1f}  {r['MB/s']:>8.1f}  {r['client CPU ms']:>18.3f}  {r['n']:>7d}"
        )


if __name__ == "__main__":
    main()
