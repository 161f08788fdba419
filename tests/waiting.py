"""One way for a test to wait: poll a condition until it holds or a timeout says what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout: float = 5.0, *, interval: float = 0.02, what: str = ""
) -> T:
    """Call ``condition`` until it returns something true and return that; after ``timeout`` seconds
    raise AssertionError naming ``what`` (or the condition) and its last value.

    Use it instead of a fixed sleep (too short on a loaded machine, wasted time on a quiet one) and
    instead of a hand-written deadline loop.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            name = what or getattr(condition, "__name__", "condition")
            raise AssertionError(f"timed out after {timeout:g} s waiting for {name} (last value: {value!r})")
        time.sleep(interval)
