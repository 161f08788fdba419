"""Milliseconds per edit of a 500-line setup, as the graph editor edits it, printed as a table.

    .venv/bin/python benchmarks/bench_setup_edit.py [--lines 500] [--edits 40] [--hand-written]
                                                    [--compare /path/to/other/checkout]

An edit in the editor is: a snapshot of the text before (undo), the edit through the model's API,
a snapshot after, ``Setup.modified`` for the window title and ``to_text()`` for the next check.
The setup is generated: buffers and workers like the muon example's (comments, an anchor shared
by several workers through ``<<: *``, flow lists), grown until it has ``--lines`` lines. Each edit
changes one config value of a different worker. ``--hand-written`` writes flow lists and mappings
with spaces inside the brackets, as people type them and ruamel does not: the loaded text then
differs from a dump of it, and every edit is merged into the text and the result read back. ``--compare`` runs the same measurement with the
``mimocorb_gui`` of another checkout (e.g. main before a change) in a subprocess and prints both
rows side by side: median and min–max over the edits, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generated_setup(lines: int, hand_written: bool = False) -> str:
    """Setup text of about ``lines`` lines (``hand_written``: spaces inside flow brackets)."""
    head = [
        "# generated for bench_setup_edit: a muon-like pipeline repeated",
        "common: &common",
        "  trigger_level: 50   # ADC counts",
        "  t_scaling: [0.008, 0, 'µs']",
        "",
        "Buffers:",
    ]
    buffers, workers = [], ["", "Workers:"]
    i = 0
    while len(head) + len(buffers) + len(workers) < lines:
        buffers += [
            f"  Raw{i}:   # waveforms of stage {i}",
            "    slot_count: 64",
            "    data_length: 4250",
            "    data_dtype: {chA: float32, chB: float32, chC: float32, chD: float32}",
        ]
        workers += [
            f"  filter{i}:",
            "    file: functions.py   # our own filter",
            "    function: pulse_filter",
            "    config:",
            "      <<: *common",
            f"      min_height: {10 + i}",
            "      max_width: 2.5e-3",
            "    number_of_processes: 2",
            f"    sources: [Raw{i}]",
            f"    sinks: [Raw{i + 1}]" if i else "    sinks: []",
            "",
        ]
        i += 1
    text = "\n".join(head + buffers + workers) + "\n"
    if hand_written:
        text = text.replace("{chA", "{ chA").replace("float32}", "float32 }").replace("[Raw", "[ Raw")
    return text


def measure(lines: int, edits: int, hand_written: bool = False) -> dict:
    from mimocorb_gui.core.setup import Setup

    text = generated_setup(lines, hand_written)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "setup.yaml"
        path.write_text(text, encoding="utf-8")
        setup = Setup.load(path)
        names = [n for n in setup.worker_names if n.startswith("filter")]
        times = []
        for k in range(edits):
            name = names[k % len(names)]
            t0 = time.perf_counter()
            before = setup.to_state()  # undo snapshot before
            config = dict(setup.document["Workers"][name]["config"])
            config["min_height"] = 1000 + k
            setup.set_worker_field(name, "config", {key: config[key] for key in ("min_height", "max_width")})
            after = setup.to_state()  # undo snapshot after
            changed = after.text != before.text
            setup.modified  # noqa: B018 - the window title asks
            setup.to_text()
            times.append((time.perf_counter() - t0) * 1000)
            assert changed
        final = setup.to_text()
        assert f"min_height: {1000 + edits - 1}" in final and "<<: *common" in final
        assert ("[ Raw1]" in final) == hand_written  # the text as written is kept
    return {"lines": text.count("\n"), "ms": times}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, default=500)
    p.add_argument("--edits", type=int, default=40)
    p.add_argument("--hand-written", action="store_true", help="spaces inside flow brackets")
    p.add_argument("--compare", type=Path, default=None, help="another checkout to measure the same way")
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one row, for --compare
    args = p.parse_args(argv)
    if args.json:
        print(json.dumps(measure(args.lines, args.edits, args.hand_written)))
        return 0
    rows = []
    trees = [("this checkout", ROOT)] + (
        [("--compare " + str(args.compare), args.compare)] if args.compare else []
    )
    for label, tree in trees:
        env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
        cmd = [sys.executable, __file__, "--json", "--lines", str(args.lines), "--edits", str(args.edits)]
        cmd += ["--hand-written"] if args.hand_written else []
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=tree).stdout
        result = json.loads(out.splitlines()[-1])
        rows.append((label, result))
    print(
        f"setup of {rows[0][1]['lines']} lines{' (hand-written)' if args.hand_written else ''}, "
        f"{args.edits} edits (one config value each), {os.cpu_count()} CPUs"
    )
    print(f"| {'code':<40} | {'ms per edit, median (min–max)':>30} |")
    print(f"|{'-' * 42}|{'-' * 32}|")
    medians = []
    for label, result in rows:
        ms = result["ms"]
        medians.append(statistics.median(ms))
        print(f"| {label:<40} | {f'{medians[-1]:.1f} ({min(ms):.1f}–{max(ms):.1f})':>30} |")
    if len(medians) == 2:
        print(f"ratio (compared / this): {medians[1] / medians[0]:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
