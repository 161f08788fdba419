"""What the run monitor decides from counters and clocks alone: stalls, stop deadlines, the account.

Qt-free and process-free, so each rule is tested on numbers; ``core.run`` feeds them samples.
"""

from __future__ import annotations

from collections.abc import Mapping

from mimocorb_gui.core.ringbuffer import BufferStats
from mimocorb_gui.core.runplan import RunPlan

__all__ = ["StallWatch", "StopDeadlines", "buffer_account"]


def buffer_account(st: BufferStats) -> str:
    """``buffer 'X': 500 written, 500 read, 0 dropped while paused, 0 dropped without reader``."""
    text = (
        f"buffer '{st.name}': {st.events_written} written, {st.events_read} read, "
        f"{st.dropped_paused} dropped while paused, {st.dropped_aborted} dropped without reader"
    )
    left = st.events_written - st.events_read
    return text + (f", {left} left unread" if left else "")


class StallWatch:
    """Names the readers of a full buffer that have taken no event for ``threshold`` seconds.

    One report per stall; a stall ends when the buffer's read count moves or it is no longer full.
    """

    def __init__(self, plan: RunPlan, threshold: float) -> None:
        self.plan = plan
        self.threshold = threshold
        self._since: dict[str, tuple[int, float]] = {}  # buffer -> (events read, since when)
        self._reported: set[str] = set()

    def update(self, now: float, stats: Mapping[str, BufferStats]) -> list[str]:
        messages = []
        for name, st in stats.items():
            readers = self.plan.buffers[name].readers if name in self.plan.buffers else ()
            full = st.filled >= st.slot_count
            prev = self._since.get(name)
            if not readers or not full or st.aborted or prev is None or prev[0] != st.events_read:
                self._since[name] = (st.events_read, now)
                self._reported.discard(name)
                continue
            stalled = now - prev[1]
            if stalled >= self.threshold and name not in self._reported:
                self._reported.add(name)
                who = ", ".join(f"'{r}'" for r in readers)
                messages.append(
                    f"worker {who} has taken no event from buffer '{name}' for {stalled:.0f} s while it "
                    f"is full ({st.slot_count} slots): the pipeline upstream waits for it (rate 0.0/s)"
                )
        return messages


class StopDeadlines:
    """When each worker should have finished, and which processes are past it.

    A worker's clock starts when it has nothing left to wait for: for an importer (no inputs) when
    the stop was requested; for any other worker when every source is closed and empty and every
    observed buffer closed. ``deadline`` seconds later its live processes are overdue.
    """

    def __init__(self, plan: RunPlan, deadline: float) -> None:
        self.plan = plan
        self.deadline = deadline
        self._ready: dict[str, float] = {}

    def ready_since(self, worker: str) -> float | None:
        return self._ready.get(worker)

    def overdue(
        self,
        now: float,
        stop_time: float | None,
        stats: Mapping[str, BufferStats],
        alive: Mapping[str, list[int]],
    ) -> list[tuple[str, int, float]]:
        """``(worker, process index, seconds since its clock started)`` for every overdue process."""
        result = []
        for name, indices in alive.items():
            if not indices:
                continue
            if name not in self._ready:
                w = self.plan.workers[name]
                if not w.inputs:
                    done = stop_time is not None
                else:
                    done = all(stats[b].closed and stats[b].filled == 0 for b in w.sources) and all(
                        stats[b].closed for b in w.observes
                    )
                if not done:
                    continue
                self._ready[name] = stop_time if not w.inputs else now
            waited = now - self._ready[name]
            if waited >= self.deadline:
                result.extend((name, i, waited) for i in indices)
        return result
