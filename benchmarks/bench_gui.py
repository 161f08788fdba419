"""Oscilloscope frames/s with 4 × 4250 samples while the muon setup runs, and the muon setup's
events/s with the GUI attached versus headless (``mimocorb run``), in one run, printed as a table.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui.py [--seconds 20] [--rounds 2]
        [--setup mimocorb_gui/setups/muon_lifetime/setup.yaml] [--rate max|setup]

The setup folder is copied to a temporary directory. ``--rate max`` (default) sets the simulated
source's rate to 0 (as fast as the pipeline takes events), so acquisition is CPU-bound and any CPU
the GUI takes shows up as lost events/s; ``--rate setup`` keeps the setup's own rate (a lab's
view: does acquisition keep up with the GUI attached?). If the setup has no oscilloscope on its
4-channel waveform buffer, one is added (``observers.oscilloscope``, it is what the GUI shows).

Rows: headless = ``python -m mimocorb_gui run SETUP --time T`` in a subprocess, rate taken from its
progress lines between 3 s and the end (start-up excluded); GUI = the main window (offscreen) runs
the same setup with the oscilloscope dock polling at the given interval; events/s over the same
window, frames/s = traces drawn per second, paints/s = paint events of the plot's viewport.
Rounds alternate headless and GUI so drift on a noisy machine hits both alike.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mimocorb_gui.shipped import examples_dir

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 3.0  # seconds excluded at the start of every measurement
SAMPLES = 4250  # samples per channel of the waveform buffers
CANDIDATES = (
    examples_dir() / "muon_lifetime" / "setup.yaml",
    ROOT / "tests" / "data" / "setups" / "muon_lifetime" / "setup.yaml",
)


def prepare(setup_file: Path, rate: str, workdir: Path) -> tuple[Path, str, str]:
    """Copy the setup folder, set the source rate, make sure an oscilloscope watches the waveforms."""
    from mimocorb_gui.core.setup import Setup

    folder = workdir / "setup"
    shutil.copytree(setup_file.parent, folder, ignore=shutil.ignore_patterns("runs", "run_*", "*.mimo"))
    path = folder / setup_file.name
    setup = Setup.load(path)
    importers = [n for n, w in setup.workers.items() if not w.sources and w.sinks]
    if rate == "max":
        for name in importers:
            config = dict(setup.workers[name].config)
            if "rate" in config or setup.workers[name].function.startswith("simulators."):
                config["rate"] = 0
                setup.set_worker_field(name, "config", config)
    waveforms = [
        b
        for b, spec in setup.buffers.items()
        if spec.dtype is not None and len(spec.dtype.names or ()) == 4 and (spec.data_length or 0) >= 1000
    ]
    if not waveforms:
        raise SystemExit(f"{setup_file}: no buffer with 4 channels of >= 1000 samples to watch")
    for b in waveforms:  # the figure asked for: 4 × 4250 samples (about 17 µs at 4 ns)
        if setup.buffers[b].data_length != SAMPLES:
            setup.set_buffer_field(b, "data_length", SAMPLES)
    waveform = next(
        (b for b in waveforms if b in {w for s in setup.workers.values() for w in s.sinks if not s.sources}),
        waveforms[0],
    )
    scopes = [
        n
        for n, w in setup.workers.items()
        if w.function == "observers.oscilloscope" and waveform in w.observes
    ]
    if scopes:
        scope = scopes[0]
    else:
        scope = "bench_scope"
        setup.add_worker(
            scope, "observers.oscilloscope", observes=[waveform], config={"update_interval": 0.1}
        )
    setup.save(path)
    return path, waveform, scope


PROGRESS = re.compile(r"^\s*([\d.]+) s (\w+)\s*\|(.*)$")


def headless(path: Path, seconds: float, run_root: Path) -> dict:
    """``mimocorb run`` in a subprocess; events/s of the root buffers from its 5-second progress lines."""
    cmd = [
        sys.executable,
        "-m",
        "mimocorb_gui",
        "run",
        str(path),
        "--time",
        str(seconds),
        "--run-root",
        str(run_root),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    samples = []
    for line in proc.stderr.splitlines():
        m = PROGRESS.match(line)
        if not m:
            continue
        t = float(m.group(1))
        events = sum(int(x) for x in re.findall(r": (\d+) ev", m.group(3)))
        if m.group(2) == "running":
            samples.append((t, events))
    usable = [s for s in samples if s[0] >= WARMUP]
    if proc.returncode != 0 or len(usable) < 2:
        raise RuntimeError(
            f"headless run gave too few progress lines (rc {proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    (t0, n0), (t1, n1) = usable[0], usable[-1]
    return {"events_per_s": (n1 - n0) / (t1 - t0), "window": t1 - t0}


def gui(path: Path, seconds: float, run_root: Path, scope_worker: str, interval: float) -> dict:
    """The main window runs the setup; the oscilloscope dock polls every ``interval`` seconds."""
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    from mimocorb_gui.ui.app import create_app
    from mimocorb_gui.ui.main_window import MainWindow
    from mimocorb_gui.ui.settings import Settings

    class PaintCounter(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def eventFilter(self, obj, event) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    app = create_app()
    window = MainWindow(settings=Settings(run_root / "settings.json"))
    window.inform = lambda title, text: print(f"{title}: {text}", file=sys.stderr)
    window.controller.run_root = run_root
    window.resize(1600, 1000)
    window.show()
    if not window.open_setup(path):
        raise RuntimeError("cannot open the setup")
    dock = window.docks[f"oscilloscope:{scope_worker}"]
    dock.timer.setInterval(int(1000 / 30) if interval < 0 else int(interval * 1000))
    dock.actions["freeze"].setChecked(interval < 0)  # a negative interval: the display is frozen
    dock.raise_()
    counter = PaintCounter()
    dock.plot_widget.viewport().installEventFilter(counter)
    if not window.start_run():
        raise RuntimeError("the run did not start")
    roots = [b for b in window.setup.buffers if b in window.controller.run.root_buffers]
    marks = []

    def sample() -> None:
        st = window.controller.run.stats()
        marks.append(
            (st.time, sum(st.buffers[b].stats.events_written for b in roots), dock.frames, counter.count)
        )

    loop = QEventLoop()  # the window idles in an event loop as in the application, no busy polling
    QTimer.singleShot(int(WARMUP * 1000), sample)
    QTimer.singleShot(int(seconds * 1000), sample)
    QTimer.singleShot(int(seconds * 1000) + 1, loop.quit)
    cpu0 = time.process_time()
    loop.exec()
    gui_cpu = (time.process_time() - cpu0) / seconds
    mark, end = marks
    window.actions["stop"].trigger()
    deadline = time.monotonic() + 30
    while window.controller.busy and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    span = end[0] - mark[0]
    window.close()
    QApplication.processEvents()
    return {
        "events_per_s": (end[1] - mark[1]) / span,
        "frames_per_s": (end[2] - mark[2]) / span,
        "paints_per_s": (end[3] - mark[3]) / span,
        "gui_cpu_percent": 100 * gui_cpu,
        "window": span,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--setup", type=Path, default=None, help="muon setup (default: mimocorb_gui/setups/muon_lifetime)"
    )
    p.add_argument("--seconds", type=float, default=20.0, help="length of every measurement")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--rate", choices=("max", "setup"), default="max")
    args = p.parse_args(argv)
    setup_file = args.setup or next((c for c in CANDIDATES if c.is_file()), None)
    if setup_file is None:
        raise SystemExit("no muon setup found; pass --setup")
    with tempfile.TemporaryDirectory(prefix="bench_gui_") as tmp:
        tmp = Path(tmp)
        path, waveform, scope = prepare(setup_file.resolve(), args.rate, tmp)
        print(
            f"setup: {setup_file} (rate: {args.rate}); oscilloscope '{scope}' on '{waveform}'; "
            f"{args.seconds:g} s per measurement, {args.rounds} round(s), {os.cpu_count()} CPUs",
            flush=True,
        )
        modes = [
            ("headless (mimocorb run)", None),
            ("GUI, scope frozen", -1.0),
            ("GUI, scope every 1/30 s", 1 / 30),
            ("GUI, scope every 10 ms (fastest)", 0.01),
        ]
        results: dict[str, list[dict]] = {m: [] for m, _ in modes}
        for r in range(args.rounds):
            for name, interval in modes:
                run_root = tmp / f"runs_{r}_{len(results[name])}_{interval}"
                run_root.mkdir()
                if interval is None:
                    res = headless(path, args.seconds, run_root)
                else:
                    res = gui(path, args.seconds, run_root, scope, interval)
                results[name].append(res)
                print(
                    f"  round {r + 1}: {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in res.items()),
                    flush=True,
                )
        base = statistics.mean(r["events_per_s"] for r in results[modes[0][0]])
        print()
        print(
            f"| {'mode':<32} | {'events/s (min–max)':>24} | {'vs headless':>11} | {'scope frames/s':>14} "
            f"| {'GUI CPU':>7} |"
        )
        print(f"|{'-' * 34}|{'-' * 26}|{'-' * 13}|{'-' * 16}|{'-' * 9}|")
        for name, _ in modes:
            rows = results[name]
            evs = [r["events_per_s"] for r in rows]
            ev = statistics.mean(evs)
            spread = f"{ev:.0f} ({min(evs):.0f}–{max(evs):.0f})"
            fps = [r["frames_per_s"] for r in rows if "frames_per_s" in r]
            cpu = [r["gui_cpu_percent"] for r in rows if "gui_cpu_percent" in r]
            fps_text = f"{statistics.mean(fps):.1f}" if fps else "–"
            cpu_text = f"{statistics.mean(cpu):.0f} %" if cpu else "–"
            print(
                f"| {name:<32} | {spread:>24} | {100 * ev / base:>10.1f}% | {fps_text:>14} | {cpu_text:>7} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
