"""mimoCoRB2's own four examples, copied unchanged (event counts lowered, out-of-date paths of
``mimo_files`` fixed) into tests/data/mimocorb2_examples, run to completion with ``mimocorb run``.

Their run directories must hold what mimoCoRB2 writes for them, with the same names, columns and
shapes. The expectations are derived from mimoCoRB2's code (reference/mimoCoRB2/mimocorb2), not
from our earlier output:

- ``control.Control``: ``setup.yaml``, ``data_flow.svg`` (graphviz, format svg) and ``stats.csv``
  (``control_stats_logger``: the keys of ``Control.get_stats()`` flattened with dots);
- ``functions/exporters.histogram``: ``Histograms_<buffer>/info.csv`` with columns Channel, Min,
  Max, NBins and ``<channel>.npy`` = ``np.histogram([], bins=np.linspace(Min, Max, NBins))[0]``;
- ``functions/exporters.csv``: ``<filename or buffer>.csv``, columns metadata names + data names;
- ``functions/data.export``: ``<buffer>.mimo`` (our format here: see README, it is the one
  deliberate difference of the file set);
- ``functions/analyzers.pha``: at most one event per waveform.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mimocorb_gui.core.mimofile import read_mimo
from mimocorb_gui.core.yaml_values import load_plain

EXAMPLES = Path(__file__).parent / "data" / "mimocorb2_examples"
REFERENCE_BUFFER_STATS = (
    "event_count",
    "filled_slots",
    "empty_slots",
    "flush_event_received",
    "rate",
    "average_deadtime",
    "paused_count",
    "paused",
)


@pytest.fixture
def examples(tmp_path) -> Path:
    target = tmp_path / "examples"
    shutil.copytree(EXAMPLES, target)
    return target


def mimocorb_run(setup: Path, cwd: Path, *extra: str) -> Path:
    """``mimocorb run SETUP``; returns the run directory."""
    proc = subprocess.run(
        [sys.executable, "-m", "mimocorb_gui", "run", str(setup), *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "error" not in proc.stderr.lower(), proc.stderr[-3000:]
    runs = sorted((setup.parent / "runs").iterdir())
    assert runs, proc.stderr
    return runs[-1]


def load_setup(path: Path) -> dict:
    with path.open() as f:
        return load_plain(f)


def worker_config(setup: dict, setup_dir: Path, worker: str) -> dict:
    config = setup["Workers"][worker].get("config", {})
    if isinstance(config, str):
        with (setup_dir / config).open() as f:
            return load_plain(f)
    return dict(config)


def reference_stats_columns(setup: dict) -> list[str]:
    """control_stats_logger's header: flatten_dict_keys(Control.get_stats())."""
    cols = [f"buffers.{b}.{k}" for b in setup["Buffers"] for k in REFERENCE_BUFFER_STATS]
    cols += [f"workers.{w}.{k}" for w in setup["Workers"] for k in ("processes", "cpu_percent")]
    return [*cols, "time_active", "total_processes_alive", "control.cpu_percent"]


def check_control_files(run_dir: Path, setup: dict) -> list[dict]:
    """setup.yaml, data_flow.svg and stats.csv as Control writes them; returns the stats rows."""
    assert (run_dir / "setup.yaml").is_file()
    svg = (run_dir / "data_flow.svg").read_text()
    assert svg.startswith("<svg")
    for name in (*setup["Buffers"], *setup["Workers"]):
        assert f">{name}</text>" in svg, name
    with (run_dir / "stats.csv").open() as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == reference_stats_columns(setup)
        rows = list(reader)
    assert len(rows) >= 2
    last = rows[-1]
    assert int(last["total_processes_alive"]) == 0
    for b in setup["Buffers"]:
        assert 0.0 <= float(last[f"buffers.{b}.filled_slots"]) <= 1.0
        assert 0.0 <= float(last[f"buffers.{b}.average_deadtime"]) <= 1.0
    return rows


