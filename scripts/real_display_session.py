"""A session on a real X display: the app under Xvfb with a window manager, driven by real input events.

    .venv/bin/python scripts/real_display_session.py [--display :77] [--size 1920x1080] [--out DIR]
        [--seconds 12] [--keep] [setup ...]

Needs ``Xvfb``, ``openbox``, ``xdotool`` and ImageMagick's ``import`` (Debian/Ubuntu:
``apt-get install -y xvfb openbox xdotool imagemagick``). Unlike ``make screenshots`` (offscreen grabs
of the window alone), this shows what a student sees: window-manager decorations, real fonts and
sizes, focus, shortcuts that go through the X server, floating docks over the window.

For every example setup (or the ones named), from a temporary copy and with fresh settings, it starts
``mimocorb SETUP``, waits for the window, maximises it with the keyboard-less window manager request
(``xdotool windowsize``), presses F5 (Start), waits, saves ``<setup>.png`` (the whole screen), presses
Shift+F5 (Stop), waits for the run to finish and saves ``<setup>_finished.png``. For the first setup it
also walks the things issue 15 names: a click into the log filter then Ctrl+S / Ctrl+Z (application
shortcuts from a dock), a dock floated by double-clicking its title bar then View ▸ Reset Layout through
the menu with the keyboard (Alt+V), and Help ▸ User Guide. Quitting is Ctrl+Q.

Use a display number of your own: others on the machine may run Xvfb too. The screenshots go to
``--out`` (default ``build/real_display``); nothing is written into the repository otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETUPS = ("simple", "muon_lifetime", "gamma_spectroscopy", "replay", "redpitaya_demo")
TOOLS = ("Xvfb", "openbox", "xdotool", "import")


class Display:
    """Xvfb plus openbox on one display number; stopped (only what we started) on exit."""

    def __init__(self, display: str, size: str) -> None:
        self.display = display
        self.size = size
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Display:
        lock = Path(f"/tmp/.X{self.display.lstrip(':')}-lock")
        if lock.exists():
            raise SystemExit(f"display {self.display} is in use ({lock}); choose another with --display")
        xvfb = subprocess.Popen(
            ["Xvfb", self.display, "-screen", "0", f"{self.size}x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(xvfb)
        for _ in range(100):
            if lock.exists():
                break
            time.sleep(0.05)
        time.sleep(0.3)
        env = self.env()
        self.procs.append(
            subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        time.sleep(0.8)
        return self

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("QT_QPA_PLATFORM", None)
        env["DISPLAY"] = self.display
        env.update(extra)
        return env

    def __exit__(self, *exc) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()


class Session:
    def __init__(self, display: Display, out: Path) -> None:
        self.d = display
        self.out = out

    def xdo(self, *args: str, check: bool = False) -> str:
        r = subprocess.run(
            ["xdotool", *args], env=self.d.env(), capture_output=True, text=True, check=check, timeout=30
        )
        return r.stdout.strip()

    def key(self, *keys: str) -> None:
        for k in keys:
            self.xdo("key", "--clearmodifiers", k)
            time.sleep(0.25)

    def type(self, text: str) -> None:
        self.xdo("type", "--delay", "30", text)

    def click(self, x: int, y: int, button: int = 1, repeat: int = 1) -> None:
        self.xdo("mousemove", "--sync", str(x), str(y))
        time.sleep(0.1)
        self.xdo("click", "--repeat", str(repeat), "--delay", "120", str(button))
        time.sleep(0.3)

    def drag(self, x0: int, y0: int, x1: int, y1: int) -> None:
        self.xdo("mousemove", "--sync", str(x0), str(y0))
        self.xdo("mousedown", "1")
        steps = 12
        for i in range(1, steps + 1):
            self.xdo("mousemove", str(x0 + (x1 - x0) * i // steps), str(y0 + (y1 - y0) * i // steps))
            time.sleep(0.03)
        self.xdo("mouseup", "1")
        time.sleep(0.4)

    def shot(self, name: str) -> Path:
        path = self.out / f"{name}.png"
        subprocess.run(["import", "-window", "root", str(path)], env=self.d.env(), check=True, timeout=60)
        print(f"wrote {path}", flush=True)
        return path

    def find_window(self, name: str, timeout: float = 60.0, process=None) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (process is None or process.poll() is None):
            ids = self.xdo("search", "--onlyvisible", "--name", name).split()
            if ids:
                return ids[-1]
            time.sleep(0.3)
        return ""

    def geometry(self, wid: str) -> tuple[int, int, int, int]:
        out = self.xdo("getwindowgeometry", "--shell", wid)
        vals = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return int(vals["X"]), int(vals["Y"]), int(vals["WIDTH"]), int(vals["HEIGHT"])

    def wait_title(self, wid: str, word: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if word in self.xdo("getwindowname", wid):
                return True
            time.sleep(0.3)
        return False


def run_setup(s: Session, setup: Path, name: str, args, tmp: Path, tour: bool) -> None:
    env = s.d.env(MIMOCORB_GUI_CONFIG_DIR=str(tmp / "config"))
    log = open(s.out / f"{name}.stderr.txt", "w")
    app = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "mimocorb"), str(setup)], env=env, stdout=log, stderr=log, cwd=tmp
    )
    try:
        wid = s.find_window("mimoCoRB", process=app)
        if not wid:
            print(f"{name}: no window appeared (see {log.name})", file=sys.stderr)
            return
        time.sleep(1.5)
        if args.maximise:
            s.xdo("windowsize", wid, "100%", "100%")
            s.xdo("windowmove", wid, "0", "0")
            time.sleep(1.0)
        s.xdo("windowactivate", "--sync", wid)
        s.shot(f"{name}_ready")
        if tour:
            tour_before_run(s, wid, name)
        s.key("F5")
        if not s.wait_title(wid, "running", 20):
            print(f"{name}: the title never said 'running'", file=sys.stderr)
        time.sleep(args.seconds)
        s.shot(name)
        s.key("shift+F5")
        s.wait_title(wid, "finished", 30) or s.wait_title(wid, "failed", 1)
        time.sleep(1.0)
        s.shot(f"{name}_finished")
        if tour:
            tour_after_run(s, wid, name)
        s.xdo("windowactivate", "--sync", wid)
        s.key("ctrl+q")
        try:
            app.wait(20)
        except subprocess.TimeoutExpired:
            s.shot(f"{name}_quit_hangs")
            app.terminate()
            app.wait(10)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(5)
        log.close()


def tour_before_run(s: Session, wid: str, name: str) -> None:
    """Floating a dock, then View ▸ Reset Layout through the menu with the keyboard."""
    x, y, w, h = s.geometry(wid)
    # the log dock sits bottom right: double-click its title bar (a few px below the dock's top) floats it
    s.click(x + w - 150, y + int(h * 0.47), repeat=2)
    time.sleep(0.8)
    s.shot(f"{name}_dock_floated")
    s.xdo("windowactivate", "--sync", wid)
    s.key("alt+v")
    time.sleep(0.4)
    s.shot(f"{name}_view_menu")
    s.key("r")  # &Reset Layout
    time.sleep(1.0)
    s.shot(f"{name}_layout_reset")


def tour_after_run(s: Session, wid: str, name: str) -> None:
    """Shortcuts from a dock, and the user guide."""
    x, y, w, h = s.geometry(wid)
    s.click(x + w // 2, y + h - 60)  # into the lower docks (a plot or the log)
    s.key("ctrl+z")
    time.sleep(0.5)
    s.shot(f"{name}_ctrl_z_from_dock")
    s.key("alt+h")
    time.sleep(0.4)
    s.shot(f"{name}_help_menu")
    s.key("Escape")
    s.key("F1")
    time.sleep(1.5)
    s.shot(f"{name}_user_guide")
    guide = s.find_window("User Guide", timeout=3)
    if guide:
        s.xdo("windowactivate", "--sync", guide)
        s.key("Escape")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("setups", nargs="*", default=list(DEFAULT_SETUPS), help="names in setups/ or paths")
    p.add_argument("--display", default=":77", help="X display number of your own (default :77)")
    p.add_argument("--size", default="1920x1080", help="screen size, e.g. 1366x768")
    p.add_argument("--seconds", type=float, default=12.0, help="how long each setup runs before the shot")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "real_display")
    p.add_argument("--no-maximise", dest="maximise", action="store_false", help="keep the app's own size")
    p.add_argument("--no-tour", dest="tour", action="store_false", help="only start/stop each setup")
    args = p.parse_args(argv)
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        print(f"missing: {', '.join(missing)} (apt-get install -y xvfb openbox xdotool imagemagick)")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with (
        tempfile.TemporaryDirectory(prefix="mimocorb_xsession_") as tmp,
        Display(args.display, args.size) as d,
    ):
        tmp = Path(tmp)
        s = Session(d, args.out)
        for i, name in enumerate(args.setups):
            src = Path(name) if Path(name).exists() else ROOT / "mimocorb_gui" / "setups" / name
            folder = src if src.is_dir() else src.parent
            if not (folder / "setup.yaml").is_file() and not src.is_file():
                print(f"skipped {name}: no setup found", file=sys.stderr)
                continue
            copy = tmp / folder.name
            shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("runs", "run_*"))
            setup = copy / (src.name if src.is_file() else "setup.yaml")
            label = folder.name if args.size == "1920x1080" else f"{folder.name}_{args.size}"
            run_setup(s, setup, label, args, tmp, tour=args.tour and i == 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
