"""What the run monitor decides from counters and clocks alone: stalls, stop deadlines, the account.

Qt-free and process-free, so each rule is tested on numbers; ``core.run`` feeds them samples.
"""

from __future__ import annotations

from collections.abc import Mapping

from mimocorb_gui.core.ringbuffer import BufferStats
from mimocorb_gui.core.runplan import RunPlan

__all__ = ["StallWatch", "StopDeadlines", "buffer_account", "no_room"]


def no_room(st: BufferStats) -> bool:
    """Every slot is filled or held by a reader: writers wait (``filled`` misses the held ones)."""
    return st.events_written - st.events_read >= st.slot_count and not st.aborted


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
            full = no_room(st)
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
    """Which processes should have finished by now and have not.

    A worker is overdue ``deadline`` seconds after one of these began, whichever comes first:

    - it has nothing left to wait for: no inputs and the stop was requested (importers), or every
      source closed and empty and every observed buffer closed;
    - the run is stopping and one of its sources holds events that nobody has taken since then
      (the worker hangs, is stopped with SIGSTOP, or ignores its input).

    A worker blocked on a full sink is never overdue: it waits for its readers, whose own deadline
    frees it (their buffer is aborted once they are gone).
    """

    def __init__(self, plan: RunPlan, deadline: float) -> None:
        self.plan = plan
        self.deadline = deadline
        self._done_since: dict[str, float] = {}
        self._read: dict[str, tuple[int, float]] = {}  # buffer -> (events read, since when)
        self._blocked: dict[str, float] = {}  # worker -> last time a sink of it had no room

    def _track_reads(self, now: float, stats: Mapping[str, BufferStats]) -> None:
        for name, st in stats.items():
            prev = self._read.get(name)
            if prev is None or prev[0] != st.events_read or st.filled == 0:
                self._read[name] = (st.events_read, now)

    def _started(self, name: str, now: float, stop_time: float | None, stats) -> float | None:
        w = self.plan.workers[name]
        if any(no_room(stats[b]) for b in w.sinks):
            self._blocked[name] = now
            return None  # it waits for room downstream: the deadline belongs to the readers there
        if name not in self._done_since:
            if not w.inputs:
                done = stop_time is not None
            else:
                done = all(stats[b].closed and stats[b].filled == 0 for b in w.sources) and all(
                    stats[b].closed for b in w.observes
                )
            if done:
                self._done_since[name] = stop_time if not w.inputs else now
        starts = [self._done_since[name]] if name in self._done_since else []
        if stop_time is not None:
            for b in w.sources:
                if stats[b].filled > 0 and not stats[b].aborted:
                    starts.append(max(stop_time, self._read[b][1]))
        if not starts:
            return None
        return max(min(starts), self._blocked.get(name, min(starts)))  # a full deadline once unblocked

    def overdue(
        self,
        now: float,
        stop_time: float | None,
        stats: Mapping[str, BufferStats],
        alive: Mapping[str, list[int]],
        deadline: float | None = None,
    ) -> list[tuple[str, int, float]]:
        """``(worker, process index, seconds waited)`` for every live process past its deadline
        (``deadline`` seconds instead of the run's, e.g. to say early who is slow)."""
        limit = self.deadline if deadline is None else deadline
        self._track_reads(now, stats)
        result = []
        for name, indices in alive.items():
            if not indices:
                continue
            start = self._started(name, now, stop_time, stats)
            if start is not None and now - start >= limit:
                result.extend((name, i, now - start) for i in indices)
        return result
