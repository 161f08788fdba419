"""mimoCoRB2's ``worker_templates``: the templates and their errors (the classes of mimocorb_gui)."""

from __future__ import annotations

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
from mimocorb_gui.core.templates import _Template as Base

DATA = 0
METADATA = 1

__all__ = [
    "DATA",
    "METADATA",
    "Base",
    "BufferIO",
    "Exporter",
    "Filter",
    "Importer",
    "IsAlive",
    "Observer",
    "Processor",
    "SetupError",
    "UfuncError",
]
