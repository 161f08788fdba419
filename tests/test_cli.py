"""`mimocorb functions` and `mimocorb check` (subprocesses, as a user types them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mimocorb_gui.shipped import examples_dir

ROOT = Path(__file__).resolve().parent.parent
SETUPS = sorted(p.parent.name for p in (examples_dir()).glob("*/setup.yaml"))

# the manual's prebuilt functions (section 2.2) and ours
MANUAL = (
    "exporters.drain",
    "exporters.histogram",
    "exporters.csv",
    "analyzers.pha",
    "data.export",
    "data.simulate_importer",
    "data.clocked_importer",
    "misc.copy",
    "observers.oscilloscope",
    "importers.redpitaya.waveform",
)
OURS = ("observers.histogram", "simulators.muon_pulses", "simulators.gamma_pulses")


def _mimocorb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mimocorb_gui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.timeout(90)
def test_functions_lists_every_prebuilt_function_with_its_summary():
    from mimocorb_gui.core.loader import function_doc

    proc = _mimocorb("functions")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    listed = {}
    for line in proc.stdout.splitlines():
        name, summary = line.split(None, 1)
        listed[name] = summary.strip()
    assert set(MANUAL + OURS) <= set(listed)
    for name, summary in listed.items():
        doc = function_doc(name)
        assert doc.documented and summary == doc.summary != "", name
        assert doc.type, f"{name}: docstring has no Type section"
    assert listed["exporters.histogram"] == "Export data as a histogram."
    assert listed["misc.copy"] == "Copy data from one source to multiple sinks."
    assert not any(name.startswith("visualizers.") for name in listed)  # aliases are not listed twice


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", SETUPS)
def test_check_passes_on_every_shipped_setup(name):
    proc = _mimocorb("check", str(examples_dir() / name / "setup.yaml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 error(s)" in proc.stdout


@pytest.mark.timeout(60)
def test_check_fails_on_a_broken_setup(tmp_path):
    path = tmp_path / "setup.yaml"
    path.write_text(
        "Buffers:\n  P: {slot_count: 4, data_length: 1, data_dtype: {x: float64}}\n"
        "Workers:\n  h: {function: exporters.histogram, sources: [Q]}\n"
    )
    proc = _mimocorb("check", str(path))
    assert proc.returncode == 2
    assert "Workers.h.sources[0]: buffer 'Q' is not defined (buffers: P)" in proc.stdout
