"""``python -m mimocorb_gui`` is the ``mimocorb`` command."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # first, before Qt: PyInstaller routes worker command lines through it
    from mimocorb_gui.cli import main

    sys.exit(main())
