"""How the editor's items look: colours of templates, roles and problems, fonts, rates as text."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF

ERROR_COLOR = QColor("#d32f2f")
WARNING_COLOR = QColor("#f0a000")
SELECT_COLOR = QColor("#1e88e5")
TEMPLATE_COLORS = {
    "Importer": QColor("#3f9b5a"),
    "Filter": QColor("#c98a1b"),
    "Processor": QColor("#7159b8"),
    "Exporter": QColor("#2f7f9e"),
    "Observer": QColor("#6d7b8a"),
    "IsAlive": QColor("#6d7b8a"),
}
DEFAULT_TEMPLATE_COLOR = QColor("#5f6b77")
ROLE_PEN = {
    "sources": QColor("#4a6f96"),
    "sinks": QColor("#3f8a55"),
    "observes": QColor("#8a8f99"),
}


SMALLEST_TEXT_PT = 8.0  # the nodes' body text (function, size, status); titles are larger


def item_font(size: float = 8.5, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSizeF(size)
    font.setBold(bold)
    return font


def format_rate(rate: float | None) -> str:
    if rate is None:
        return ""
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} MHz"
    if rate >= 1e4:
        return f"{rate / 1e3:.1f} kHz"
    if rate >= 100:
        return f"{rate:.0f} Hz"
    return f"{rate:.1f} Hz"


def escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def elide(text: str, font: QFont, width: float) -> str:
    return QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, width)
