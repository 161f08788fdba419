"""save_plot_images: both docks' Save writes its pictures through it (the docks' own tests check the files)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from plot_files import check_png, check_svg

from mimocorb_gui.ui.docks.plot_export import save_plot_images


def test_png_and_svg_of_a_plot_with_its_caption_and_a_clear_error(qtbot, tmp_path):
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    widget.plot(np.arange(50.0), np.sin(np.arange(50.0) / 5), pen="r")
    png, svg = save_plot_images(widget, tmp_path / "plot", "setup · run 3", "#333", "a sine")
    assert (png.name, svg.name) == ("plot.png", "plot.svg")
    check_png(png, widget)
    root = check_svg(svg, widget, "setup · run 3")
    assert root.find("{http://www.w3.org/2000/svg}desc").text == "a sine"
    assert widget.getPlotItem().titleLabel.maximumHeight() == 0  # the title was for the files only
    with pytest.raises(OSError, match="cannot write"):
        save_plot_images(widget, tmp_path / "no such folder" / "plot", "x", "#333")
    assert widget.getPlotItem().titleLabel.maximumHeight() == 0
