"""The PyInstaller bundle (dist/mimocorb/): built from mimocorb.spec, exercised from outside the source tree.

Slow (builds the bundle unless dist/ holds one newer than every input): ``make test-bundle`` or
``pytest -m slow``. ``MIMOCORB_BUNDLE_REBUILD=1`` forces a build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import shm_segments
from waiting import wait_until

from mimocorb_gui.shipped import examples_dir

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist" / "mimocorb"
EXE = DIST / "mimocorb"
INTERNAL = DIST / "_internal"
SIZE_BUDGET_MB = 350  # measured 268 MB; a Qt module or test suite sneaking in shows up here

UNUSED_LIBS = (
    "libQt6WebEngineCore libQt6Quick libQt6Qml libQt6Network libQt6Multimedia libQt6Pdf libQt6Designer"
)
UNUSED_LIBS = (*UNUSED_LIBS.split(), "libqgtk3", "libgtk-3", "libtk", "libtcl")
NEEDED_LIBS = "libQt6Core libQt6Gui libQt6Widgets libQt6Svg libqxcb libqoffscreen libqwayland".split()
UNUSED_PACKAGES = "pytest _pytest hypothesis tkinter matplotlib IPython PyQt5 PyQt6 PySide2 PyInstaller importlinter pytestqt"
UNUSED_PACKAGES = UNUSED_PACKAGES.split()
# what user worker files commonly import, the pyvisa backend loaded by name, the worker entry point
NEEDED_MODULES = (
    "scipy.signal scipy.optimize scipy.stats scipy.special scipy.interpolate scipy.integrate scipy.fft "
    "scipy.linalg scipy.ndimage pyvisa_py.tcpip mimocorb_gui.core.workers mimocorb_gui.functions.data"
).split()

# Everything the bundle is built from; runs and caches do not count.
INPUTS = ("mimocorb_gui", "mimocorb.spec", "pyproject.toml")


def _newest_input() -> float:
    newest = 0.0
    for name in INPUTS:
        path = ROOT / name
        files = [path] if path.is_file() else path.rglob("*")
        for f in files:
            parts = f.relative_to(ROOT).parts
            if any(p == "runs" or p.startswith("run_") or p == "__pycache__" for p in parts):
                continue
            if f.is_file():
                newest = max(newest, f.stat().st_mtime)
    return newest


@pytest.fixture(scope="module")
def bundle() -> Path:
    """dist/mimocorb/mimocorb, built now unless a bundle newer than every input exists."""
    import fcntl

    lock_path = ROOT / "build" / ".bundle-test.lock"
    lock_path.parent.mkdir(exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time (two test sessions in one checkout)
        fresh = EXE.is_file() and EXE.stat().st_mtime > _newest_input()
        if not fresh or os.environ.get("MIMOCORB_BUNDLE_REBUILD"):
            _build()
    assert EXE.is_file() and os.access(EXE, os.X_OK)
    return EXE


def _build() -> None:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        pytest.fail("PyInstaller is missing: pip install -e '.[bundle]' (make test-bundle does it)")
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "mimocorb.spec"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
    )
    assert proc.returncode == 0, f"pyinstaller failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    print(f"\nbundle built in {time.monotonic() - t0:.0f} s")


def bundle_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for the bundle: no venv or source tree on any path, private HOME/config."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "MIMOCORB_START_METHOD")
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(ROOT))
    )
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        MIMOCORB_GUI_CONFIG_DIR=str(home / "mimocorb-config"),
        QT_QPA_PLATFORM="offscreen",
    )
    env.update(extra)
    return env


def run_bundle(
    exe: Path, args: list[str], tmp_path: Path, timeout: float = 120, **env
) -> subprocess.CompletedProcess:
    """Run the bundle executable to its end; no shared memory of it may be left afterwards."""
    with subprocess.Popen(
        [str(exe), *args],
        cwd=tmp_path,
        env=bundle_env(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"mimocorb {' '.join(args)} did not end within {timeout} s:\n{err[-4000:]}")
    assert_no_shm_left(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def example_setup(tmp_path: Path) -> Path:
    """The simple example setup (redpitaya_demo until setups/simple exists), copied out of the source tree."""
    for name in ("simple", "redpitaya_demo"):
        src = examples_dir() / name
        if (src / "setup.yaml").is_file():
            dst = tmp_path / name
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("runs", "run_*", "__pycache__"))
            return dst / "setup.yaml"
    pytest.fail("no example setup in setups/")


def assert_no_shm_left(pid: int) -> None:
    """Segments are named mimocorb_<creator pid>_<random>: none of the bundle process's may outlive it."""
    prefix = f"mimocorb_{pid}_"
    try:  # a resource tracker may still be finishing
        wait_until(lambda: not shm_segments(prefix), timeout=5, interval=0.1, what="shared memory released")
    except AssertionError:
        pytest.fail(f"shared memory left behind: {sorted(shm_segments(prefix))}")


