"""mimoCoRB GUI: shared-memory ring buffers and workers for data acquisition, with a desktop GUI.

Public API for people writing worker functions (the mimoCoRB2 contract)::

    from mimocorb_gui import BufferIO, Importer, Exporter, Filter, Processor, Observer, IsAlive
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {
    "BufferIO": "mimocorb_gui.core.bufferio",
    "Config": "mimocorb_gui.core.bufferio",
    "Importer": "mimocorb_gui.core.templates",
    "Exporter": "mimocorb_gui.core.templates",
    "Filter": "mimocorb_gui.core.templates",
    "Processor": "mimocorb_gui.core.templates",
    "Observer": "mimocorb_gui.core.templates",
    "IsAlive": "mimocorb_gui.core.templates",
}

__all__ = list(_PUBLIC)


def __getattr__(name: str):
    # imported on first use, so `import mimocorb_gui.core.ringbuffer` stays light
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'mimocorb_gui' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
