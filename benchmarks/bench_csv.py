"""exporters.csv throughput on a 25-field parameter buffer, and the naive DataFrame-row-by-row way.

    .venv/bin/python benchmarks/bench_csv.py [--events 200000] [--naive-events 3000]

The buffer: data_length 1, 25 fields (20 float64, 5 int64), plus counter/timestamp/deadtime
columns in the file. Rows of the table:

- whole runs (`Run`, worker processes, ring buffers): an importer yielding pre-made events as fast
  as the buffer takes them -> exporters.drain (the pipeline's own ceiling), -> exporters.csv,
  -> a naive exporter that appends each event to a pandas DataFrame (``df.loc[len(df)] = row``)
  and writes it with ``to_csv(mode='a')`` every second (what mimoCoRB2 does). Events/s are
  counted from the first event's timestamp to the end of the run (process start-up excluded),
  and the file is checked to hold every event;
- the exporter's own write rate in one process: CsvFormatter turning a chunk of 10 000 rows into
  text and writing it, versus the DataFrame row-by-row loop on the same rows.

Printed as a table; not a test. The requirement is 10 000 events/s.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mimocorb_gui.core.mimofile import METADATA_DTYPE
from mimocorb_gui.functions.exporters import CsvFormatter

FIELDS = {**{f"x{i:02d}": "float64" for i in range(20)}, **{f"n{i}": "int64" for i in range(5)}}
DTYPE = np.dtype(list(FIELDS.items()))

WORKERS = '''
import time
import numpy as np
import pandas as pd
from mimocorb_gui import Exporter, Importer


def source(buffer_io):
    """Pre-made 25-field events, as fast as the buffer takes them."""
    importer = Importer(buffer_io)
    n = buffer_io["n"]
    rng = np.random.default_rng(1)
    block = np.zeros(1024, dtype=importer.data_example.dtype)
    for name in block.dtype.names:
        block[name] = rng.normal(0, 1000, 1024) if name.startswith("x") else rng.integers(0, 10**9, 1024)
    events = [block[i : i + 1] for i in range(1024)]

    def ufunc():
        for i in range(n):
            yield events[i & 1023]
        yield None

    importer(ufunc)


def naive_csv(buffer_io):
    """mimoCoRB2's csv exporter: one DataFrame row per event, to_csv(mode='a') every second."""
    exporter = Exporter(buffer_io)
    names = list(exporter.metadata_example.dtype.names) + list(exporter.data_example.dtype.names)
    filename = buffer_io.run_dir / "naive.csv"
    df = pd.DataFrame(columns=names)
    df.to_csv(filename, index=False)
    last_save = time.time()
    count = 0
    for data, metadata in exporter:
        count += 1
        df.loc[count] = list(metadata[0].tolist()) + list(data[0].tolist())
        if time.time() - last_save > 1:
            df.to_csv(filename, index=False, mode="a", header=False)
            last_save = time.time()
            df = pd.DataFrame(columns=names)
            count = 0
    df.to_csv(filename, index=False, mode="a", header=False)
