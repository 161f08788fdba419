"""Regions and fit of the histogram dock: the automatic first region, every region's figures, the fit of
the selected one and its curve. A mixin of HistogramDock; the numbers are core.analysis's."""

from __future__ import annotations

import importlib
import time

import numpy as np

from mimocorb_gui.core.analysis import decay_region, fit, peak_region, region_sum

__all__ = ["REFIT_COST_FACTOR", "REFIT_FRACTION", "REFIT_MIN_S", "RegionsAndFit", "load_fit_libraries"]

# while counts arrive, the selected region is refitted at once when it moved, the model, binning or
# channel changed; for new counts only when they changed by more than this fraction: refitting at every refresh was
# half of the GUI main thread's time during a muon run (profiled); the region's sums stay current
REFIT_FRACTION = 0.02
# ... and not sooner than this after the last fit, nor sooner than REFIT_COST_FACTOR times the last fit's
# duration: a histogram filling at a constant rate grows by more than 2 % per 0.5 s refresh for its
# first 25 s, so the count rule alone refitted at every refresh (a quarter of the GUI main thread in a
# 15 s muon run at full rate, ~45 ms per fit, profiled); with this the fit takes at most ~5 % of it
REFIT_MIN_S = 2.0
REFIT_COST_FACTOR = 20.0


def load_fit_libraries() -> None:
    """Import what fits and peak finding use (scipy.special, scipy.signal, iminuit) now.

    core.analysis imports them at first use; that was the first fit of a run, which froze the
    window for 1-3 s of the main thread in the middle of acquisition (profiled). The histogram dock
    calls this when it is made, i.e. when a setup with a histogram is opened.
    """
    for name in ("scipy.special", "scipy.signal", "iminuit.cost"):
        importlib.import_module(name)


class RegionsAndFit:
    """Methods of HistogramDock for regions and fits."""

    # ----- regions and fit ----------------------------------------------------------------------
    def add_region(self, lo: float | None = None, hi: float | None = None):
        """A region (raw channel values); without bounds the middle fifth of the view."""
        if lo is None or hi is None:
            a, b = self.plot.viewRange()[0]
            lo, hi = self.to_raw(a + 0.4 * (b - a)), self.to_raw(a + 0.6 * (b - a))
        region = self.regions.add(lo, hi, touched=True)
        self._show_regions(self.actions["region"].isChecked())
        return region

    def set_region(self, lo: float, hi: float) -> None:
        """Move the selected region (the user's choice: it stays); a first region if there is none."""
        current = self.regions.current()
        if current is None:
            self.regions.add(lo, hi, touched=True)
        else:
            self.regions.place(current, lo, hi)
            current.touched = True
        self.update_analysis()

    def _auto_region(self) -> None:
        """The first region follows the strongest peak (the whole range for a decay) until touched."""
        spec = self.spectrum()
        if spec is None:
            return
        model = self.fit_panel.model
        if model in ("exponential", "line"):
            found = decay_region(spec.edges, spec.counts)
        else:
            found = peak_region(spec.edges, spec.counts)
        if found is None:
            return
        if not self.regions.regions:
            self.regions.add(*found, touched=False, name="R1")
            self._show_regions(self.actions["region"].isChecked())
            return
        first = self.regions.regions[0]
        if first.touched:
            return
        lo, hi = first.lo, first.hi
        centre = 0.5 * (found[0] + found[1])
        if lo <= centre <= hi and abs((found[1] - found[0]) - (hi - lo)) < 0.4 * (hi - lo):
            return  # about the same place: keep it still
        self.regions.place(first, *found)

    def _schedule_analysis(self) -> None:
        self._analysis_timer.start()

    def update_analysis(self) -> None:
        """Figures of every region, the fit of the selected one, its curve."""
        shown = self.displayed()
        if shown is None or not np.any(shown[1]):
            for r in self.regions.regions:
                r.figures = None
            self.regions.show_figures(self.unit)
            self.fit_curve.setData([], [])
            self._fit = None
            self.fit_panel.text.setText(
                "Regions with net counts and a fit appear over the strongest peak once counts arrive; "
                "drag them where you like, add more with 'Add region'."
            )
            return
        edges, counts = shown
        for r in self.regions.regions:
            r.figures = region_sum(
                edges, counts, self.to_display(r.lo), self.to_display(r.hi), self._variance
            )
        self.regions.show_figures(self.unit)
        current = self.regions.current()
        model = self.fit_panel.model
        if current is None or not model or not self.actions["region"].isChecked():
            self._fit = None
            self.fit_curve.setData([], [])
            self.fit_panel.show_result(None, self.unit)
            return
        lo, hi = self.to_display(current.lo), self.to_display(current.hi)
        log_y = self.actions["log"].isChecked()
        key = (id(current), lo, hi, model, self.channel, log_y, len(edges), float(edges[0]), float(edges[-1]))
        gross = current.figures.gross if current.figures is not None else float(np.sum(counts))
        last = getattr(self, "_fit_basis", None)
        now = time.monotonic()
        if self._fit is not None and self._running and last is not None and last[0] == key:
            little_new = abs(gross - last[1]) <= REFIT_FRACTION * max(last[1], 1.0)
            too_soon = now - last[2] < max(REFIT_MIN_S, REFIT_COST_FACTOR * last[3])
            if little_new or too_soon:
                return  # the fit shown still describes these counts, or one was made a moment ago
        # while a run fills the histogram: HESSE errors only (MINOS intervals take several times longer)
        result = fit(edges, counts, lo, hi, model, self._variance, minos=not self._running)
        self._fit = result
        self._fit_basis = (key, gross, now, time.monotonic() - now)
        self.fit_panel.show_result(result, self.unit)
        if result.ok and result.curve is not None:
            x = np.linspace(max(lo, edges[0]), min(hi, edges[-1]), 300)
            c = 0.5 * (edges[1:] + edges[:-1])
            width = np.interp(x, c, np.diff(edges))  # counts per bin = density × local bin width
            y = result.curve(x) * width
            if self.actions["log"].isChecked():
                y = np.where(y > 0, y, np.nan)
            self.fit_curve.setData(x, y)
        else:
            self.fit_curve.setData([], [])

    @property
    def fit(self):
        return self._fit

    def _model_changed(self, model: str) -> None:
        self.models[self.channel] = model
        first = self.regions.regions[0] if self.regions.regions else None
        if first is not None and not first.touched:
            self.regions.delete(0)  # the automatic region is placed anew for this model
            self._auto_region()
        self.update_analysis()
