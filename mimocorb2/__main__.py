"""The ``mimocorb2`` command, with mimoCoRB2's command line: ``mimocorb2 SETUP [-c MODE]``."""

from __future__ import annotations

import argparse
import multiprocessing
import sys

MODES = ["gui+stats", "kbd+stats", "gui", "kbd", "stats"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mimocorb2", description="Run mimoCoRB2 control module with specified setup."
    )
    parser.add_argument(
        "setup_file",
        nargs="?",
        default="examples/muon/spin_setup.yaml",
        help="Path to the setup YAML file (default: examples/muon/spin_setup.yaml)",
    )
    parser.add_argument(
        "-c",
        "--control_mode",
        choices=MODES,
        default="gui+stats",
        help="Control mode: 'gui' for the graphical interface, 'kbd' for the keyboard interface, "
        "'stats' alone runs until the workers end (default: gui+stats)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = parse_args(argv)
    from mimocorb2.control import Control
    from mimocorb_gui.core.run import SetupInvalid
    from mimocorb_gui.core.setup import SetupError

    print(f"Using setup file: {args.setup_file} in {args.control_mode} mode.")
    try:
        control = Control.from_setup_file(args.setup_file, mode=args.control_mode)
    except SetupInvalid as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except (OSError, ValueError, SetupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return control()


if __name__ == "__main__":
    sys.exit(main())
