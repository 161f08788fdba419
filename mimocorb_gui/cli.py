"""The ``mimocorb`` command: ``mimocorb [gui] [SETUP] | run SETUP | check SETUP | functions | rp-emulator``."""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_WORKER_FAILED, EXIT_SETUP = 0, 1, 2
COMMANDS = ("gui", "run", "check", "functions", "rp-emulator", "install-desktop")


def _parse_duration(text: str) -> float:
    """Seconds from '90', '1.5', '02:30' (mm:ss) or '01:02:03' (hh:mm:ss)."""
    parts = text.split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration (seconds, mm:ss or hh:mm:ss)") from None
    if len(values) > 3 or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration (seconds, mm:ss or hh:mm:ss)")
    seconds = 0.0
    for v in values:
        seconds = seconds * 60 + v
    return seconds


def _load_setup(path: str):
    from mimocorb_gui.core.setup import Setup, SetupError

    try:
        return Setup.load(Path(path))
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def cmd_check(args) -> int:
    setup = _load_setup(args.setup)
    if setup is None:
        return EXIT_SETUP
    problems = setup.validate()
    for p in problems:
        print(f"{p.severity}: {p}")
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    print(f"{setup.path}: {errors} error(s), {warnings} warning(s)")
    return EXIT_SETUP if errors else EXIT_OK


def _progress_line(run) -> str:
    st = run.stats()
    parts = [f"{st.time:7.1f} s {st.state:<8}"]
    for name in sorted(run.root_buffers) or sorted(st.buffers):
        b = st.buffers[name]
        parts.append(f"{name}: {b.stats.events_written} ev {b.rate:8.1f}/s")
    return " | ".join(parts)


def cmd_run(args) -> int:
    from mimocorb_gui.core.run import Run, SetupInvalid

    setup = _load_setup(args.setup)
    if setup is None:
        return EXIT_SETUP
    for p in setup.validate():
        if p.severity == "warning":
            print(f"warning: {p}", file=sys.stderr)
    try:
        run = Run(setup, start_method=args.start_method, run_root=args.run_root)
    except SetupInvalid as exc:
        for p in exc.problems:
            print(f"error: {p}", file=sys.stderr)
        return EXIT_SETUP

    def show(entry) -> None:
        if entry.levelno >= logging.WARNING or args.verbose:
            sys.stderr.write(("\n" if tty else "") + entry.format() + "\n")

    tty = sys.stderr.isatty()
    run.log_listeners.append(show)
    interrupts = 0

    def on_sigint(signum, frame) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            sys.stderr.write("\nstopping in order (Ctrl-C again to abort) ...\n")
            run.request_stop("stop requested (Ctrl-C)")
        else:
            sys.stderr.write("\naborting ...\n")
            for rb in run.buffers.values():
                rb.abort()

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        run_dir = run.start()
        print(f"run directory: {run_dir}", file=sys.stderr)
        t0 = time.monotonic()
        last_line = 0.0
        while not run.wait(0.25):
            now = time.monotonic()
            if args.time is not None and now - t0 >= args.time and run.state in ("running", "paused"):
                sys.stderr.write(
                    ("\n" if tty else "")
                    + f"measurement time of {args.time:g} s reached: stopping in order\n"
                )
                run.request_stop(f"measurement time of {args.time:g} s reached")
            if tty:
                sys.stderr.write("\r" + _progress_line(run) + "\033[K")
                sys.stderr.flush()
            elif now - last_line >= 5.0:
                sys.stderr.write(_progress_line(run) + "\n")
                last_line = now
            if interrupts >= 2:
                break
        if not run.finished():
            run.stop(timeout=10.0)
        sys.stderr.write(("\r" if tty else "") + _progress_line(run) + ("\033[K\n" if tty else "\n"))
    finally:
        signal.signal(signal.SIGINT, old)
        run.close()
    failed = run.failed_workers
    if failed:
        print(
            f"error: worker(s) failed: {', '.join(failed)} (see {run.run_dir / 'run.log'})", file=sys.stderr
        )
        return EXIT_WORKER_FAILED
    print(f"finished: {run.run_dir}", file=sys.stderr)
    return EXIT_OK


def cmd_functions(args) -> int:
    from mimocorb_gui.core.loader import prebuilt_functions

    funcs = prebuilt_functions()
    width = max((len(n) for n in funcs), default=0)
    for name, summary in sorted(funcs.items()):
        print(f"{name:<{width}}  {summary}")
    return EXIT_OK


def cmd_rp_emulator(argv: list[str]) -> int:
    from mimocorb_gui.functions.importers import rp_emulator

    return rp_emulator.main(argv) or 0


def cmd_gui(args) -> int:
    from mimocorb_gui.ui.app import main as gui_main

    return gui_main(args.setup)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mimocorb",
        description="mimoCoRB GUI: data acquisition with shared-memory ring buffers.",
        epilog="Without a command, 'mimocorb [SETUP]' opens the graphical application.",
    )
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("gui", help="open the graphical application (default)")
    p.add_argument("setup", nargs="?", help="setup YAML file to open")
    p = sub.add_parser("run", help="run a setup headless until every worker has finished")
    p.add_argument("setup", help="setup YAML file")
    p.add_argument(
        "--time", type=_parse_duration, help="stop in order after this long (s, mm:ss or hh:mm:ss)"
    )
    p.add_argument("--start-method", choices=multiprocessing.get_all_start_methods(), default=None)
    p.add_argument(
        "--run-root", default=None, help="directory for run_<timestamp> (default: target_directory)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print every log line, not only warnings")
    p = sub.add_parser("check", help="validate a setup and print every problem")
    p.add_argument("setup", help="setup YAML file")
    sub.add_parser("functions", help="list the prebuilt functions")
    sub.add_parser(
        "rp-emulator",
        help="emulate a Red Pitaya: its daq server (port 1001) and SCPI server (5000) on 127.0.0.1 "
        "(see 'mimocorb rp-emulator --help')",
    )
    sub.add_parser("install-desktop", help="install the desktop launcher and setup-file association")
    return parser


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "rp-emulator":
        return cmd_rp_emulator(argv[1:])
    if argv and argv[0] == "install-desktop":
        from mimocorb_gui.desktop import main as desktop_main

        return desktop_main(argv[1:])
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        argv = ["gui", *argv]
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mimocorb.run").propagate = False  # the CLI prints run log entries itself
    handler = {"run": cmd_run, "check": cmd_check, "functions": cmd_functions, "gui": cmd_gui}[args.command]
    return handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
