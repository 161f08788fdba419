"""Screenshots of the graph editor for the docs: docs/screenshots/editor_*.png.

    QT_QPA_PLATFORM=offscreen python scripts/editor_screenshots.py [--out docs/screenshots]

1. editor_muon.png   the muon lifetime setup as laid out on open, a worker selected
2. editor_error.png  the same setup with a validation error (the importer's sink disconnected)
3. editor_run.png    live numbers from a real short run (rates, fill levels, processes)
4. editor_failed.png a run whose worker raised: the worker turns red
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from mimocorb_gui.shipped import examples_dir

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def muon_setup_dir() -> Path:
    for candidate in (
        examples_dir() / "muon_lifetime",
        ROOT / "tests" / "data" / "setups" / "muon_lifetime",
    ):
        if (candidate / "setup.yaml").is_file():
            return candidate
    raise SystemExit("no muon_lifetime setup found")


FAILING_WORKER = '''
from mimocorb_gui import Filter


def breaks_after_some(buffer_io):
    """Pass events through, then raise (to show a failed worker)."""
    n = 0

    def f(data):
        nonlocal n
        n += 1
        if n > 20:
            raise ValueError("cannot handle event 21")
        return True

    Filter(buffer_io)(f)
'''


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--size", default="1600x900")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from mimocorb_gui.core.run import Run
    from mimocorb_gui.core.setup import Setup
    from mimocorb_gui.ui.editor import GraphEditor

    def settle(ms: int = 50) -> None:
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    def shot(editor: GraphEditor, name: str) -> Path:
        settle()
        path = args.out / name
        editor.grab().save(str(path))
        print(f"wrote {path}")
        return path

    with tempfile.TemporaryDirectory(prefix="editor_shots_") as tmp:
        work = Path(tmp) / "muon_lifetime"
        shutil.copytree(muon_setup_dir(), work, ignore=shutil.ignore_patterns("runs", ".*.layout.json"))
        editor = GraphEditor()
        editor.resize(width, height)
        editor.show()
        editor.set_setup(Setup.load(work / "setup.yaml"))
        settle()
        editor.view.fit()
        editor.select_node("worker", "lifetime_filter", center=False)
        shot(editor, "editor_muon.png")

        # a validation error: the importer loses its sink
        importer = next(n for n, w in editor.setup.workers.items() if not w.sources and w.sinks)
        editor.disconnect_nodes(importer, editor.setup.workers[importer].sinks[0], "sinks")
        editor.validate_now()
        errors = [p for p in editor.problems() if p.severity == "error"]
        if errors:
            editor.problems_view.activate_row(0)
        editor.view.fit()
        shot(editor, "editor_error.png")
        editor.undo_stack.undo()
        editor.validate_now()
        editor.scene.clearSelection()

        # during a run: real numbers from a short run of the same setup
        setup = editor.setup
        with Run(setup, run_root=Path(tmp) / "runs") as run:
            run.start()
            deadline = time.monotonic() + 6
            stats = run.stats()
            while time.monotonic() < deadline:
                time.sleep(0.25)
                stats = run.stats()
                if time.monotonic() > deadline - 3.5 and all(b.rate > 0 for b in stats.buffers.values()):
                    break
            editor.set_run_stats(stats)
            editor.view.fit()
            editor.select_node("buffer", setup.workers["lifetime_filter"].sources[0], center=False)
            shot(editor, "editor_run.png")
            run.stop(timeout=20)
        editor.set_run_stats(None)

        # a failed worker turns red: the filter is replaced by one that raises after 20 events
        (work / "breaks.py").write_text(FAILING_WORKER)
        spec = editor.setup.workers["lifetime_filter"]
        source = editor.setup.buffers[spec.sources[0]]
        same = [b for b in spec.sinks if editor.setup.buffers[b].dtype == source.dtype]
        for sink in spec.sinks:
            if sink not in same:  # a Filter passes events unchanged: keep the sinks of the same dtype
                editor.remove_nodes(
                    [("buffer", sink)]
                    + [("worker", w) for w, ws in editor.setup.workers.items() if ws.sources == [sink]]
                )
        editor.set_worker_field("lifetime_filter", "file", "breaks.py")
        editor.set_worker_field("lifetime_filter", "function", "breaks_after_some")
        editor.set_worker_field("lifetime_filter", "config", None)
        editor.auto_layout()
        setup = editor.setup
        with Run(setup, run_root=Path(tmp) / "runs") as run:
            run.start()
            run.wait(20)
            editor.set_run_stats(run.stats())
            editor.view.fit()
            editor.select_node("worker", "lifetime_filter", center=False)
            shot(editor, "editor_failed.png")
        editor.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
