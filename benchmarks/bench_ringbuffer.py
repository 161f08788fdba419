"""Ring buffer throughput across processes, through the Importer -> Exporter templates.

    .venv/bin/python benchmarks/bench_ringbuffer.py [--quick] [--start-method fork|spawn]

Cases: small events (data_length 1; x f8, y f8, z i4; slot_count 32) and waveforms (data_length
4250; chA..chD f4; slot_count 128), with 1 and 3 reader processes, with and without an observer
process polling as fast as it can. Every case checks integrity: exactly N events arrive, counters
0..N-1 each once, and in order when there is one reader. The waveform rate is also given as a
ratio to ``numpy.copyto`` of the same bytes in one process (the memory-bandwidth floor).
Printed as a table; never an assertion.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.ringbuffer import RingBuffer
from mimocorb_gui.core.templates import Exporter, Importer
from mimocorb_gui.core.workers import yield_cpu_to_acquisition

CASES = {
    "small": dict(slot_count=32, data_length=1, dtype={"x": "f8", "y": "f8", "z": "i4"}),
    "waveform": dict(slot_count=128, data_length=4250, dtype={f"ch{c}": "f4" for c in "ABCD"}),
}


def importer_main(rb, n, go, t_start):
    io = BufferIO("importer", [], [rb.writer(0)], [])
    imp = Importer(io)
    event = np.ones(imp.data_example.shape, dtype=imp.data_example.dtype)

    def ufunc():
        for _ in range(n):
            yield event
        yield None

    go.wait()
    t_start.value = time.perf_counter()
    imp(ufunc)


def exporter_main(rb, queue):
    io = BufferIO("exporter", [rb.reader()], [], [])
    counters = []
    append = counters.append
    for _data, meta in Exporter(io):
        append(meta["counter"][0])
    queue.put((time.perf_counter(), np.asarray(counters, dtype=np.int64)))


def observer_main(rb, queue, done, interval):
    """Copy the newest event flat out (interval 0) or every ``interval`` seconds (a display's pace).

    Runs with the priority a Run gives observing worker processes (``yield_cpu_to_acquisition``).
    """
    yield_cpu_to_acquisition()
    obs = rb.observer()
    copies = 0
    while not done.is_set():
        if obs.copy_latest():
            copies += 1
        if rb.closed:
            break
        if interval:
            time.sleep(interval)
    queue.put(copies)


OBSERVERS = {"none": None, "flat out": 0.0, "1 kHz": 0.001}


def run_case(kind: str, n: int, readers: int, observer: str, ctx) -> dict:
    spec = CASES[kind]
    rb = RingBuffer(kind, spec["slot_count"], spec["data_length"], spec["dtype"], ctx=ctx)
    q, q_obs = ctx.Queue(), ctx.Queue()
    go, done = ctx.Event(), ctx.Event()
    t_start = ctx.Value("d", 0.0)
    try:
        procs = [ctx.Process(target=exporter_main, args=(rb, q)) for _ in range(readers)]
        interval = OBSERVERS[observer]
        if interval is not None:
            procs.append(ctx.Process(target=observer_main, args=(rb, q_obs, done, interval)))
        procs.append(ctx.Process(target=importer_main, args=(rb, n, go, t_start)))
        for p in procs:
            p.start()
        time.sleep(0.3 if ctx.get_start_method() == "fork" else 2.0)
        go.set()
        results = [q.get(timeout=600) for _ in range(readers)]
        done.set()
        copies = q_obs.get(timeout=60) if interval is not None else 0
        for p in procs:
            p.join(60)
        t_end = max(t for t, _ in results)
        elapsed = t_end - t_start.value
        allc = np.concatenate([c for _, c in results])
        ok = len(allc) == n and np.array_equal(np.sort(allc), np.arange(n))
        if readers == 1:
            ok = ok and np.array_equal(allc, np.arange(n))
        event_bytes = rb.data_length * rb.dtype.itemsize
        return {
            "case": kind,
            "readers": readers,
            "observer": observer,
            "events": n,
            "rate": n / elapsed,
            "mbps": n * event_bytes / elapsed / 1e6,
            "ok": ok,
            "copies": copies,
            "bytes": event_bytes,
        }
    finally:
        rb.unlink()


def copyto_rate(event_bytes: int, slots: int, seconds: float = 1.0) -> float:
    """Bytes/s of numpy.copyto of one event into rotating slot-sized arrays (the bandwidth floor)."""
    src = np.ones(event_bytes, np.uint8)
    dst = np.empty((slots, event_bytes), np.uint8)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for i in range(slots):
            np.copyto(dst[i], src)
        n += slots
    return n * event_bytes / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer events (a smoke run)")
    ap.add_argument("--start-method", default="fork", choices=multiprocessing.get_all_start_methods())
    ap.add_argument("--repeat", type=int, default=3, help="runs per case, interleaved; the median is shown")
    ap.add_argument(
        "--kind", choices=[*CASES, "all"], default="all", help="only small events or only waveforms"
    )
    args = ap.parse_args()
    ctx = multiprocessing.get_context(args.start_method)
    sizes = {"small": 50_000 if args.quick else 500_000, "waveform": 20_000 if args.quick else 200_000}
    kinds = list(CASES) if args.kind == "all" else [args.kind]
    cases = [(k, r, o) for k in kinds for r in (1, 3) for o in OBSERVERS]
    runs: dict[tuple, list[dict]] = {c: [] for c in cases}
    for _ in range(args.repeat):  # interleaved, so a noisy moment on the machine hits every case alike
        for kind, readers, observer in cases:
            runs[(kind, readers, observer)].append(run_case(kind, sizes[kind], readers, observer, ctx))
    floor = copyto_rate(CASES["waveform"]["data_length"] * 16, CASES["waveform"]["slot_count"])
    print(
        f"start method: {args.start_method}; numpy.copyto of waveform events into "
        f"{CASES['waveform']['slot_count']} rotating slots: {floor / 1e9:.2f} GB/s"
    )
    print(f"median of {args.repeat} interleaved runs per case; integrity checked in every run")
    print(
        f"{'case':<9} {'readers':>7} {'observer':>8} {'events':>8} {'events/s':>10} {'min..max':>17} "
        f"{'MB/s':>9} {'vs copyto':>9} {'obs copies':>10} {'integrity':>9}"
    )
    for c in cases:
        rs = sorted(runs[c], key=lambda r: r["rate"])
        r = rs[len(rs) // 2]
        ok = all(x["ok"] for x in rs)
        spread = f"{rs[0]['rate']:.0f}..{rs[-1]['rate']:.0f}"
        ratio = f"{r['mbps'] * 1e6 / floor:9.3f}" if r["case"] == "waveform" else f"{'':>9}"
        print(
            f"{r['case']:<9} {r['readers']:>7} {r['observer']:>8} {r['events']:>8} {r['rate']:>10.0f} "
            f"{spread:>17} {r['mbps']:>9.1f} {ratio} {r['copies']:>10} {('ok' if ok else 'FAIL'):>9}"
        )


if __name__ == "__main__":
    main()
