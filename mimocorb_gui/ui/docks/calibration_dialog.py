"""Energy calibration dialog: search peaks, mark them with known lines, fit linear or quadratic.

The numbers (peak search, peak centres, the calibration fit) are core.analysis's; the dialog only
lists them. Every control is a named action (``dialog.actions``) so tests drive it as a user does.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mimocorb_gui.core.analysis import COMMON_LINES, Calibration, find_peaks, fit, snap_to_edges

__all__ = ["CalibrationDialog", "peak_centre"]


def peak_centre(edges: np.ndarray, counts: np.ndarray, position: float, fwhm: float) -> float:
    """The fitted centre of a Gaussian around a found peak (the search position if the fit refuses)."""
    half = max(1.5 * fwhm, 2.5 * float(np.mean(np.diff(edges))))
    result = fit(edges, counts, *snap_to_edges(edges, position - half, position + half), "gauss")
    return result["centre"].value if result.ok else position


class CalibrationDialog(QDialog):
    """Mark peaks of ``(edges, counts)`` (raw channel values) with energies; ``calibration`` on accept."""

    def __init__(self, edges, counts, channel: str, unit: str = "", current: Calibration | None = None,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle(f"Energy calibration: {channel}")
        self.edges = np.asarray(edges, dtype=float)
        self.counts = np.asarray(counts, dtype=float)
        self.unit = unit
        self.calibration: Calibration | None = current
        self.removed = False
        self.peaks = []
        self.actions: dict[str, QAction] = {}
        layout = QVBoxLayout(self)

        search = QHBoxLayout()
        layout.addLayout(search)
        search.addWidget(QLabel("Prominence ≥"))
        self.prominence = QDoubleSpinBox(self)
        self.prominence.setRange(0.5, 90.0)
        self.prominence.setValue(5.0)
        self.prominence.setSuffix(" % of the highest peak")
        search.addWidget(self.prominence)
        self._action("search", "Search peaks", "Smooth the spectrum and list its peaks", self.search, search)
        search.addStretch(1)
        self.peak_list = QListWidget(self)
        self.peak_list.setToolTip("Peaks found; select one and press 'Mark peak'")
        layout.addWidget(self.peak_list)

        mark = QHBoxLayout()
        layout.addLayout(mark)
        mark.addWidget(QLabel("Energy (keV):"))
        self.energy = QComboBox(self)
        self.energy.setEditable(True)
        for name, e in COMMON_LINES:
            self.energy.addItem(f"{e:g}  {name}", e)
        self.energy.setToolTip("Pick a common line or type an energy in keV")
        mark.addWidget(self.energy)
        self._action("mark", "Mark peak", "Add the selected peak with this energy", self.mark_selected, mark)
        self._action("remove_point", "Remove point", "Remove the selected calibration point",
                     self.remove_point, mark)  # fmt: skip
        mark.addStretch(1)

        self.points = QTableWidget(0, 3, self)
        self.points.setHorizontalHeaderLabels(
            [f"Peak ({unit})" if unit else "Peak", "Energy (keV)", "Residual (keV)"]
        )
        self.points.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.points.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.points.itemChanged.connect(lambda _i: self._update())
        layout.addWidget(self.points)

        kind_row = QHBoxLayout()
        layout.addLayout(kind_row)
        kind_row.addWidget(QLabel("Calibration:"))
        self.kind = QComboBox(self)
        self.kind.addItems(["linear", "quadratic"])
        self.kind.currentTextChanged.connect(lambda _t: self._update())
        kind_row.addWidget(self.kind)
        self._action(
            "clear", "Remove calibration", "Show the raw channel values again", self.remove, kind_row
        )
        kind_row.addStretch(1)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Apply")
        self.actions["apply"] = act = QAction("Apply", self)
        act.triggered.connect(self.accept)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        if current is not None:
            self.kind.setCurrentText(current.kind)
            for x, e, _label in current.points:
                self.add_point(x, e)
        self.search()
        self.resize(520, 520)

    def _action(self, key: str, text: str, tip: str, slot, row: QHBoxLayout) -> None:
        self.actions[key] = act = QAction(text, self)
        act.setToolTip(tip)
        act.triggered.connect(slot)
        btn = QToolButton(self)
        btn.setDefaultAction(act)
        btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        row.addWidget(btn)

    # ----- peaks and points ---------------------------------------------------------------------
    def search(self) -> None:
        self.peaks = find_peaks(self.edges, self.counts, prominence=self.prominence.value() / 100.0)
        self.peak_list.clear()
        for p in sorted(self.peaks, key=lambda p: p.position):
            centre = peak_centre(self.edges, self.counts, p.position, p.fwhm)
            item = QListWidgetItem(f"{centre:.5g} {self.unit}   (height {p.height:.0f}, FWHM {p.fwhm:.3g})")
            item.setData(Qt.ItemDataRole.UserRole, centre)
            self.peak_list.addItem(item)
        if self.peak_list.count():
            self.peak_list.setCurrentRow(self.peak_list.count() - 1)
        self._update()

    def chosen_energy(self) -> float | None:
        data = self.energy.currentData()
        text = self.energy.currentText().split()[0] if self.energy.currentText().split() else ""
        try:
            value = float(text)
        except ValueError:
            return float(data) if data is not None else None
        return value

    def mark_selected(self) -> None:
        item = self.peak_list.currentItem()
        energy = self.chosen_energy()
        if item is None or energy is None:
            self.status.setText("Select a peak and an energy first.")
            return
        self.add_point(float(item.data(Qt.ItemDataRole.UserRole)), energy)

    def add_point(self, x: float, energy: float) -> None:
        row = self.points.rowCount()
        self.points.blockSignals(True)
        self.points.insertRow(row)
        self.points.setItem(row, 0, QTableWidgetItem(f"{x:.6g}"))
        self.points.setItem(row, 1, QTableWidgetItem(f"{energy:g}"))
        residual = QTableWidgetItem("")
        residual.setFlags(residual.flags() & ~Qt.ItemFlag.ItemIsEditable)
        self.points.setItem(row, 2, residual)
        self.points.blockSignals(False)
        self._update()

    def remove_point(self) -> None:
        rows = self.points.selectionModel().selectedRows()
        row = rows[0].row() if rows else self.points.rowCount() - 1
        if row >= 0:
            self.points.removeRow(row)
        self._update()

    def point_values(self) -> list[tuple[float, float]]:
        out = []
        for row in range(self.points.rowCount()):
            try:
                out.append((float(self.points.item(row, 0).text()), float(self.points.item(row, 1).text())))
            except (AttributeError, ValueError):
                continue
        return out

    def _update(self) -> None:
        pts = self.point_values()
        try:
            cal = Calibration.from_points(pts, self.kind.currentText())
        except ValueError as exc:
            self.calibration = None
            self.status.setText(f"{exc}." if pts else "Mark at least two peaks with their energies.")
            self.ok_button.setEnabled(False)
            self.actions["apply"].setEnabled(False)
            return
        self.calibration = cal
        self.points.blockSignals(True)
        for row, r in enumerate(cal.residuals()):
            item = self.points.item(row, 2)
            if item is not None:
                item.setText(f"{r:+.2f}" if math.isfinite(r) else "")
        self.points.blockSignals(False)
        self.status.setText(cal.describe(self.unit))
        self.ok_button.setEnabled(True)
        self.actions["apply"].setEnabled(True)

    def remove(self) -> None:
        self.calibration = None
        self.removed = True
        self.accept()
