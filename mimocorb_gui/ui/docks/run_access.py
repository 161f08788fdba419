"""The docks' access to a run's files, in one place.

A running run's histograms come through its RunSource (``histograms(buffer)``: local files via
core.histfeed.HistogramFeed, or a served run's over the network). ``finished_run`` reads what a
reopened (read-only) run offers a histogram dock: counts, run times and calibrations. ``RecordedEvents`` steps through a run's ``.mimo``
recording of a buffer for the oscilloscope; ``run_texts`` gives its notes, setup and log.
No Qt here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mimocorb_gui.core.analysis import Calibration, RunTimes, load_calibrations, read_run_times
from mimocorb_gui.core.histfeed import HistogramFeed
from mimocorb_gui.core.mimofile import MimoFormatError, MimoReader

__all__ = [
    "FinishedRun",
    "board_times",
    "HistogramFeed",
    "RecordedEvents",
    "finished_run",
    "is_run_dir",
    "original_setup_path",
    "recent_runs",
    "recordings",
    "run_texts",
]

log = logging.getLogger(__name__)


@dataclass
class FinishedRun:
    """What a finished run directory holds for one histogram buffer."""

    run_dir: Path
    buffer: str
    data: dict[str, tuple[np.ndarray, np.ndarray, int]]
    times: RunTimes
    calibrations: dict[str, Calibration] = field(default_factory=dict)  # channel -> calibration

    @property
    def name(self) -> str:
        return self.run_dir.name


def finished_run(run_dir: str | Path, buffer: str) -> FinishedRun:
    """Counts, times and calibrations of ``buffer``'s histograms in a finished run (ValueError if none)."""
    run_dir = Path(run_dir)
    feed = HistogramFeed(run_dir, buffer)
    try:
        data = feed.read()
    finally:
        feed.close()
    if not data:
        raise ValueError(f"{run_dir}: no histograms of buffer '{buffer}' (Histograms_{buffer}/info.csv)")
    try:
        cals = load_calibrations(run_dir)
    except ValueError as exc:
        log.warning("%s", exc)
        cals = {}
    prefix = f"{buffer}/"
    mine = {k[len(prefix) :]: c for k, c in cals.items() if k.startswith(prefix)}
    return FinishedRun(run_dir, buffer, data, read_run_times(run_dir), mine)


def recordings(run_dir: str | Path) -> dict[str, Path]:
    """``{source buffer: .mimo file}`` of a run directory (the first file of each buffer, by name)."""
    found: dict[str, Path] = {}
    for path in sorted(Path(run_dir).glob("*.mimo")):
        try:
            with MimoReader(path, warn=False) as reader:
                buffer = str(reader.header.get("source_buffer") or path.stem)
        except (OSError, ValueError, MimoFormatError, KeyError):
            continue
        found.setdefault(buffer, path)
    return found


class RecordedEvents:
    """The events of a .mimo recording, one at a time by index or by event counter."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.reader = MimoReader(self.path, warn=False)
        meta, _ = self.reader.read() if len(self.reader) <= 200_000 else (None, None)
        self.counters = (
            np.asarray(meta["counter"], dtype=np.int64) if meta is not None else np.arange(len(self.reader))
        )
        self.dtype = self.reader.data_dtype
        self.data_length = self.reader.data_length

    def __len__(self) -> int:
        return len(self.reader)

    def event(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(metadata (1,), data (data_length,))`` of event ``index`` (clipped to the recording)."""
        i = int(np.clip(index, 0, max(len(self) - 1, 0)))
        meta, data = self.reader.read(i, i + 1)
        return meta, data[0]

    def index_of_counter(self, counter: int) -> int:
        """The index of the event with this counter, or of the next one after it (the last if none)."""
        exact = np.nonzero(self.counters == counter)[0]
        if len(exact):
            return int(exact[0])
        later = np.nonzero(self.counters > counter)[0]
        return int(later[0]) if len(later) else len(self) - 1

    def close(self) -> None:
        self.reader.close()


def board_times(run_dir: str | Path, buffer: str, channel: str) -> RunTimes | None:
    """Live and real time a source measured itself (the Red Pitaya spectrum importer's ``timers.csv``)."""
    from mimocorb_gui.functions.importers.rp_spectrum import read_timers

    try:
        times = read_timers(Path(run_dir) / f"Histograms_{buffer}").get(channel)
    except (OSError, ValueError):
        return None
    if not times:
        return None
    live, real = (float(v) for v in times)
    return RunTimes(real, real - live)


def run_texts(run_dir: str | Path) -> dict[str, str]:
    """``{"notes": ..., "setup": ..., "log": ...}`` of a run directory ('' for a missing file)."""
    out = {}
    for key, name in (("notes", "notes.txt"), ("setup", "setup.yaml"), ("log", "run.log")):
        try:
            out[key] = (Path(run_dir) / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            out[key] = ""
    return out


def original_setup_path(run_dir: str | Path) -> Path | None:
    """The setup file a run was started from (its setup.yaml copy names it in the first line)."""
    try:
        with open(Path(run_dir) / "setup.yaml", encoding="utf-8") as fh:
            first = fh.readline()
    except OSError:
        return None
    prefix = "# resolved copy of "
    return Path(first[len(prefix) :].strip()) if first.startswith(prefix) else None


def is_run_dir(path: str | Path) -> bool:
    """A directory a Run made: it holds the setup.yaml copy and a run.log."""
    p = Path(path)
    return (p / "setup.yaml").is_file() and (p / "run.log").is_file()


def recent_runs(setup_paths, limit: int = 10) -> list[Path]:
    """The newest run directories of these setups (their target_directory, default ``runs``), newest first."""
    from mimocorb_gui.core.yaml_values import YAMLError, load_plain

    found: list[tuple[float, Path]] = []
    for setup_path in setup_paths:
        setup_path = Path(setup_path)
        try:
            doc = load_plain(setup_path.read_text(encoding="utf-8")) or {}
        except (OSError, YAMLError):
            continue
        target = doc.get("target_directory", "runs") if isinstance(doc, dict) else "runs"
        root = Path(str(target)).expanduser()
        root = root if root.is_absolute() else setup_path.parent / root
        try:
            children = list(root.iterdir())
        except OSError:
            continue
        for d in children:
            if d.is_dir() and is_run_dir(d):
                try:
                    found.append(((d / "run.log").stat().st_mtime, d))
                except OSError:
                    continue
    found.sort(key=lambda t: -t[0])
    seen, out = set(), []
    for _, d in found:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out[:limit]
