"""mimoCoRB2's display module name, kept so that old setups load unchanged.

``visualizers.histogram`` (histograms of an exporters.histogram worker) and ``visualizers.csv``
(histograms of a csv exporter's buffer) are the display worker :func:`observers.histogram`:
a dock in the GUI, display-only in a headless run. They are not listed separately by
``mimocorb functions``; new setups use ``observers.histogram``.
"""

from __future__ import annotations

from mimocorb_gui.functions.observers import histogram

__all__ = ["csv", "histogram"]

csv = histogram
