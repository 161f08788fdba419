"""A read-only overview of a setup, shown when the graph editor cannot be loaded."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)


class SetupOverview(QWidget):
    """Read-only view of a setup, used when the graph editor cannot be loaded. It says so plainly."""

    def __init__(self, reason: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        note = QLabel(
            "<b>The graph editor is not available</b> in this installation"
            + (f" ({reason})" if reason else "")
            + ". Below is a read-only overview of the setup; edit the YAML file in a text editor and "
            "use <b>File ▸ Reload</b> (Ctrl+R) to see your changes.",
            self,
        )
        note.setWordWrap(True)
        note.setStyleSheet("background: #fff3cd; border: 1px solid #e0c97a; padding: 6px;")
        lay.addWidget(note)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Name", "Details"])
        self.tree.setAlternatingRowColors(True)
        lay.addWidget(self.tree, 3)
        lay.addWidget(QLabel("Problems found by validation:", self))
        self.problems = QListWidget(self)
        lay.addWidget(self.problems, 1)

    def set_setup(self, setup) -> None:
        self.tree.clear()
        if setup is None:
            return
        buffers = QTreeWidgetItem(self.tree, ["Buffers", f"{len(setup.buffers)}"])
        for name, b in setup.buffers.items():
            fields = ", ".join(f"{k}: {v}" for k, v in b.data_dtype.items())
            QTreeWidgetItem(buffers, [name, f"{b.slot_count} slots × {b.data_length} × {{{fields}}}"])
        workers = QTreeWidgetItem(self.tree, ["Workers", f"{len(setup.workers)}"])
        for name, w in setup.workers.items():
            func = f"{w.file}: {w.function}" if w.file else w.function
            flow = []
            if w.sources:
                flow.append(f"reads {', '.join(w.sources)}")
            if w.sinks:
                flow.append(f"writes {', '.join(w.sinks)}")
            if w.observes:
                flow.append(f"observes {', '.join(w.observes)}")
            procs = f" ×{w.number_of_processes}" if w.number_of_processes != 1 else ""
            QTreeWidgetItem(workers, [name, f"{func}{procs}; " + "; ".join(flow)])
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)

    def set_problems(self, problems: list) -> None:
        self.problems.clear()
        for p in problems:
            item = QListWidgetItem(f"{p.severity}: {p}")
            item.setForeground(Qt.GlobalColor.darkRed if p.severity == "error" else Qt.GlobalColor.darkYellow)
            self.problems.addItem(item)
        if not problems:
            self.problems.addItem("none")
