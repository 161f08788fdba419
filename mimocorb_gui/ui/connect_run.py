"""File ▸ Connect to Run…: ask for a served run's address (and its key), connect, hand it to the window.

The connection itself is ``core.remote.client.RemoteRun`` (Qt-free); this module is only the dialog
and the error messages a person sees.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

__all__ = ["ConnectDialog", "connect_remote_run"]


class ConnectDialog(QDialog):
    """Address of a run served by ``mimocorb run --serve ADDR`` and, to control it, its ``control.key``."""

    def __init__(self, parent: QWidget | None = None, address: str = "", key: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to Run")
        form = QFormLayout(self)
        form.addRow(
            QLabel(
                "Watch a headless run started with <tt>mimocorb run SETUP --serve ADDR</tt>.<br>"
                "Pause and stop need the run's key: <tt>control.key</tt> in its run directory."
            )
        )
        self.address_edit = QLineEdit(address)
        self.address_edit.setPlaceholderText("5700 or tcp://127.0.0.1:5700")
        form.addRow("Address:", self.address_edit)
        self.key_edit = QLineEdit(key)
        self.key_edit.setPlaceholderText("control.key (optional: without it you can only watch)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.key_edit, 1)
        row.addWidget(browse)
        form.addRow("Key file:", row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Connect")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "The run's control.key", "", "control.key (*.key);;All files (*)"
        )
        if path:
            self.key_edit.setText(path)

    def values(self) -> tuple[str, str]:
        return self.address_edit.text().strip(), self.key_edit.text().strip()


def connect_remote_run(address: str, key: str = ""):
    """A RemoteRun for ``address`` (``key``: a control.key file or the key); raises with a message to show."""
    from mimocorb_gui.core.remote.client import RemoteRun

    if not address:
        raise ValueError("Give the served run's address, e.g. 5700 or tcp://127.0.0.1:5700")
    key_text = None
    if key:
        path = Path(key).expanduser()
        key_text = path.read_text().strip() if path.is_file() else key
    return RemoteRun(address, key=key_text)
