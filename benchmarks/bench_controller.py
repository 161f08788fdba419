"""CPU of the controlling process (``mimocorb run``) during a muon run, for one or more code trees.

    .venv/bin/python benchmarks/bench_controller.py [--seconds 20] [--rounds 2]
        [--setup setups/muon_lifetime/setup.yaml] [--rate setup|max]
        [--tree before=/tmp/main_copy --tree after=.]

Each row runs ``python -m mimocorb_gui run SETUP --time T`` in a subprocess with ``PYTHONPATH`` set
to the tree given, and samples the controller process alone (not its workers) with psutil: CPU
seconds of all its threads between 3 s after the start and the last sample before the end,
divided by the wall time in between, in percent of one core. The events written by the importers
come from the CLI's last progress line. The setup folder is copied to a temporary directory per
row; ``--rate max`` sets the simulated sources' rate to 0 (as fast as the pipeline takes events).
Rounds alternate between the trees so drift on a noisy machine hits all alike; the table gives
the median over rounds.

"before" is measured on an unchanged tree: ``mkdir /tmp/before && git archive main | tar -x -C
/tmp/before`` (taken before the change).
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

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WARMUP = 3.0


def set_max_rate(path: Path) -> None:
    """Simulated sources as fast as the pipeline takes events (``rate: 0``)."""
    from mimocorb_gui.core.setup import Setup

    setup = Setup.load(path)
    for name, w in setup.workers.items():
        if not w.sources and w.sinks and ("rate" in w.config or w.function.startswith("simulators.")):
            setup.set_worker_field(name, "config", {**w.config, "rate": 0})
    setup.save()


def one_run(tree: Path, setup_file: Path, seconds: float, workdir: Path, rate: str) -> dict:
    folder = workdir / "setup"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(setup_file.parent, folder, ignore=shutil.ignore_patterns("runs", "run_*", "*.mimo"))
    if rate == "max":
        set_max_rate(folder / setup_file.name)
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONUNBUFFERED="1")
    cmd = [
        sys.executable,
        "-m",
        "mimocorb_gui",
        "run",
        str(folder / setup_file.name),
        "--time",
        str(seconds),
        "--run-root",
        str(workdir / "runs"),
    ]
    t_start = time.monotonic()
    proc = subprocess.Popen(  # cwd: not a source tree, so PYTHONPATH decides which code runs
        cmd, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    ps = psutil.Process(proc.pid)
    first = last = None
    while proc.poll() is None:
        try:
            cpu = ps.cpu_times()
        except psutil.NoSuchProcess:
            break
        now = time.monotonic()
        sample = (now, cpu.user + cpu.system)
        if first is None and now - t_start >= WARMUP:
            first = sample
        last = sample
        time.sleep(0.2)
    stderr = proc.stderr.read()
    proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: run failed ({proc.returncode}):\n{stderr[-2000:]}")
    finals = [ln for ln in stderr.splitlines() if " ev " in ln]
    events = sum(int(n) for n in re.findall(r"(\d+) ev ", finals[-1])) if finals else 0
    cpu_percent = 100.0 * (last[1] - first[1]) / (last[0] - first[0]) if first and last[0] > first[0] else 0.0
    return {"cpu": cpu_percent, "events": events, "wall": time.monotonic() - t_start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--setup", type=Path, default=ROOT / "setups" / "muon_lifetime" / "setup.yaml")
    parser.add_argument("--rate", choices=("setup", "max"), default="setup")
    parser.add_argument(
        "--tree", action="append", default=[], help="label=path of a code tree (default: this=repository)"
    )
    args = parser.parse_args(argv)
    trees = [(t.split("=", 1)[0], Path(t.split("=", 1)[1]).resolve()) for t in args.tree] or [("this", ROOT)]
    results: dict[str, list[dict]] = {label: [] for label, _ in trees}
    with tempfile.TemporaryDirectory(prefix="bench_controller_") as tmp:
        for r in range(args.rounds):
            for label, tree in trees:
                res = one_run(tree, args.setup.resolve(), args.seconds, Path(tmp), args.rate)
                results[label].append(res)
                print(
                    f"round {r + 1} {label}: controller {res['cpu']:.1f} % of a core, "
                    f"{res['events']} events, {res['wall']:.1f} s",
                    file=sys.stderr,
                )
    print(
        f"setup {args.setup} (rate: {args.rate}), --time {args.seconds:g} s, {args.rounds} round(s), median over rounds"
    )
    print(f"{'tree':<10} {'controller CPU % of a core':>27} {'events written':>15} {'events/s':>9}")
    base = None
    for label, _ in trees:
        cpu = statistics.median(r["cpu"] for r in results[label])
        events = statistics.median(r["events"] for r in results[label])
        base = cpu if base is None else base
        ratio = f"  ({cpu / base:.2f}x of {trees[0][0]})" if base and label != trees[0][0] else ""
        print(f"{label:<10} {cpu:>27.1f} {events:>15.0f} {events / args.seconds:>9.1f}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
