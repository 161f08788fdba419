"""Real time and live time of a run, for spectra: from the run's dead-time counters (no Qt).

Real time is the run's duration. Dead time is what the importers spent blocked on a full buffer
(the ring buffer's ``deadtime_total`` counter of the root buffers, the ones importers write):
events arriving then were not recorded. Live time = real time - dead time. The GUI writes the
last figures into ``run_times.json`` of the run directory when a run ends, so a reopened run has
them; older runs fall back to the duration in ``run.log`` (live time unknown then).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RUN_TIMES_FILE", "RunTimes", "read_run_times"]

RUN_TIMES_FILE = "run_times.json"
_FINISHED = re.compile(r"\[run\] run \w+ after ([0-9.]+) s")


@dataclass(frozen=True)
class RunTimes:
    real: float = math.nan  # s
    dead: float = math.nan  # s

    @property
    def live(self) -> float:
        return self.real - self.dead if math.isfinite(self.dead) else math.nan

    @classmethod
    def from_stats(cls, stats: Any) -> RunTimes:
        """From a ``core.run.RunStats``: its time and the largest dead time of its root buffers."""
        real = float(getattr(stats, "time", math.nan))
        deads = [float(b.stats.deadtime_total) for b in getattr(stats, "buffers", {}).values() if b.root]
        return cls(real, max(deads) if deads else math.nan)

    def write(self, run_dir: str | Path) -> Path:
        path = Path(run_dir) / RUN_TIMES_FILE
        data = {"real_time_s": self.real, "dead_time_s": self.dead, "live_time_s": self.live}
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return path


def read_run_times(run_dir: str | Path) -> RunTimes:
    """The times a run directory records (nan where unknown)."""
    run_dir = Path(run_dir)
    try:
        data = json.loads((run_dir / RUN_TIMES_FILE).read_text(encoding="utf-8"))
        return RunTimes(float(data["real_time_s"]), float(data["dead_time_s"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        text = (run_dir / "run.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return RunTimes()
    found = _FINISHED.findall(text)
    return RunTimes(float(found[-1])) if found else RunTimes()
