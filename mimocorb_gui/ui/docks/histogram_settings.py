"""The histogram dock's settings, kept per setup: channel, log y, rebin, regions per channel, fit model
per channel, calibrations per channel. A mixin of HistogramDock."""

from __future__ import annotations

import logging
from typing import Any

from mimocorb_gui.core.analysis import Calibration

__all__ = ["HistogramSettings"]

log = logging.getLogger(__name__)

REBIN_FACTORS = (1, 2, 4, 8, 16, 32)


class HistogramSettings:
    """Methods of HistogramDock for its saved settings."""

    def settings(self) -> dict[str, Any]:
        self.region_state[self.channel] = self.regions.state()
        return {
            "channel": self.channel,
            "log": self.actions["log"].isChecked(),
            "rebin": self.rebin_factor,
            "region_on": self.actions["region"].isChecked(),
            "regions": {ch: st for ch, st in self.region_state.items() if st},
            "models": dict(self.models),
            "calibrations": {ch: c.to_dict() for ch, c in self.calibrations.items()},
        }

    def apply_settings(self, values: dict[str, Any]) -> None:
        models = values.get("models")
        if isinstance(models, dict):
            self.models.update({str(k): str(v) for k, v in models.items() if isinstance(v, str)})
        cals = values.get("calibrations")
        if isinstance(cals, dict):
            for ch, d in cals.items():
                try:
                    self.calibrations[str(ch)] = Calibration.from_dict(d)
                except (ValueError, TypeError):
                    log.warning("ignoring the saved calibration of %s", ch)
        regions = values.get("regions")
        if isinstance(regions, dict):
            for ch, st in regions.items():
                if isinstance(st, list) and all(isinstance(r, list) and len(r) == 3 for r in st):
                    self.region_state[str(ch)] = st
        ch = values.get("channel")
        if isinstance(ch, str) and self.channel_box.findText(ch) >= 0:
            self.channel_box.setCurrentText(ch)
        self._shown_channel = ""  # rebuild the shown channel's regions and model from the settings
        self._channel_changed(self.channel)
        if isinstance(values.get("log"), bool):
            self.actions["log"].setChecked(values["log"])
        r = values.get("rebin")
        if isinstance(r, int) and r in REBIN_FACTORS:
            self.rebin_box.setCurrentIndex(REBIN_FACTORS.index(r))
        if isinstance(values.get("region_on"), bool):
            self.actions["region"].setChecked(values["region_on"])
        reg = values.get("region")  # settings written before several regions existed
        if isinstance(reg, list) and len(reg) == 2 and all(isinstance(v, (int, float)) for v in reg):
            self.set_region(float(reg[0]), float(reg[1]))
