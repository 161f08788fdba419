"""A plot as PNG and SVG files with a caption in its title: what Save writes in the oscilloscope and
histogram docks.

Rendered by Qt (``QWidget.grab`` and ``QSvgGenerator``): pyqtgraph's SVG exporter fails on filled
step curves (the histogram).
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication

__all__ = ["save_plot_images"]


def save_plot_images(
    widget: pg.PlotWidget, stem: Path, caption: str, title_color: str, description: str = ""
) -> list[Path]:
    """``stem.png`` and ``stem.svg`` of ``widget`` as shown, with ``caption`` as the plot's title while
    they are written (the title is taken away again); the two paths."""
    plot = widget.getPlotItem()
    plot.setTitle(caption, size="9pt", color=title_color)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    try:
        QApplication.processEvents()  # lay the title out before the picture is taken
        if not widget.grab().save(str(png)):
            raise OSError(f"cannot write {png}")
        gen = QSvgGenerator()
        gen.setFileName(str(svg))
        gen.setSize(widget.size())
        gen.setViewBox(widget.rect())
        gen.setTitle(caption)
        if description:
            gen.setDescription(description)
        painter = QPainter(gen)
        try:
            widget.render(painter)
        finally:
            painter.end()
    finally:
        plot.setTitle(None)
    return [png, svg]
