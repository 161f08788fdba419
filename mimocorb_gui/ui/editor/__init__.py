"""Graph editor: a setup as a graph of buffers and workers (model / items / commands split)."""

from mimocorb_gui.ui.editor.editor import GraphEditor

__all__ = ["GraphEditor"]
