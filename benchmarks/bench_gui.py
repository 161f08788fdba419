"""Oscilloscope frames/s with 4 × 4250 samples while the muon setup runs, and the muon setup's
events/s with the GUI attached versus headless (``mimocorb run``), for one or more code trees.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui.py [--seconds 20] [--rounds 2]
        [--setup mimocorb_gui/setups/muon_lifetime/setup.yaml] [--rate max|setup]
        [--tree before=/work/h14g-before --tree after=.]

The setup folder is copied to a temporary directory. ``--rate max`` (default) sets the simulated
source's rate to 0 (as fast as the pipeline takes events), so acquisition is CPU-bound and any CPU
the GUI takes shows up as lost events/s; ``--rate setup`` keeps the setup's own rate (a lab's
view: does acquisition keep up with the GUI attached?). If the setup has no oscilloscope on its
4-channel waveform buffer, one is added (``observers.oscilloscope``, it is what the GUI shows).

Rows: headless = ``python -m mimocorb_gui run SETUP --time T`` in a subprocess, rate taken from its
progress lines between 3 s and the end (start-up excluded); GUI = the main window (offscreen) runs
the same setup with the oscilloscope dock polling at the given interval, in a subprocess too;
events/s over the same window, frames/s = traces drawn per second, paints/s = paint events of the
plot's viewport, GUI CPU = CPU time of the GUI process (all its threads) per wall second.

``--tree NAME=PATH`` (repeatable) measures each code tree: every measurement runs with that
tree's Python (``PATH/.venv/bin/python`` if there is one, else this one) and ``PYTHONPATH=PATH``,
from a directory outside any tree. Each tree runs the muon example it ships, copied and prepared
by its own code (``--setup`` makes all trees run one file). Without ``--tree``: this tree only.
Rounds go through the modes and, within a mode, the trees in turn, so drift on a noisy machine
hits all alike; the table gives medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 3.0  # seconds excluded at the start of every measurement
SAMPLES = 4250  # samples per channel of the waveform buffers
# where a tree keeps the muon example (the package data now, a top-level folder in older trees)
CANDIDATES = (
    Path("mimocorb_gui") / "setups" / "muon_lifetime" / "setup.yaml",
    Path("setups") / "muon_lifetime" / "setup.yaml",
    Path("tests") / "data" / "setups" / "muon_lifetime" / "setup.yaml",
)
RESULT = "RESULT "  # a child's last line: this prefix, then its result as JSON


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


def headless(path: Path, seconds: float, run_root: Path, tree: Tree) -> dict:
    """``mimocorb run`` in a subprocess; events/s of the root buffers from its 5-second progress lines."""
    cmd = [
        tree.python,
        "-m",
        "mimocorb_gui",
        "run",
        str(path),
        "--time",
        str(seconds),
        "--run-root",
        str(run_root),
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds + 120, env=tree.env(), cwd=run_root
    )
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


class Tree:
    """A code tree to measure: its name, folder, Python, and the environment that makes it the one imported."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path.resolve()
        own = self.path / ".venv" / "bin" / "python"
        self.python = str(own) if own.is_file() and self.path != ROOT else sys.executable

    def env(self) -> dict[str, str]:
        return dict(os.environ, PYTHONPATH=str(self.path), PYTHONUNBUFFERED="1")

    def example(self) -> Path:
        found = next((self.path / c for c in CANDIDATES if (self.path / c).is_file()), None)
        if found is None:
            raise SystemExit(f"tree {self.name} ({self.path}): no muon example; pass --setup")
        return found

    def child(self, args: list[str], cwd: Path, timeout: float) -> dict:
        """Run this script in the tree's environment; its result line as a dict."""
        proc = subprocess.run(
            [self.python, str(Path(__file__).resolve()), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
            cwd=cwd,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(
                f"tree {self.name}: {' '.join(args[:2])} failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
            )
        return json.loads(lines[-1][len(RESULT) :])


def parse_tree(text: str) -> Tree:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--tree takes NAME=PATH, not {text!r}")
    if not Path(path).is_dir():
        raise argparse.ArgumentTypeError(f"--tree {name}: {path} is not a folder")
    return Tree(name, Path(path))


def child_main(args: argparse.Namespace) -> int:
    """One step inside a tree's environment: prepare a setup copy, or one GUI measurement."""
    if args.prepare:
        workdir = Path(args.prepare[1])
        workdir.mkdir(parents=True, exist_ok=True)
        path, waveform, scope = prepare(Path(args.prepare[0]), args.rate, workdir)
        print(RESULT + json.dumps({"path": str(path), "waveform": waveform, "scope": scope}), flush=True)
    else:
        setup, scope, interval, run_root = args.measure_gui
        res = gui(Path(setup), args.seconds, Path(run_root), scope, float(interval))
        print(RESULT + json.dumps(res), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--setup", type=Path, default=None, help="muon setup (default: the example each tree ships)"
    )
    p.add_argument("--seconds", type=float, default=20.0, help="length of every measurement")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--rate", choices=("max", "setup"), default="max")
    p.add_argument("--tree", type=parse_tree, action="append", default=[], help="NAME=PATH (repeatable)")
    p.add_argument("--prepare", nargs=2, metavar=("SETUP", "DIR"), help=argparse.SUPPRESS)
    p.add_argument(
        "--measure-gui", nargs=4, metavar=("SETUP", "SCOPE", "INTERVAL", "RUN_ROOT"), help=argparse.SUPPRESS
    )
    args = p.parse_args(argv)
    if args.prepare or args.measure_gui:
        return child_main(args)
    trees = args.tree or [Tree("this", ROOT)]
    if len({t.name for t in trees}) != len(trees):
        raise SystemExit("--tree names must differ")
    modes = [
        ("headless (mimocorb run)", None),
        ("GUI, scope frozen", -1.0),
        ("GUI, scope every 1/30 s", 1 / 30),
        ("GUI, scope every 10 ms (fastest)", 0.01),
    ]
    with tempfile.TemporaryDirectory(prefix="bench_gui_") as tmp:
        tmp = Path(tmp)
        prepared = {}
        for tree in trees:
            source = (args.setup or tree.example()).resolve()
            prepared[tree.name] = tree.child(
                ["--prepare", str(source), str(tmp / tree.name), "--rate", args.rate], tmp, timeout=120
            )
            info = prepared[tree.name]
            print(
                f"tree {tree.name} ({tree.path}, {tree.python}): setup {source} (rate: {args.rate}); "
                f"oscilloscope '{info['scope']}' on '{info['waveform']}'",
                flush=True,
            )
        print(
            f"{args.seconds:g} s per measurement, {args.rounds} round(s), {os.cpu_count()} CPUs, "
            f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}",
            flush=True,
        )
        results: dict[tuple[str, str], list[dict]] = {(t.name, m): [] for t in trees for m, _ in modes}
        for r in range(args.rounds):
            for mode, interval in modes:
                for tree in trees:
                    info = prepared[tree.name]
                    run_root = tmp / f"runs_{tree.name}_{r}_{modes.index((mode, interval))}"
                    run_root.mkdir()
                    if interval is None:
                        res = headless(Path(info["path"]), args.seconds, run_root, tree)
                    else:
                        res = tree.child(
                            ["--measure-gui", info["path"], info["scope"], repr(interval), str(run_root),
                             "--seconds", str(args.seconds)],
                            run_root,
                            timeout=args.seconds + 180,
                        )  # fmt: skip
                    results[(tree.name, mode)].append(res)
                    print(
                        f"  round {r + 1}: {tree.name}: {mode}: "
                        + ", ".join(f"{k} {v:.1f}" for k, v in res.items()),
                        flush=True,
                    )
        print_table(trees, modes, results)
    return 0


def print_table(trees: list[Tree], modes: list, results: dict) -> None:
    """Medians over the rounds; 'vs headless' against the same tree's headless median."""
    med = statistics.median
    first = trees[0].name
    print()
    print(
        f"| {'tree':<8} | {'mode':<32} | {'events/s (min–max)':>20} | {'vs headless':>11} "
        f"| {'scope frames/s':>14} | {'GUI CPU':>7} |" + (f" {'vs ' + first:>10} |" if len(trees) > 1 else "")
    )
    print(
        f"|{'-' * 10}|{'-' * 34}|{'-' * 22}|{'-' * 13}|{'-' * 16}|{'-' * 9}|"
        + (f"{'-' * 12}|" if len(trees) > 1 else "")
    )
    for mode, _ in modes:
        for tree in trees:
            rows = results[(tree.name, mode)]
            evs = [r["events_per_s"] for r in rows]
            base = med(r["events_per_s"] for r in results[(tree.name, modes[0][0])])
            ev = med(evs)
            spread = f"{ev:.0f} ({min(evs):.0f}–{max(evs):.0f})"
            fps = [r["frames_per_s"] for r in rows if "frames_per_s" in r]
            cpu = [r["gui_cpu_percent"] for r in rows if "gui_cpu_percent" in r]
            fps_text = f"{med(fps):.1f}" if fps else "–"
            cpu_text = f"{med(cpu):.0f} %" if cpu else "–"
            line = f"| {tree.name:<8} | {mode:<32} | {spread:>20} | {100 * ev / base:>10.1f}% | {fps_text:>14} | {cpu_text:>7} |"
            if len(trees) > 1:
                ref = med(r["events_per_s"] for r in results[(first, mode)])
                line += f" {100 * ev / ref:>9.1f}% |"
            print(line)


if __name__ == "__main__":
    sys.exit(main())
