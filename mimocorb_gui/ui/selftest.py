"""``MIMOCORB_GUI_SELFTEST=<seconds>``: a non-interactive check of a built application.

Opens the given setup, starts it, stops it in order after ``seconds``, closes the window and
exits 0 if the run finished with events (non-zero with the reason otherwise). Prints
``mimocorb-selftest: ...`` lines: ``window shown <t> s after exec`` and
``run finished <state> <events> events <run dir>``.
Used by the bundle tests and to measure start-up time on a lab PC.
"""

from __future__ import annotations

import time

ENV = "MIMOCORB_GUI_SELFTEST"
GRACE = 60.0  # seconds beyond the run time before the self-test gives up


def install(app, window, seconds: float) -> list[int | None]:
    """Drive ``window`` from timers; the returned one-item list receives the exit code."""
    import psutil
    from PySide6.QtCore import QTimer

    result: list[int | None] = [None]

    def say(message: str) -> None:
        try:
            print(f"mimocorb-selftest: {message}", flush=True)
        except OSError:
            pass  # nobody reads our output any more (a closed pipe): finishing matters more

    def finish(code: int, message: str) -> None:
        if result[0] is not None:
            return
        say(message)
        result[0] = code
        window.close()
        app.exit(code)

    def begin() -> None:
        say(f"window shown {time.time() - psutil.Process().create_time():.2f} s after exec")
        if window.setup is None:
            finish(3, "no setup opened")
        elif not window.start_run():
            finish(4, "start failed")
        else:
            QTimer.singleShot(int(seconds * 1000), window.stop_run)

    def finished(state: str, run_dir) -> None:
        stats = window.controller.last_stats
        events = stats.total_events if stats is not None else 0
        ok = state == "finished" and events > 0
        QTimer.singleShot(
            0, lambda: finish(0 if ok else 1, f"run finished {state} {events} events {run_dir}")
        )

    window.inform = lambda title, text: finish(6, f"a dialog would block: {title}: {text}")
    window.controller.run_finished.connect(finished)
    QTimer.singleShot(0, begin)  # queued after open_setup
    QTimer.singleShot(int((seconds + GRACE) * 1000), lambda: finish(5, "timeout"))
    return result
