"""Fit panel of the histogram dock: the model chosen for the channel and the fit's figures as text.

The fit itself is core.analysis.fit (Poisson likelihood, iminuit); this widget shows its result:
every parameter with its uncertainty (MINOS interval where it is asymmetric), the goodness of fit
and the entries used, or the refusal message in place of numbers.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from mimocorb_gui.core.analysis import MODELS, FitResult, format_value

__all__ = ["FitPanel", "fit_html"]

LABELS = {"centre": "centre", "sigma": "σ", "net": "net", "fwhm": "FWHM", "resolution": "resolution",
          "bg_left": "background at low end", "bg_right": "at high end", "tau": "τ", "N0": "N₀", "B": "B",
          "value_at_lo": "value at low end", "slope": "slope"}  # fmt: skip
KEY_PARAMETERS = {"centre", "fwhm", "resolution", "net", "tau"}


def _value(p, unit: str) -> str:
    if p.name == "resolution":
        return f"{100 * p.value:.2f} ± {100 * p.error:.2f} %"
    text = format_value(p.value, p.error, p.unit_text(unit))
    if (
        math.isfinite(p.lower)
        and math.isfinite(p.upper)
        and abs(p.upper - p.lower) > 0.1 * (p.upper + p.lower)
    ):
        text += f" (−{p.lower:.2g} +{p.upper:.2g})"  # noticeably asymmetric MINOS interval
    return text


def fit_html(result: FitResult, unit: str) -> str:
    """One paragraph: the model, its parameters and the goodness of fit (or why there is no fit)."""
    title = MODELS[result.model].title
    if not result.ok:
        return f"<b>{title}</b>: no fit – {result.message}"
    parts = []
    for p in result.parameters:
        label = LABELS.get(p.name, p.name)
        value = _value(p, unit)
        parts.append(f"{label} <b>{value}</b>" if p.name in KEY_PARAMETERS else f"{label} {value}")
    gof = f"χ²/ndf {result.deviance:.1f}/{result.ndf} (p = {result.p_value:.2f})"
    return (
        f"<b>{title}</b> ({result.entries:,.0f} entries, {result.n_bins} bins): "
        + ", ".join(parts)
        + f"; {gof}"
    )


class FitPanel(QWidget):
    """Model selector and result text."""

    model_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.model_box = QComboBox(self)  # the dock puts it in its tool bar
        for key, m in MODELS.items():
            self.model_box.addItem(m.title, key)
        self.model_box.addItem("none", "")
        self.model_box.setToolTip(
            "Model fitted to the selected region by the Poisson likelihood of its counts"
        )
        self.model_box.currentIndexChanged.connect(lambda _i: self.model_changed.emit(self.model))
        self.text = QLabel("", self)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setWordWrap(True)
        layout.addWidget(self.text)

    @property
    def model(self) -> str:
        return str(self.model_box.currentData() or "")

    def set_model(self, key: str) -> None:
        i = self.model_box.findData(key)
        if i >= 0 and i != self.model_box.currentIndex():
            self.model_box.blockSignals(True)
            self.model_box.setCurrentIndex(i)
            self.model_box.blockSignals(False)

    def show_result(self, result: FitResult | None, unit: str) -> None:
        self.text.setText("" if result is None else fit_html(result, unit))
