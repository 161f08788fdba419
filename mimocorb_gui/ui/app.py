"""Application entry: ``main(setup_path) -> exit code`` creates the QApplication and the main window."""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

from mimocorb_gui.shipped import resource

__all__ = ["create_app", "main"]


def create_app(argv: list[str] | None = None):
    """The QApplication (created once), named for settings and the desktop."""
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    # Qt's raster engine hands large fills to a thread pool of its own: on the 2-core lab PC the
    # workers already use every core, and the hand-over (futex wake-ups, waiting for the pieces) cost
    # more CPU than it saved (a scope frame: 15 ms of process CPU with the pool, 13 ms without,
    # profiled with py-spy --native). Read once, at the first paint; a user's own setting wins.
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    QCoreApplication.setOrganizationName("mimoCoRB")
    QCoreApplication.setApplicationName("mimoCoRB")
    QGuiApplication.setDesktopFileName("mimocorb")
    icon = resource("mimocorb.svg")
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def main(setup_path: str | Path | None = None) -> int:
    """Open the main window (with ``setup_path`` if given) and run the event loop; returns the exit code."""
    multiprocessing.freeze_support()  # before Qt: a frozen bundle's worker processes start here
    from PySide6.QtCore import QTimer

    from mimocorb_gui.ui import selftest as selftest_module
    from mimocorb_gui.ui.main_window import MainWindow
    from mimocorb_gui.ui.quit_signals import QuitOnSignal

    app = create_app()
    window = MainWindow()
    window.show()
    if setup_path:
        QTimer.singleShot(0, lambda: window.open_setup(setup_path))

    selftest = None
    if os.environ.get(selftest_module.ENV):
        selftest = selftest_module.install(app, window, float(os.environ[selftest_module.ENV]))

    # SIGTERM (logout, kill) and Ctrl+C in the terminal: stop the run in order, then quit
    quit_on_signal = QuitOnSignal(app, window)
    try:
        code = int(app.exec())
    finally:
        quit_on_signal.uninstall()
    return code if selftest is None or selftest[0] is None else selftest[0]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
