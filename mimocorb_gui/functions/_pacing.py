"""When the next simulated or replayed event is due: Poisson or uniform gaps, sleeping that sees a stop."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

__all__ = ["EventPacer", "sleep_until"]


class EventPacer:
    """Waiting times between events: 'poisson' (exponential gaps) or 'uniform' (fixed gaps) at ``rate`` Hz.

    ``wait()`` sleeps until the next event is due and returns False when ``should_stop()`` became
    true meanwhile (checked at least every 0.1 s). The schedule is absolute, so sleep granularity
    does not lower the mean rate; after a stall longer than ``max_lag`` (back-pressure, pause) the
    schedule restarts instead of bursting, as a real detector loses events during dead time.
    ``rate <= 0`` means no waiting at all.
    """

    def __init__(
        self,
        rate: float,
        distribution: str = "poisson",
        rng: np.random.Generator | None = None,
        should_stop: Callable[[], bool] | None = None,
        max_lag: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if distribution not in ("poisson", "uniform"):
            raise ValueError(f"distribution must be 'poisson' or 'uniform', got {distribution!r}")
        self.rate = float(rate)
        self.distribution = distribution
        self.rng = rng if rng is not None else np.random.default_rng()
        self.should_stop = should_stop or (lambda: False)
        self.max_lag = max_lag
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None

    def gap(self) -> float:
        """The next waiting time in seconds."""
        if self.rate <= 0:
            return 0.0
        if self.distribution == "poisson":
            return float(self.rng.exponential(1.0 / self.rate))
        return 1.0 / self.rate

    def wait(self) -> bool:
        if self.rate <= 0:
            return not self.should_stop()
        now = self._clock()
        if self._next is None or now - self._next > self.max_lag:
            self._next = now
        self._next += self.gap()
        return sleep_until(self._next, self.should_stop, self._clock, self._sleep)


def sleep_until(
    deadline: float,
    should_stop: Callable[[], bool],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    step: float = 0.1,
) -> bool:
    """Sleep until ``clock() >= deadline``; False as soon as ``should_stop()`` is true."""
    while True:
        if should_stop():
            return False
        remaining = deadline - clock()
        if remaining <= 0:
            return True
        sleep(min(remaining, step))
