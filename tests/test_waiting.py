"""tests/waiting.py: wait_until returns as soon as the condition holds and fails loudly when it never does."""

from __future__ import annotations

import time

import pytest
from waiting import wait_until


def test_returns_the_first_true_value_without_waiting_longer():
    calls = iter([0, [], "ready", "later"])
    start = time.monotonic()
    assert wait_until(lambda: next(calls), timeout=5, interval=0.01) == "ready"
    assert time.monotonic() - start < 1.0


def test_a_condition_that_never_holds_fails_naming_it_and_its_last_value():
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"timed out after 0.2 s waiting for the file \(last value: 0\)"):
        wait_until(lambda: 0, timeout=0.2, what="the file")
    assert 0.2 <= time.monotonic() - start < 2.0
