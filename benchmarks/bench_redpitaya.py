"""Triggers per second the Red Pitaya client sustains against the emulator, binary versus ASCII.

Each event is a full capture: ACQ:START, ACQ:TRig, STAT?/FILL? polls, TPOS?, and both channels
read (16384 int16 samples each = 64 KiB per event, the whole buffer). The emulator runs in its
own process on loopback with a pulse rate high enough that waiting for a trigger is negligible,
so the figures are the client's (and the emulator's) cost per capture, not a physics rate.

    .venv/bin/python benchmarks/bench_redpitaya.py [--seconds 3] [--samples 16384]

Printed as a table; not a test. A real board adds the network (1 GbE: ~0.6 ms per 64 KiB) and
its own server's time.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time

from mimocorb_gui.functions.importers.rp_scpi import BUFFER_SIZE, RedPitayaScope, ScopeSettings


def start_emulator(rate: float) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mimocorb_gui.functions.importers.rp_emulator",
            "--port",
            "0",
            "--rate",
            str(rate),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    line = proc.stdout.readline()
    m = re.search(r":(\d+) ", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"emulator did not start: {line!r}")
    return proc, int(m.group(1))


def measure(port: int, transfer: str, reader: str, n_samples: int, seconds: float) -> dict:
    with RedPitayaScope("127.0.0.1", port, timeout=5, transfer=transfer, block_reader=reader) as sc:
        sc.configure(
            ScopeSettings(decimation=1, n_samples=n_samples, pre_trigger=n_samples // 2, trigger_level=300)
        )
        for _ in range(5):  # warm up
            sc.acquire()
        n = 0
        cpu0, t0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            ev = sc.acquire()
            n += 1
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert ev["IN1"].size == n_samples and ev["IN2"].size == n_samples
    nbytes = 2 * 2 * n_samples
    return {
        "events/s": n / wall,
        "MB/s": n * nbytes / wall / 1e6,
        "ms/event": 1e3 * wall / n,
        "client CPU ms/event": 1e3 * cpu / n,
        "events": n,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=3.0, help="duration of each measurement")
    p.add_argument("--samples", type=int, default=BUFFER_SIZE, help="samples per channel and event")
    p.add_argument("--rate", type=float, default=1e5, help="emulator pulse rate (Hz)")
    args = p.parse_args(argv)

    proc, port = start_emulator(args.rate)
    try:
        rows = [
            ("binary", "block", "BIN, block read with term char off (default)"),
            ("binary", "query_binary_values", "BIN, pyvisa query_binary_values"),
            ("ascii", "block", "ASCII {v,v,...}"),
        ]
        results = [(label, measure(port, t, r, args.samples, args.seconds)) for t, r, label in rows]
    finally:
        proc.terminate()
        proc.wait(timeout=5)

    print(
        f"\nRed Pitaya client vs emulator (loopback, separate process), 2 channels x {args.samples} int16 "
        f"samples per event, decimation 1, {args.seconds:g} s each\n"
    )
    cols = ["events/s", "MB/s", "ms/event", "client CPU ms/event", "events"]
    w = max(len(label) for label, _ in results)
    widths = [max(len(c), 8) for c in cols]
    print(f"{'transfer':<{w}}  " + "  ".join(f"{c:>{cw}}" for c, cw in zip(cols, widths, strict=True)))
    print("-" * (w + 2 + sum(cw + 2 for cw in widths)))
    for label, r in results:
        cells = [
            f"{r[c]:>{cw}.0f}" if c == "events" else f"{r[c]:>{cw}.2f}"
            for c, cw in zip(cols, widths, strict=True)
        ]
        print(f"{label:<{w}}  " + "  ".join(cells))
    base = results[0][1]["events/s"]
    print()
    for label, r in results[1:]:
        print(f"{results[0][0]}: {base / r['events/s']:.1f}x the events/s of {label}")


if __name__ == "__main__":
    main()
