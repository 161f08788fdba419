"""mimoCoRB GUI: shared-memory ring buffers and workers for data acquisition, with a desktop GUI.

Public API for people writing worker functions (the mimoCoRB2 contract).
"""

__version__ = "0.1.0"

from mimocorb_gui.core.bufferio import BufferIO, Config  # noqa: E402
from mimocorb_gui.core.templates import Exporter, Filter, Importer, IsAlive, Observer, Processor  # noqa: E402

__all__ = ["BufferIO", "Config", "Importer", "Exporter", "Filter", "Processor", "Observer", "IsAlive"]
