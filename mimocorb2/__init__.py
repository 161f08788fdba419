"""mimoCoRB2's public package, provided by mimoCoRB GUI: code written for mimoCoRB2 runs unchanged.

``import mimocorb2 as mi2`` gives the same worker templates and ``BufferIO`` as
``mimocorb_gui`` (the very same classes), ``mimocorb2.control.Control`` runs a setup from a plain
script, ``mimocorb2.mimo_buffer`` offers the buffer with its reader / writer / observer
interfaces, ``mimocorb2.functions.*`` are the prebuilt functions under their mimoCoRB2 names
and ``mimocorb2.functions.data.mimoFile`` reads recordings of both file formats. The deliberate
differences are listed in README.md, section "Coming from mimoCoRB2".
"""

from __future__ import annotations

import importlib

from mimocorb_gui.core.bufferio import BufferIO
from mimocorb_gui.core.templates import (
    Exporter,
    Filter,
    Importer,
    IsAlive,
    Observer,
    Processor,
    SetupError,
    UfuncError,
)

__version__ = "0.0.3"  # the mimoCoRB2 version whose public interface this package provides

__all__ = [
    "BufferIO",
    "SetupError",
    "UfuncError",
    "Importer",
    "Exporter",
    "Filter",
    "Processor",
    "Observer",
    "IsAlive",
    "Control",
]


def __getattr__(name: str):
    # Control pulls in the run machinery: loaded on first use, so worker processes stay light
    if name == "Control":
        return importlib.import_module("mimocorb2.control").Control
    raise AttributeError(f"module 'mimocorb2' has no attribute {name!r}")
