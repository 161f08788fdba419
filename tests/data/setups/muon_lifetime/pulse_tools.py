"""Helpers imported by lifetime_filter.py as a sibling module."""

import numpy as np


def pulse_positions(trace: np.ndarray, min_height: float) -> np.ndarray:
    """Sample indices where the (negative) trace crosses -min_height downwards."""
    below = trace < -min_height
    return np.flatnonzero(below[1:] & ~below[:-1]) + 1
