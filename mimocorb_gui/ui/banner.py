"""The notification strip above the central widget (setup errors, a worker that failed)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QWidget,
)


class Banner(QFrame):
    """A notification strip above the central widget (setup errors, a worker that failed)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 4, 4)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.label, 1)
        self.button = QPushButton(self)
        self.button.hide()
        lay.addWidget(self.button)
        close = QToolButton(self)
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        lay.addWidget(close)
        self._callback = None
        self.button.clicked.connect(lambda: self._callback() if self._callback else None)
        self.kind = ""
        self.hide()

    def show_message(self, kind: str, html: str, button: str = "", callback=None) -> None:
        self.kind = kind
        colors = {"error": ("#f8d7da", "#d9a3a9", "#721c24"), "warning": ("#fff3cd", "#e0c97a", "#5c4400")}
        bg, border, fg = colors.get(kind, ("#d1ecf1", "#9fcdd6", "#0c5460"))
        self.setStyleSheet(
            f"QFrame#banner {{ background: {bg}; border: 1px solid {border}; }} QLabel {{ color: {fg}; }}"
        )
        self.label.setText(html)
        self._callback = callback
        self.button.setText(button)
        self.button.setVisible(bool(button))
        self.show()


def escape_html(text: str) -> str:
    """Plain text made safe for a rich-text label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
