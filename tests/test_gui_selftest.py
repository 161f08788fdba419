"""The whole application from the command line: `mimocorb SETUP` opens, runs and quits (self-test hook)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shm_segments

from mimocorb_gui.core.ringbuffer import segment_prefix
from mimocorb_gui.shipped import examples_dir


@pytest.mark.timeout(120)
def test_command_line_opens_the_setup_runs_it_and_quits_cleanly(tmp_path):
    setup_dir = tmp_path / "simple"
    shutil.copytree(examples_dir() / "simple", setup_dir, ignore=shutil.ignore_patterns("runs"))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MIMOCORB_GUI_SELFTEST="2")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # keep the user's recent files and layouts alone
    proc = subprocess.Popen(
        [sys.executable, "-m", "mimocorb_gui", str(setup_dir / "setup.yaml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    out, err = proc.communicate(timeout=110)
    assert proc.returncode == 0, out + err
    assert "mimocorb-selftest: window shown" in out
    finished = [ln.split() for ln in out.splitlines() if ln.startswith("mimocorb-selftest: run finished")]
    assert finished and finished[0][3] == "finished" and int(finished[0][4]) > 0, out
    run_dirs = list((setup_dir / "runs").iterdir())
    assert len(run_dirs) == 1 and (run_dirs[0] / "run.log").exists()
    assert shm_segments(segment_prefix(proc.pid)) == set()


def test_selftest_reports_a_setup_that_cannot_start(tmp_path):
    bad = tmp_path / "setup.yaml"
    bad.write_text(
        (examples_dir() / "simple" / "setup.yaml").read_text().replace("sinks: [", "sinks: [Nowhere, ", 1)
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MIMOCORB_GUI_SELFTEST="1")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    res = subprocess.run(
        [sys.executable, "-m", "mimocorb_gui", str(bad)], capture_output=True, text=True, env=env, timeout=110
    )
    assert res.returncode != 0
    assert "mimocorb-selftest:" in res.stdout
    assert not Path(tmp_path / "runs").exists()
