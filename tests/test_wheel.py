"""The wheel as a user installs it: built from the source tree, installed into a fresh venv outside it.

Slow (a venv with PySide6, scipy ...): ``make test-bundle`` / ``pytest -m slow`` runs it. It proves that
the example setups and the desktop resources are package data (no ``Path(__file__).parents[2]``):
``mimocorb check`` passes on a shipped example and the GUI self-test opens, runs and quits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (path,) = out.glob("mimocorb_gui-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / ("Scripts" if os.name == "nt" else "bin") / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=1500)
    return where


def test_the_wheel_holds_the_examples_and_the_resources_and_no_run_directories(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for example in ("simple", "muon_lifetime", "gamma_spectroscopy", "replay"):
        assert f"mimocorb_gui/setups/{example}/setup.yaml" in names, example
    assert "mimocorb_gui/setups/simple/functions.py" in names  # the example's own worker file
    for resource in ("mimocorb.svg", "mimocorb.desktop", "mimocorb-setup.xml", "icons/mimocorb-48.png"):
        assert f"mimocorb_gui/resources/{resource}" in names, resource
    assert not [n for n in names if "/runs/" in n or "__pycache__" in n]


def _run(
    venv: Path, *args: str, env: dict | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    return subprocess.run(
        [str(bindir / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        cwd=venv.parent,  # outside the source tree: nothing can come from the checkout
        env=env,
        timeout=timeout,
    )


def _example(venv: Path, name: str) -> Path:
    code = f"from mimocorb_gui.shipped import example_setup; print(example_setup({name!r}))"
    proc = _run(venv, "python", "-c", code)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert venv in path.parents and ROOT not in path.parents, path  # the installed copy
    return path


def test_mimocorb_check_passes_on_a_shipped_example(venv):
    proc = _run(venv, "mimocorb", "check", str(_example(venv, "muon_lifetime")))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_gui_self_test_runs_a_shipped_example(venv, tmp_path):
    import shutil

    setup_dir = tmp_path / "simple"  # a writable copy: runs are written next to the setup
    shutil.copytree(_example(venv, "simple").parent, setup_dir)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MIMOCORB_GUI_SELFTEST="2")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env.pop("PYTHONPATH", None)
    proc = _run(venv, "mimocorb", str(setup_dir / "setup.yaml"), env=env, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mimocorb-selftest: window shown" in proc.stdout
    finished = [
        ln.split() for ln in proc.stdout.splitlines() if ln.startswith("mimocorb-selftest: run finished")
    ]
    assert finished and finished[0][3] == "finished" and int(finished[0][4]) > 0, proc.stdout


def test_the_installed_window_has_its_icon(venv):
    code = "from mimocorb_gui.shipped import resource; p = resource('mimocorb.svg'); print(p.is_file(), p)"
    proc = _run(venv, "python", "-c", code)
    assert proc.stdout.startswith("True "), proc.stdout + proc.stderr