def check_histograms(run_dir: Path, buffer: str, bins: dict) -> None:
    """exporters.histogram of mimoCoRB2: info.csv (Channel, Min, Max, NBins) and NBins - 1 counts."""
    folder = run_dir / f"Histograms_{buffer}"
    with (folder / "info.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:4] == ["Channel", "Min", "Max", "NBins"]
    assert [r["Channel"] for r in rows] == list(bins)
    for row in rows:
        lo, hi, n = bins[row["Channel"]]
        assert (float(row["Min"]), float(row["Max"]), int(row["NBins"])) == (lo, hi, n)
        reference_empty = np.histogram([], bins=np.linspace(lo, hi, n))[0]  # mimoCoRB2's initial counts
        counts = np.load(folder / f"{row['Channel']}.npy")
        assert counts.shape == reference_empty.shape == (n - 1,)


def check_csv(path: Path, data_fields: list[str]) -> list[dict]:
    """exporters.csv of mimoCoRB2: metadata columns, then the buffer's fields."""
    with path.open() as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["counter", "timestamp", "deadtime", *data_fields]
        rows = list(reader)
    for row in rows:
        assert 0.0 <= float(row["deadtime"]) <= 1.0  # mimoCoRB2's meaning: a fraction
    return rows


def check_muon_outputs(run_dir: Path, setup: dict, setup_dir: Path) -> None:
    params = list(setup["Buffers"]["PulseParametersUp"]["data_dtype"])
    up = check_csv(run_dir / "PulseParametersUp_Export.csv", params)
    down = check_csv(run_dir / "PulseParametersDown_Export.csv", params)
    check_histograms(run_dir, "PulseParametersUp", worker_config(setup, setup_dir, "histUp")["bins"])
    check_histograms(run_dir, "PulseParametersDown", worker_config(setup, setup_dir, "histDown")["bins"])
    metadata, data, _ = read_mimo(run_dir / "AcceptedPulses.mimo")
    osc = setup["Buffers"]["AcceptedPulses"]
    assert data.shape == (len(metadata), osc["data_length"])
    assert list(data.dtype.names) == list(osc["data_dtype"])
    assert len(metadata) == len(up) + len(down) > 0  # every accepted waveform is up or down
    decay_up = np.load(run_dir / "Histograms_PulseParametersUp" / "decay_time.npy")
    values = np.array([float(r["decay_time"]) for r in up])
    assert decay_up.tolist() == np.histogram(values, bins=np.linspace(0, 15000, 75))[0].tolist()


@pytest.mark.timeout(300)
def test_simple_example(examples):
    setup_path = examples / "simple" / "setup.yaml"
    run_dir = mimocorb_run(setup_path, examples / "simple")
    setup = load_setup(setup_path)
    rows = check_control_files(run_dir, setup)
    assert int(rows[-1]["buffers.raw_osc.event_count"]) == 2000  # range(2000) of functions.py
    filtered = int(rows[-1]["buffers.filtered_osc.event_count"])
    assert int(rows[-1]["buffers.pulse_heights.event_count"]) == filtered > 0
    printed = [ln for ln in (run_dir / "run.log").read_text().splitlines() if "[print_pulse_heights]" in ln]
    assert len(printed) == filtered  # every pulse height printed once (print goes to the log)


@pytest.mark.timeout(300)
def test_muon_example(examples):
    setup_path = examples / "muon" / "spin_setup.yaml"
    run_dir = mimocorb_run(setup_path, examples / "muon")
    setup = load_setup(setup_path)
    rows = check_control_files(run_dir, setup)
    assert int(rows[-1]["buffers.InputBuffer.event_count"]) == 400 + 1  # eventcount + the first event
    check_muon_outputs(run_dir, setup, examples / "muon")
    assert "WARNING" not in (run_dir / "run.log").read_text()


@pytest.mark.timeout(300)
def test_redpitaya_spectroscopy_example(examples):
    setup_path = examples / "redpitaya-spectroscopy" / "setup.yaml"
    # its simulated source runs until stopped (`while True`), as with mimoCoRB2's 'shutdown roots'
    run_dir = mimocorb_run(setup_path, examples / "redpitaya-spectroscopy", "--time", "3")
    setup = load_setup(setup_path)
    rows = check_control_files(run_dir, setup)
    check_histograms(run_dir, "pulse_parameters", {"peak_heights": [0, 4095, 4096]})
    exported = check_csv(run_dir / "pulse_parameters_export.csv", ["peak_heights"])
    waveforms = int(rows[-1]["buffers.oscilloscope.event_count"])
    assert 0 < len(exported) <= waveforms  # analyzers.pha: one peak (the first) per waveform at most
    counters = [int(r["counter"]) for r in exported]
    assert len(set(counters)) == len(counters)
    counts = np.load(run_dir / "Histograms_pulse_parameters" / "peak_heights.npy")
    heights = np.array([float(r["peak_heights"]) for r in exported])
    assert counts.tolist() == np.histogram(heights, bins=np.linspace(0, 4095, 4096))[0].tolist()


@pytest.mark.timeout(300)
def test_mimo_files_example_writes_then_replays_from_the_current_directory(examples, tmp_path):
    write_path = examples / "mimo_files" / "write_setup.yaml"
    written = mimocorb_run(write_path, examples / "mimo_files")
    check_control_files(written, load_setup(write_path))
    metadata, data, _ = read_mimo(written / "waveform_buffer.mimo")
    assert data.shape == (401, 4250) and list(data.dtype.names) == ["chA", "chB", "chC", "chD"]

    # read_setup.yaml names 'examples/mimo_files/waveform_buffer.mimo': relative to where
    # mimoCoRB2 was started (its repository), not to the setup: found through the current directory
    cwd = tmp_path / "elsewhere"
    (cwd / "examples" / "mimo_files").mkdir(parents=True)
    shutil.copy(written / "waveform_buffer.mimo", cwd / "examples" / "mimo_files" / "waveform_buffer.mimo")
    read_path = examples / "mimo_files" / "read_setup.yaml"
    run_dir = mimocorb_run(read_path, cwd)
    setup = load_setup(read_path)
    rows = check_control_files(run_dir, setup)
    assert int(rows[-1]["buffers.InputBuffer.event_count"]) == 401
    log = (run_dir / "run.log").read_text()
    assert f"replaying {cwd / 'examples' / 'mimo_files' / 'waveform_buffer.mimo'} (401 events)" in log
    check_muon_outputs(run_dir, setup, examples / "mimo_files")
