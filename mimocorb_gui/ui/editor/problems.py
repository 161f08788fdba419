"""The problems list: live validation results; activating one selects its node."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QStyle, QTreeWidget, QTreeWidgetItem

PROBLEM_ROLE = Qt.ItemDataRole.UserRole + 1


class ProblemsView(QTreeWidget):
    """Errors first, then warnings; ``problem_activated(problem)`` on click."""

    problem_activated = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Where", "Problem"])
        self.setRootIsDecorated(False)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setWordWrap(True)
        self.setColumnWidth(0, 220)
        self.problems: list = []
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)

    def set_problems(self, problems: list) -> None:
        self.problems = list(problems)
        self.clear()
        ordered = sorted(self.problems, key=lambda p: 0 if p.severity == "error" else 1)
        style = self.style()
        for p in ordered:
            item = QTreeWidgetItem(self, [p.location, p.message])
            item.setData(0, PROBLEM_ROLE, p)
            icon = (
                QStyle.StandardPixmap.SP_MessageBoxCritical
                if p.severity == "error"
                else QStyle.StandardPixmap.SP_MessageBoxWarning
            )
            item.setIcon(0, style.standardIcon(icon))
            item.setToolTip(0, str(p))
            item.setToolTip(1, p.message)
            if p.severity == "error":
                item.setForeground(1, QBrush(QColor("#b71c1c")))

    def summary(self) -> str:
        errors = sum(p.severity == "error" for p in self.problems)
        warnings = len(self.problems) - errors
        if not self.problems:
            return "No problems"
        parts = []
        if errors:
            parts.append(f"{errors} error{'s' if errors != 1 else ''}")
        if warnings:
            parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
        return ", ".join(parts)

    def _clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        problem = item.data(0, PROBLEM_ROLE)
        if problem is not None:
            self.problem_activated.emit(problem)

    def activate_row(self, row: int) -> None:
        """Act as if the user clicked row ``row`` (for tests and keyboard navigation)."""
        self._clicked(self.topLevelItem(row))
