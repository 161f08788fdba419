"""What got in a newcomer's way (issue 15), each as a user meets it: docks that cut text, a log out of
order, a start that looked instant, shortcuts that did nothing from a dock, state leaking between setups.

Offscreen Qt. Commands go through the named actions and key events (QTest), not method calls.
"""

from __future__ import annotations

import logging

import pytest

from mimocorb_gui.core.run import LogEntry
from mimocorb_gui.ui.docks.buffers import BuffersDock
from mimocorb_gui.ui.docks.log import LogDock
from mimocorb_gui.ui.docks.workers import WorkersDock

pytestmark = pytest.mark.timeout(120)


# ---------------------------------------------------------------------------------------------- log


def test_log_shows_lines_in_time_order_though_they_arrive_late(qtbot):
    dock = LogDock(["source"])
    qtbot.addWidget(dock)
    dock.level_box.setCurrentIndex(0)
    dock.add_entries([LogEntry(10.0, "run", "INFO", logging.INFO, "run started")])
    dock.add_entries([LogEntry(12.0, "run", "INFO", logging.INFO, "stop requested")])
    # a worker's lines come through a queue: they arrive after the run's own later line
    dock.add_entries(
        [
            LogEntry(11.5, "source", "INFO", logging.INFO, "second"),
            LogEntry(11.0, "source", "DEBUG", logging.DEBUG, "first"),
            LogEntry(13.0, "run", "INFO", logging.INFO, "run finished"),
        ]
    )
    assert dock.visible_messages() == ["run started", "first", "second", "stop requested", "run finished"]
    times = [dock.proxy.index(r, 0).data() for r in range(dock.proxy.rowCount())]
    assert times == sorted(times)


def test_debug_lines_hidden_by_default(qtbot):
    dock = LogDock(["source"])
    qtbot.addWidget(dock)
    dock.add_entries(
        [
            LogEntry(1.0, "source", "DEBUG", logging.DEBUG, "config keys ['x'] are not used"),
            LogEntry(2.0, "source", "INFO", logging.INFO, "running"),
        ]
    )
    assert dock.visible_messages() == ["running"]
    assert dock.settings() == {"level": logging.INFO}


def test_traceback_gets_room_in_the_detail_pane(qtbot):
    dock = LogDock(["analysis"])
    qtbot.addWidget(dock)
    dock.resize(420, 420)
    dock.show()
    qtbot.waitExposed(dock)
    tb = "ZeroDivisionError: x\nTraceback (most recent call last):\n" + "".join(
        f'  File "f.py", line {i}, in g\n    y = 1 / 0\n' for i in range(6)
    )
    dock.add_entries([LogEntry(1.0, "analysis", "ERROR", logging.ERROR, tb)])
    before = dock.detail.height()
    assert dock.select_last_error()
    line = dock.detail.fontMetrics().lineSpacing()
    assert dock.detail.height() >= 10 * line > before  # not three lines any more
    assert dock.view.height() >= 2 * line  # the table keeps some rows


# ------------------------------------------------------------------------------------ tables


class _Spec:
    def __init__(self, slot_count=1024, function="exporters.histogram", file="", n=1):
        self.slot_count = slot_count
        self.data_length = 1
        self.data_dtype = {"x": "float32"}
        self.function = function
        self.file = file
        self.number_of_processes = n


def _texts_fit(view) -> list[str]:
    """Cells whose text is wider than their column (what Qt draws as '104,9…')."""
    fm = view.fontMetrics()
    model = view.model()
    cut = []
    for row in range(model.rowCount()):
        for col in range(model.columnCount() - 1):  # the last column stretches
            text = model.data(model.index(row, col))
            if text and fm.horizontalAdvance(str(text)) + 6 > view.columnWidth(col):
                cut.append(f"{col}: {text}")
    return cut


def test_buffer_and_worker_columns_hold_long_run_numbers(qtbot):
    from types import SimpleNamespace as NS

    buffers = BuffersDock({"PulseParameters": _Spec()})
    qtbot.addWidget(buffers)
    buffers.resize(500, 200)
    buffers.show()
    stats = NS(
        filled=1000, slot_count=1024, events_written=104_987_654, events_read=104_987_000,
        dropped_paused=12_345_678, dropped_aborted=0, paused=False, closed=False, aborted=False,
        fill_level=0.97,
    )  # fmt: skip
    buffers.model.set_stats(
        {"PulseParameters": NS(stats=stats, rate=12_345.6, deadtime_fraction=1.0, root=True)}
    )
    assert _texts_fit(buffers.view) == []

    workers = WorkersDock({"lifetime_filter": _Spec(function="find_decays", file="lifetime_filter.py", n=10)})
    qtbot.addWidget(workers)
    workers.show()
    ws = NS(alive=10, processes=10, cpu_percent=100.0, state="not started", error="", failed=False)
    workers.model.set_stats({"lifetime_filter": ws})
    assert _texts_fit(workers.view) == []
    assert workers.view.columnWidth(4) >= workers.view.fontMetrics().horizontalAdvance("not started")
