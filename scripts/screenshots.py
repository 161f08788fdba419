"""Screenshots of the main window during a run of each example setup, into docs/screenshots/.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [--seconds 8] [--out docs/screenshots]
        [setup ...]

Offscreen: nothing appears on the screen. Every setup runs from a temporary copy (its runs do not
land in the repository) with a fresh layout, in a 1600 × 1000 window. The grab is taken once the
docks show data (a trace, histogram entries) or after ``--seconds``. Also saved: the window with
no setup open (welcome.png) and the same window before Start (<setup>_ready.png for the first).
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

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETUPS = ("simple", "muon_lifetime", "gamma_spectroscopy", "replay", "redpitaya_demo")
SIZE = (1600, 1000)


def wait(app, seconds: float, until=None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        if until is not None and until():
            return
        time.sleep(0.02)


def docks_show_data(window) -> bool:
    for dock_id, dock in window.docks.items():
        if dock_id.startswith("oscilloscope:") and not dock.isHidden() and dock.frames < 3:
            return False
        if dock_id.startswith("histogram:") and not dock.isHidden():
            entry = dock.data.get(dock.channel)
            if entry is None or entry[1].sum() < 300:
                return False
    return True


def shoot(app, window, path: Path) -> None:
    app.processEvents()
    window.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("setups", nargs="*", default=list(DEFAULT_SETUPS), help="names in setups/ or paths")
    p.add_argument("--seconds", type=float, default=20.0, help="longest wait for data before the grab")
    p.add_argument("--min-seconds", type=float, default=10.0, help="shortest run before the grab")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mimocorb_shots_") as tmp:
        tmp = Path(tmp)
        os.environ["MIMOCORB_GUI_CONFIG_DIR"] = str(tmp / "config")
        from mimocorb_gui.ui.app import create_app
        from mimocorb_gui.ui.main_window import MainWindow
        from mimocorb_gui.ui.settings import Settings

        app = create_app()
        first = True
        for name in args.setups:
            src = Path(name) if Path(name).exists() else examples_dir() / name
            if not (src / "setup.yaml").is_file() and not src.is_file():
                print(f"skipped {name}: no setup found", file=sys.stderr)
                continue
            folder = src if src.is_dir() else src.parent
            copy = tmp / folder.name
            shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("runs", "run_*"))
            setup_path = copy / (src.name if src.is_file() else "setup.yaml")
            window = MainWindow(settings=Settings(tmp / "config" / f"{folder.name}.json"))
            window.inform = lambda title, text: print(f"  {title}: {text}", file=sys.stderr)
            window.controller.run_root = tmp / "runs" / folder.name
            window.resize(*SIZE)
            window.show()
            if first:
                wait(app, 0.5)
                shoot(app, window, args.out / "welcome.png")
            if not window.open_setup(setup_path):
                window.close()
                continue
            wait(app, 1.0)
            if first:
                shoot(app, window, args.out / f"{folder.name}_ready.png")
                first = False
            if not window.start_run():
                window.close()
                continue
            t0 = time.monotonic()
            wait(
                app,
                args.seconds,
                lambda w=window, t=t0: time.monotonic() - t > args.min_seconds and docks_show_data(w),
            )
            shoot(app, window, args.out / f"{folder.name}.png")
            window.actions["stop"].trigger()
            wait(app, 30, lambda w=window: not w.controller.busy)
            window.close()
            window.deleteLater()
            app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
