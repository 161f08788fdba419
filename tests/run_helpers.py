"""Whole runs in tests: a Run from a setup file, its log as text, waiting for its events, the Red Pitaya demo copied."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from ruamel.yaml import YAML

from mimocorb_gui.shipped import examples_dir


def setup_run(setup_path: Path, tmp_path: Path):
    """A Run of the setup file, its run folders under ``tmp_path/runs``."""
    from mimocorb_gui.core.run import Run
    from mimocorb_gui.core.setup import Setup

    return Run(Setup.load(setup_path), run_root=tmp_path / "runs")


def run_log(run, level=logging.INFO) -> str:
    """The run's log records at ``level`` and above, one formatted line each."""
    return "\n".join(e.format() for e in run.log_history() if e.levelno >= level)


def wait_events(run, buffer: str, n: int, timeout: float) -> int:
    """Events written to ``buffer`` once there are ``n``, the run has finished or ``timeout`` s passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        written = run.stats().buffers[buffer].stats.events_written
        if written >= n or run.finished():
            return written
        time.sleep(0.05)
    return run.stats().buffers[buffer].stats.events_written


def redpitaya_demo_copy(tmp_path: Path, **overrides) -> Path:
    """The shipped setups/redpitaya_demo copied to ``tmp_path``, keys of its redpitaya.yaml replaced."""
    target = tmp_path / "redpitaya_demo"
    shutil.copytree(examples_dir() / "redpitaya_demo", target, ignore=shutil.ignore_patterns("runs"))
    yaml = YAML(typ="rt")
    cfg = yaml.load(target / "redpitaya.yaml")
    cfg.update(overrides)
    yaml.dump(cfg, target / "redpitaya.yaml")
    return target / "setup.yaml"
