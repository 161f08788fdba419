"""Qt-free numbers the histogram dock shows: fits, regions, calibration, peak search, spectrum files.

Everything works on a histogram given as ``edges`` and ``counts`` arrays (any bin convention).
"""

from mimocorb_gui.core.analysis.calibration import (
    COMMON_LINES,
    Calibration,
    load_calibrations,
    save_calibration,
)
from mimocorb_gui.core.analysis.fits import MODELS, FitResult, Parameter, fit, guess_model
from mimocorb_gui.core.analysis.peaks import Peak, find_peaks, smooth
from mimocorb_gui.core.analysis.regions import (
    FWHM_PER_SIGMA,
    RegionSum,
    decay_region,
    peak_region,
    region_sum,
    snap_to_edges,
)
from mimocorb_gui.core.analysis.results import format_value, results_text, write_results
from mimocorb_gui.core.analysis.runtimes import RunTimes, read_run_times
from mimocorb_gui.core.analysis.spectrum import (
    Spectrum,
    bin_range,
    centres,
    read_spectrum_csv,
    rebin,
    subtract_background,
    write_spectrum_csv,
)

__all__ = [
    "COMMON_LINES",
    "FWHM_PER_SIGMA",
    "MODELS",
    "Calibration",
    "FitResult",
    "Parameter",
    "Peak",
    "RegionSum",
    "RunTimes",
    "Spectrum",
    "bin_range",
    "centres",
    "decay_region",
    "find_peaks",
    "fit",
    "format_value",
    "guess_model",
    "load_calibrations",
    "peak_region",
    "read_run_times",
    "read_spectrum_csv",
    "rebin",
    "region_sum",
    "results_text",
    "save_calibration",
    "smooth",
    "snap_to_edges",
    "subtract_background",
    "write_results",
    "write_spectrum_csv",
]