# --------------------------------------------------------------------------- layout


def test_bundle_layout_and_size(bundle):
    assert (INTERNAL / "mimocorb_gui" / "setups" / "redpitaya_demo" / "setup.yaml").is_file()
    assert not list((INTERNAL / "mimocorb_gui" / "setups").rglob("run_*")), "run directories were bundled"
    for name in ("mimocorb.svg", "mimocorb.desktop", "mimocorb-setup.xml", "icons/mimocorb-48.png"):
        assert (INTERNAL / "mimocorb_gui" / "resources" / name).is_file(), name
    libs = {p.name for p in INTERNAL.rglob("*.so*")}
    for unused in UNUSED_LIBS:
        assert not [n for n in libs if n.startswith(unused)], f"{unused} is bundled"
    for needed in NEEDED_LIBS:
        assert [n for n in libs if n.startswith(needed)], f"{needed} is missing"

    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(bundle))
    modules = set(archive.open_embedded_archive("PYZ.pyz").toc)
    top = {m.split(".")[0] for m in modules}
    for unused in UNUSED_PACKAGES:
        assert unused not in top, f"{unused} is bundled"
    assert not [m for m in modules if m.startswith(("scipy.", "numpy.")) and ".tests" in m]
    for m in NEEDED_MODULES:
        assert m in modules, f"{m} is missing"
    qt_modules = {p.name.split(".")[0] for p in (INTERNAL / "PySide6").glob("Qt*.so")}
    assert qt_modules <= {
        "QtCore",
        "QtGui",
        "QtWidgets",
        "QtSvg",
        "QtSvgWidgets",
        "QtOpenGL",
        "QtOpenGLWidgets",
    }, qt_modules
    assert {"QtOpenGL", "QtOpenGLWidgets"} <= qt_modules  # pyqtgraph imports them by name

    size_mb = sum(f.stat().st_size for f in DIST.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6
    print(f"\nbundle size: {size_mb:.0f} MB")
    assert size_mb < SIZE_BUDGET_MB


def test_every_prebuilt_function_is_in_the_bundle(bundle, tmp_path):
    from mimocorb_gui.core.loader import prebuilt_functions

    proc = run_bundle(bundle, ["functions"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
    assert listed == set(prebuilt_functions())
    assert "warning" not in proc.stderr.lower(), proc.stderr


def test_cli_help_and_check(bundle, tmp_path):
    proc = run_bundle(bundle, ["--help"], tmp_path)
    assert proc.returncode == 0
    for command in ("run", "check", "functions", "rp-emulator", "install-desktop"):
        assert command in proc.stdout
    setup = example_setup(tmp_path)
    proc = run_bundle(bundle, ["check", str(setup)], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 error(s)" in proc.stdout


# --------------------------------------------------------------------------- runs


@pytest.mark.parametrize("start_method", [None, "spawn"])
def test_run_example_setup_outside_the_source_tree(bundle, tmp_path, start_method):
    setup = example_setup(tmp_path)
    args = ["run", str(setup.relative_to(tmp_path)), "--time", "3"]
    if start_method:
        args += ["--start-method", start_method]
    t0 = time.monotonic()
    proc = run_bundle(bundle, args, tmp_path)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    assert "finished:" in proc.stderr
    assert "Traceback" not in proc.stderr
    run_dirs = sorted((setup.parent / "runs").glob("run_*"))
    assert len(run_dirs) == 1 and (run_dirs[0] / "run.log").is_file()
    log = (run_dirs[0] / "run.log").read_text()
    assert f"({start_method or 'fork'})" in log  # the start method we asked for was used
    assert "run finished" in log
    print(f"\n`mimocorb run --time 3` ({start_method or 'default'}): {elapsed:.1f} s wall")


SCIPY_SETUP = """\
# A worker file next to the setup, outside the bundle, importing numpy and scipy.
Buffers:
  spectra:
    slot_count: 16
    data_length: 64
    data_dtype: {y: float64}
  fits:
    slot_count: 64
    data_length: 1
    data_dtype: {mean: float64, sigma: float64, n_peaks: int32, erf_one: float64}
Workers:
  source:
    file: fit_worker.py
    function: gaussians
    sinks: [spectra]
    config: {n_events: 40}
  fit:
    file: fit_worker.py
    function: fit
    number_of_processes: 2
    sources: [spectra]
    sinks: [fits]
  export:
    function: data.export
    sources: [fits]
target_directory: runs
"""

SCIPY_WORKER = '''\
"""User worker file (mimoCoRB2 style imports) using numpy and scipy.signal/optimize/stats/special."""

import mimocorb2 as mi2
import numpy as np
import scipy
from helpers import gauss  # a sibling module next to the worker file
from scipy import optimize, signal, special, stats

X = np.linspace(0.0, 10.0, 64)


def gaussians(buffer_io):
    importer = mi2.Importer(buffer_io)
    n = int(buffer_io.get("n_events", 40))
    rng = np.random.default_rng(7)

    def ufunc():
        for _ in range(n):
            event = np.zeros(64, dtype=[("y", "f8")])
            event["y"] = stats.norm.pdf(X, loc=5.0, scale=1.2) + rng.normal(0.0, 0.002, X.size)
            yield event
        yield None

    print(f"scipy {scipy.__version__} in a worker")
    importer(ufunc)


def fit(buffer_io):
    processor = mi2.Processor(buffer_io)
    out = np.zeros(1, dtype=buffer_io.data_out_examples[0].dtype)

    def ufunc(data):
        smooth = signal.savgol_filter(data["y"], 7, 2)
        peaks, _ = signal.find_peaks(smooth, height=0.1)
        (_a, mu, sigma), _ = optimize.curve_fit(gauss, X, data["y"], p0=(0.3, 4.0, 1.0))
        out["mean"] = mu
        out["sigma"] = abs(sigma)
        out["n_peaks"] = len(peaks)
        out["erf_one"] = special.erf(1.0)
        return [out]

    processor(ufunc)
'''

HELPERS = """\
import numpy as np


def gauss(x, a, mu, sigma):
    return a * np.exp(-0.5 * ((x - mu) / sigma) ** 2)
"""


@pytest.mark.parametrize("start_method", [None, "spawn"])
def test_user_worker_file_with_scipy(bundle, tmp_path, start_method):
    from mimocorb_gui.core.mimofile import read_mimo

    folder = tmp_path / "fit_setup"
    folder.mkdir()
    (folder / "setup.yaml").write_text(SCIPY_SETUP)
    (folder / "fit_worker.py").write_text(SCIPY_WORKER)
    (folder / "helpers.py").write_text(HELPERS)
    args = ["run", "fit_setup/setup.yaml", "-v"]
    if start_method:
        args += ["--start-method", start_method]
    proc = run_bundle(bundle, args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "scipy " in proc.stderr and " in a worker" in proc.stderr
    (run_dir,) = sorted((folder / "runs").glob("run_*"))
    metadata, data, _header = read_mimo(run_dir / "fits.mimo")
    assert len(metadata) == 40
    assert sorted(metadata["counter"].ravel()) == list(range(40))
    assert abs(float(data["mean"].mean()) - 5.0) < 0.05
    assert abs(float(data["sigma"].mean()) - 1.2) < 0.05
    assert (data["n_peaks"] == 1).all()
    assert abs(float(data["erf_one"].mean()) - 0.8427007929) < 1e-9


def test_worker_failure_in_the_bundle_is_reported(bundle, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "setup.yaml").write_text(SCIPY_SETUP.replace("function: fit\n", "function: fit_broken\n"))
    (folder / "fit_worker.py").write_text(
        SCIPY_WORKER + "\n\ndef fit_broken(buffer_io):\n    import scipy.no_such_module  # noqa\n"
    )
    (folder / "helpers.py").write_text(HELPERS)
    proc = run_bundle(bundle, ["run", "broken/setup.yaml", "--start-method", "spawn"], tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "fit_broken" in proc.stderr or "scipy.no_such_module" in proc.stderr
    assert "worker(s) failed: fit" in proc.stderr


def test_install_desktop_from_the_bundle_points_at_the_bundle(bundle, tmp_path):
    prefix = tmp_path / "prefix"
    proc = run_bundle(bundle, ["install-desktop", "--prefix", str(prefix), "--no-default"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = (prefix / "share/applications/mimocorb.desktop").read_text()
    assert f"Exec={bundle.resolve()} gui %f" in text
    assert f"TryExec={bundle.resolve()}" in text
    shipped = (INTERNAL / "mimocorb_gui/resources/icons/mimocorb-256.png").read_bytes()
    assert (prefix / "share/icons/hicolor/256x256/apps/mimocorb.png").read_bytes() == shipped
    proc = run_bundle(
        bundle, ["install-desktop", "--prefix", str(prefix), "--uninstall", "--no-default"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert not (prefix / "share/applications/mimocorb.desktop").exists()


# --------------------------------------------------------------------------- GUI


def test_gui_starts_with_a_setup_and_quits_on_ctrl_c(bundle, tmp_path):
    """GUI from the bundle, offscreen: opens the setup (it lands in the recent list), survives, Ctrl-C quits with 0."""
    import json
    import signal

    setup = example_setup(tmp_path)
    env = bundle_env(tmp_path)
    proc = subprocess.Popen(
        [str(bundle), str(setup)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    settings = Path(env["MIMOCORB_GUI_CONFIG_DIR"]) / "settings.json"
    try:
        wait_until(
            lambda: proc.poll() is not None or settings.is_file() and str(setup) in settings.read_text(),
            timeout=60,
            interval=0.2,
            what="the GUI to open the setup",
        )
        time.sleep(2.0)  # runs a while on purpose: it must keep painting and polling, not end by itself
        assert proc.poll() is None, (
            f"the GUI ended by itself ({proc.returncode}):\n{proc.communicate()[1][-4000:]}"
        )
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-4000:]
    assert "Traceback" not in err, err[-4000:]
    assert str(setup) in json.loads(settings.read_text())["recent"]
    assert_no_shm_left(proc.pid)


def test_gui_opens_runs_and_quits_offscreen(bundle, tmp_path):
    """GUI from the bundle: open a setup, start, stop in order after 3 s, quit with 0; time to the window.

    MIMOCORB_GUI_SELFTEST=<s> makes the application print ``mimocorb-selftest: window shown <t> s after
    exec``, start the opened setup, stop it in order after <s> s, print ``mimocorb-selftest: run finished
    <state> <events> events <run dir>``, close the window and exit (0 only if the run finished with events).
    """
    setup = example_setup(tmp_path)
    t0 = time.monotonic()
    with subprocess.Popen(
        [str(bundle), str(setup)],
        cwd=tmp_path,
        env=bundle_env(tmp_path, MIMOCORB_GUI_SELFTEST="3"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the GUI self-test did not end:\n{out}\n{err[-4000:]}")
    wall = time.monotonic() - t0
    assert proc.returncode == 0, f"exit code {proc.returncode}\nstdout:\n{out}\nstderr:\n{err[-4000:]}"
    shown = [ln for ln in out.splitlines() if ln.startswith("mimocorb-selftest: window shown")]
    finished = [ln for ln in out.splitlines() if ln.startswith("mimocorb-selftest: run finished")]
    assert shown and finished, out
    assert finished[-1].split()[3] == "finished", finished[-1]
    assert int(finished[-1].split()[4]) > 0, finished[-1]
    assert sorted((setup.parent / "runs").glob("run_*")), "no run directory"
    assert "Traceback" not in err, err[-4000:]
    assert_no_shm_left(proc.pid)
    print(f"\nGUI from the bundle: {shown[0].split(': ', 1)[1]}; self-test of 3 s took {wall:.1f} s wall")
