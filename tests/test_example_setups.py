"""The example setups in setups/: each runs headless to the end with `mimocorb run` and writes its files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mimocorb_gui.core.livehist import open_live_histograms, read_histograms
from mimocorb_gui.core.mimofile import read_mimo
from mimocorb_gui.core.setup import Setup
from mimocorb_gui.shipped import examples_dir

ROOT = Path(__file__).resolve().parent.parent
SETUPS = examples_dir()
EXAMPLES = ("simple", "muon_lifetime", "gamma_spectroscopy", "replay")


def _copy_setups(tmp_path: Path) -> Path:
    """The example setups copied to tmp_path (replay uses ../muon_lifetime/pulse_analysis.py)."""
    target = tmp_path / "setups"
    for name in EXAMPLES:
        shutil.copytree(SETUPS / name, target / name, ignore=shutil.ignore_patterns("runs", "__pycache__"))
    return target


def _override(path: Path, worker: str, **config) -> None:
    """Change config keys of one worker with the Setup editing API and save the file."""
    setup = Setup.load(path)
    merged = {k: v for k, v in setup.document["Workers"][worker]["config"].items()}
    merged.update(config)
    setup.set_worker_field(worker, "config", merged)
    setup.save()


def _mimocorb(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "mimocorb_gui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def _run_headless(setup: Path, run_root: Path, *extra: str) -> Path:
    proc = _mimocorb("run", str(setup), "--run-root", str(run_root), *extra)
    assert proc.returncode == 0, proc.stderr
    assert "ERROR" not in proc.stderr, proc.stderr
    (run_dir,) = run_root.glob("run_*")
    log = (run_dir / "run.log").read_text()
    assert "ERROR" not in log and "run finished" in log, log
    return run_dir


def _csv_matches_histograms(run_dir: Path, csv_name: str, buffer: str) -> pd.DataFrame:
    df = pd.read_csv(run_dir / csv_name)
    live = open_live_histograms(run_dir, buffer)
    assert live, f"no histograms of {buffer} in {run_dir}"
    info = pd.read_csv(run_dir / f"Histograms_{buffer}" / "info.csv")
    for ch, h in live.items():
        assert h.entries_seen == len(df), ch  # every event that reached the csv exporter was histogrammed
        row = info[info["Channel"] == ch].iloc[0]
        edges = np.linspace(row["Min"], row["Max"], int(row["NBins"]))  # NBins edges (manual 2.2.1)
        expected = np.histogram(df[ch].to_numpy(), bins=edges)[0]
        assert h.counts.tolist() == expected.tolist(), ch
        h.close()
    return df


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_validate_and_have_a_readme(name):
    setup = Setup.load(SETUPS / name / "setup.yaml")
    assert [str(p) for p in setup.validate()] == []
    assert (SETUPS / name / "README.md").read_text().startswith("# ")
    assert setup.target_directory == SETUPS / name / "runs"


def test_replay_recording_is_small_and_from_the_muon_setup():
    path = SETUPS / "replay" / "data" / "AcceptedPulses.mimo"
    assert path.stat().st_size < 2_000_000
    metadata, data, header = read_mimo(path)
    assert header["source_buffer"] == "AcceptedPulses" and header["source_worker"] == "save_pulses"
    muon = Setup.load(SETUPS / "muon_lifetime" / "setup.yaml").buffers["AcceptedPulses"]
    assert data.dtype == muon.dtype and data.shape[1] == muon.data_length
    assert len(metadata) >= 100 and np.all(data["chA"].min(axis=1) < 0.05)


@pytest.mark.timeout(120)
def test_simple_as_shipped_runs_until_stopped(tmp_path):
    """The shipped file runs until stopped (number_of_events: -1) at a lively rate."""
    setup = Setup.load(SETUPS / "simple" / "setup.yaml")
    source = setup.workers["source"].config
    assert source["number_of_events"] == -1 and 10 <= source["rate"] <= 100
    run_dir = _run_headless(SETUPS / "simple" / "setup.yaml", tmp_path / "runs", "--time", "2")
    df = _csv_matches_histograms(run_dir, "PulsesToCsv.csv", "Pulses")
    assert len(df) > 5
    assert "measurement time of 2 s reached" in (run_dir / "run.log").read_text()


@pytest.mark.timeout(120)
def test_simple_runs_to_completion(tmp_path):
    setups = _copy_setups(tmp_path)
    path = setups / "simple" / "setup.yaml"
    _override(path, "source", number_of_events=300, rate=0, seed=1)
    run_dir = _run_headless(path, tmp_path / "runs")
    df = _csv_matches_histograms(run_dir, "PulsesToCsv.csv", "Pulses")
    assert 150 < len(df) <= 300
    assert list(df.columns) == ["counter", "timestamp", "deadtime", "position", "peak_heights", "widths"]
    assert (df["peak_heights"] >= 0.1).all()  # the threshold filter let only those through
    log = (run_dir / "run.log").read_text()
    assert log.count("display-only") == 1  # the oscilloscope says so once


@pytest.mark.timeout(120)
def test_muon_lifetime_runs_to_completion(tmp_path):
    setups = _copy_setups(tmp_path)
    path = setups / "muon_lifetime" / "setup.yaml"
    _override(path, "detector", number_of_events=400, rate=0, stopped_fraction=0.5, seed=7)
    run_dir = _run_headless(path, tmp_path / "runs")
    metadata, data, header = read_mimo(run_dir / "AcceptedPulses.mimo")
    df = _csv_matches_histograms(run_dir, "ParametersToCsv.csv", "PulseParameters")
    assert len(set(metadata["counter"].tolist())) == len(metadata) > 100  # each accepted event once
    assert sorted(df["counter"]) == sorted(metadata["counter"])  # 3 filter processes, both sinks
    assert data.shape[1] == 1000
    assert 1.4 < df["decay_time"].mean() < 2.7  # µs: 2.2 µs lifetime seen through a 7 µs window
    assert set(df["decay_channel"]) <= {0, 1, 2, 3}
    log = (run_dir / "run.log").read_text()
    assert log.count("display-only") == 3


@pytest.mark.timeout(120)
def test_gamma_spectroscopy_photopeak_at_the_configured_energy(tmp_path):
    setups = _copy_setups(tmp_path)
    path = setups / "gamma_spectroscopy" / "setup.yaml"
    _override(path, "detector", number_of_events=4000, rate=0, seed=3)
    run_dir = _run_headless(path, tmp_path / "runs")
    config = Setup.load(path).workers["detector"].config
    edges, counts = read_histograms(run_dir, "PulseHeights")["peak_heights"]
    assert counts.sum() > 3000
    energies = 0.5 * (edges[1:] + edges[:-1]) * config["keV_per_unit"]  # calibrated bin centres
    smooth = np.convolve(counts, np.ones(5) / 5, mode="same")
    peak = energies[np.argmax(smooth)]
    assert peak == pytest.approx(config["energy_keV"], rel=0.02)
    assert energies[np.argmax(counts)] == pytest.approx(config["energy_keV"], rel=0.02)  # the peak bin itself
    compton = counts[(energies > 200) & (energies < 450)].sum()
    assert compton > 0.3 * counts.sum()


@pytest.mark.timeout(120)
def test_replay_plays_back_the_recording(tmp_path):
    setups = _copy_setups(tmp_path)
    path = setups / "replay" / "setup.yaml"
    _override(path, "replay", repeat=False, speed=1000)
    run_dir = _run_headless(path, tmp_path / "runs")
    df = _csv_matches_histograms(run_dir, "ParametersToCsv.csv", "PulseParameters")
    recorded, _, _ = read_mimo(SETUPS / "replay" / "data" / "AcceptedPulses.mimo")
    assert len(df) == len(recorded)  # every recorded decay is found again
    assert sorted(df["counter"]) == list(range(len(recorded)))  # new counters, one per replayed event
