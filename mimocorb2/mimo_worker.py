"""mimoCoRB2's ``mimo_worker``: ``BufferIO`` and ``Config``.

``BufferIO.from_setup(name, setup, setup_dir, run_dir, buffers, base_config={})`` takes the
worker's own setup dictionary and a ``{name: buffer}`` mapping of ``mimo_buffer.mimoBuffer`` (or
ring buffer) objects, and loads ``config`` files relative to ``setup_dir``, as in mimoCoRB2.
Worker processes are started by ``mimocorb2.control.Control`` (or ``mimocorb run``), not by a
``mimoWorker`` class.
"""

from __future__ import annotations

from mimocorb_gui.core.bufferio import BufferIO, Config

__all__ = ["BufferIO", "Config"]