'''

SETUP = """
Buffers:
  Params:
    slot_count: 256
    data_length: 1
    data_dtype: {fields}
Workers:
  source: {{file: workers.py, function: source, sinks: [Params], config: {{n: {n}}}}}
  sink: {sink}
"""


def run_case(tmp: Path, label: str, sink: str, n: int, csv_name: str | None) -> tuple[str, int, float, str]:
    from mimocorb_gui.core.run import Run
    from mimocorb_gui.core.setup import Setup

    folder = tmp / label.replace(" ", "_")
    folder.mkdir()
    (folder / "workers.py").write_text(WORKERS)
    fields = "{" + ", ".join(f"{k}: {v}" for k, v in FIELDS.items()) + "}"
    (folder / "setup.yaml").write_text(textwrap.dedent(SETUP.format(fields=fields, n=n, sink=sink)))
    run = Run(Setup.load(folder / "setup.yaml"), run_root=folder / "runs", log_level=logging.WARNING)
    try:
        run_dir = run.start()
        if not run.wait(600):
            raise RuntimeError(f"{label}: did not finish")
        t_end = time.time()
        errors = [e.format() for e in run.log_history() if e.levelno >= logging.ERROR]
        if errors:
            raise RuntimeError("\n".join(errors))
    finally:
        run.close()
    check = ""
    if csv_name is not None:
        import pandas as pd

        df = pd.read_csv(run_dir / csv_name)
        ok = len(df) == n and sorted(df["counter"].tolist()) == list(range(n))
        check = "all rows" if ok else f"WRONG: {len(df)} rows"
        t_first = float(df["timestamp"].min())
    else:
        t_first = t_end - run.elapsed()
    return label, n, t_end - t_first, check


def formatter_rate(rows: int) -> tuple[float, float]:
    rng = np.random.default_rng(2)
    meta = np.zeros(rows, METADATA_DTYPE)
    meta["counter"] = np.arange(rows)
    meta["timestamp"] = time.time() + np.arange(rows) * 1e-4
    data = np.zeros(rows, DTYPE)
    for name in DTYPE.names:
        data[name] = rng.normal(0, 1000, rows) if name.startswith("x") else rng.integers(0, 10**9, rows)
    fmt = CsvFormatter(METADATA_DTYPE, DTYPE)
    with tempfile.TemporaryFile("w") as f:
        t0, c0 = time.perf_counter(), time.process_time()
        f.write(fmt.header())
        for start in range(0, rows, 10000):
            f.write(fmt.rows(meta[start : start + 10000], data[start : start + 10000]))
        f.flush()
        return rows / (time.perf_counter() - t0), rows / (time.process_time() - c0)


def naive_rate(rows: int) -> tuple[float, float]:
    import pandas as pd

    names = list(METADATA_DTYPE.names) + list(DTYPE.names)
    meta = np.zeros(1, METADATA_DTYPE)
    data = np.ones(1, DTYPE)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "naive.csv"
        df = pd.DataFrame(columns=names)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(rows):
            df.loc[i] = list(meta[0].tolist()) + list(data[0].tolist())
        df.to_csv(path, index=False)
        return rows / (time.perf_counter() - t0), rows / (time.process_time() - c0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events through exporters.csv")
    parser.add_argument("--naive-events", type=int, default=3_000, help="events through the naive exporter")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows.append(
            run_case(
                tmp,
                "importer -> exporters.drain",
                "{function: exporters.drain, sources: [Params]}",
                args.events,
                None,
            )
        )
        rows.append(
            run_case(
                tmp,
                "importer -> exporters.csv",
                "{function: exporters.csv, sources: [Params]}",
                args.events,
                "Params.csv",
            )
        )
        rows.append(
            run_case(
                tmp,
                "importer -> naive DataFrame csv",
                "{file: workers.py, function: naive_csv, sources: [Params]}",
                args.naive_events,
                "naive.csv",
            )
        )
    fast = formatter_rate(100_000)
    slow = naive_rate(args.naive_events)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        "\nexporters.csv benchmark: 25 fields (20 float64, 5 int64) + 3 metadata columns, data_length 1"
        f" ({os.cpu_count()} CPUs, load average {load:.1f} at the end)\n"
    )
    print(f"{'case':<40} {'events':>9} {'seconds':>8} {'events/s':>10} {'per CPU-s':>10}  check")
    print("-" * 90)
    rates = {}
    for label, n, seconds, check in rows:
        rates[label] = n / seconds
        print(f"{label:<40} {n:>9} {seconds:>8.2f} {n / seconds:>10,.0f} {'':>10}  {check}")
    for label, n, (wall, cpu) in (
        ("CsvFormatter + write, one process", 100_000, fast),
        ("DataFrame row by row, one process", args.naive_events, slow),
    ):
        print(f"{label:<40} {n:>9} {n / wall:>8.2f} {wall:>10,.0f} {cpu:>10,.0f}")
    print("-" * 90)
    run_ratio = rates["importer -> exporters.csv"] / rates["importer -> naive DataFrame csv"]
    print(f"exporters.csv / naive, whole runs:           {run_ratio:6.1f} x")
    print(f"exporters.csv / naive, write alone (CPU-s):  {fast[1] / slow[1]:6.1f} x")
    print(
        f"whole-run headroom over 10 000 events/s:     {rates['importer -> exporters.csv'] / 10_000:6.1f} x"
    )


if __name__ == "__main__":
    main()
