"""Regions of the histogram dock: draggable ranges on the plot and a table of their figures.

Numbers come from core.analysis.region_sum; this module only draws and lists. Regions are kept
in raw channel values (so a new calibration moves them with the axis) and shown in display
values (keV once calibrated) through the dock's ``to_display`` / ``to_raw``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from mimocorb_gui.core.analysis import RegionSum, format_value

__all__ = ["COLUMNS", "Region", "RegionsTable"]

COLUMNS = ("Region", "From", "To", "Gross", "Net", "Centroid", "FWHM", "Resolution")
COLOURS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@dataclass
class Region:
    """One region: raw bounds, whether the user placed it, its plot item and last figures."""

    name: str
    lo: float  # raw channel values
    hi: float
    touched: bool = False  # the user moved it (an automatic region then stays where it is)
    item: pg.LinearRegionItem | None = None
    label: pg.TextItem | None = None
    figures: RegionSum | None = None


class RegionsTable(QObject):
    """The regions of the channel shown: items on ``plot`` and rows in ``table``."""

    changed = Signal()  # a region moved, was added or deleted (the dock recomputes)
    selected = Signal(int)

    def __init__(
        self, plot: pg.PlotItem, table: QTableWidget, to_display: Callable, to_raw: Callable
    ) -> None:
        super().__init__(table)
        self.plot = plot
        self.table = table
        self.to_display = to_display
        self.to_raw = to_raw
        self.regions: list[Region] = []
        self._placing = False
        self._counter = 0
        table.setColumnCount(len(COLUMNS))
        table.setHorizontalHeaderLabels(COLUMNS)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(False)
        table.itemSelectionChanged.connect(self._selection_changed)
        plot.getViewBox().sigYRangeChanged.connect(lambda *_: self._place_labels())

    # ----- regions ------------------------------------------------------------------------------
    def add(self, lo: float, hi: float, touched: bool = True, name: str | None = None) -> Region:
        self._counter += 1
        colour = COLOURS[(self._counter - 1) % len(COLOURS)]
        region = Region(name or f"R{self._counter}", float(min(lo, hi)), float(max(lo, hi)), touched)
        item = pg.LinearRegionItem(
            values=(self.to_display(region.lo), self.to_display(region.hi)),
            brush=pg.mkBrush(*pg.mkColor(colour).getRgb()[:3], 30),
            pen=pg.mkPen(colour, width=2),
        )
        item.setZValue(15)
        label = pg.TextItem(region.name, color=colour, anchor=(0.5, 0.0))  # below the top of the view
        label.setZValue(16)
        region.item, region.label = item, label
        self.plot.addItem(item)
        self.plot.addItem(label, ignoreBounds=True)
        item.sigRegionChanged.connect(lambda _i, r=region: self._moved(r))
        item.sigRegionChangeFinished.connect(lambda _i, r=region: self._finished(r))
        self.regions.append(region)
        self.table.setRowCount(len(self.regions))
        self.select(len(self.regions) - 1)
        self.changed.emit()
        return region

    def delete(self, index: int | None = None) -> None:
        index = self.current_index() if index is None else index
        if not 0 <= index < len(self.regions):
            return
        region = self.regions.pop(index)
        for it in (region.item, region.label):
            if it is not None:
                self.plot.removeItem(it)
        self.table.removeRow(index)
        if self.regions:
            self.select(min(index, len(self.regions) - 1))
        self.changed.emit()

    def clear(self) -> None:
        while self.regions:
            self.delete(len(self.regions) - 1)
        self._counter = 0

    def place(self, region: Region, lo: float, hi: float) -> None:
        """Move a region by program (not counted as the user's touch)."""
        region.lo, region.hi = float(min(lo, hi)), float(max(lo, hi))
        self._placing = True
        try:
            region.item.setRegion((self.to_display(region.lo), self.to_display(region.hi)))
        finally:
            self._placing = False

    def set_bounds(self, lo: float, hi: float) -> None:
        for r in self.regions:
            r.item.setBounds((lo, hi))

    def redisplay(self) -> None:
        """Put every item where its raw bounds are on the (re)calibrated axis."""
        for r in self.regions:
            self.place(r, r.lo, r.hi)

    def _moved(self, region: Region) -> None:
        if self._placing:
            return
        a, b = region.item.getRegion()
        region.lo, region.hi = float(self.to_raw(a)), float(self.to_raw(b))
        self.changed.emit()

    def _finished(self, region: Region) -> None:
        if not self._placing:
            region.touched = True

    # ----- selection ----------------------------------------------------------------------------
    def current_index(self) -> int:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if rows:
            return rows[0].row()
        return 0 if self.regions else -1

    def current(self) -> Region | None:
        i = self.current_index()
        return self.regions[i] if 0 <= i < len(self.regions) else None

    def select(self, index: int) -> None:
        if 0 <= index < len(self.regions):
            self.table.selectRow(index)

    def _selection_changed(self) -> None:
        self.selected.emit(self.current_index())

    # ----- figures ------------------------------------------------------------------------------
    def show_figures(self, unit: str) -> None:
        """Fill the table rows from each region's ``figures`` (display units)."""
        u = f" ({unit})" if unit else ""
        self.table.setHorizontalHeaderLabels([c + u if c in ("From", "To") else c for c in COLUMNS])
        for row, r in enumerate(self.regions):
            s = r.figures
            lo, hi = self.to_display(r.lo), self.to_display(r.hi)
            cells = [r.name, f"{lo:.5g}", f"{hi:.5g}"]
            if s is None:
                cells += [""] * 5
            else:
                cells += [
                    format_value(s.gross, s.gross_error),
                    format_value(s.net, s.net_error),
                    format_value(s.centroid, s.centroid_error, unit),
                    f"{s.fwhm:.4g} {unit}".strip() if math.isfinite(s.fwhm) else "–",
                    f"{100 * s.resolution:.2f} %" if math.isfinite(s.resolution) else "–",
                ]
            for col, text in enumerate(cells):
                item = self.table.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(row, col, item)
                item.setText(text)
        self._place_labels()

    def _place_labels(self) -> None:
        """Names at the top of the view, over the middle of each region."""
        top = self.plot.viewRange()[1][1]
        for r in self.regions:
            if r.label is not None:
                r.label.setPos(0.5 * (self.to_display(r.lo) + self.to_display(r.hi)), top)

    def set_visible(self, on: bool) -> None:
        for r in self.regions:
            r.item.setVisible(on)
            r.label.setVisible(on)

    def state(self) -> list[list]:
        return [[r.lo, r.hi, r.touched] for r in self.regions]
