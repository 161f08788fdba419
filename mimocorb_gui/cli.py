"""The ``mimocorb`` command: ``mimocorb [gui] [SETUP] | run SETUP [--serve ADDR] | check SETUP | clean |
functions | attach ADDR | keys DIR | rp-emulator | convert-mimo OLD NEW``.

Every start first removes the shared-memory segments of runs whose controller no longer exists
(``core.shm``) and says so; ``mimocorb clean`` does only that.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_WORKER_FAILED, EXIT_SETUP = 0, 1, 2
COMMANDS = (
    "gui",
    "run",
    "check",
    "clean",
    "functions",
    "rp-emulator",
    "install-desktop",
    "attach",
    "keys",
    "convert-mimo",
)


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
        b = st.buffers.get(name)
        if b is None:  # a served run's stats not there yet
            continue
        parts.append(f"{name}: {b.stats.events_written} ev {b.rate:8.1f}/s")
    return " | ".join(parts)


def _say(text: str) -> None:
    """Write to stderr; a closed terminal (SIGHUP, EIO) must not end the run's orderly stop."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def clean_segments(quiet_if_none: bool = True) -> int:
    """Remove the shared-memory segments of dead controllers; say what was removed."""
    from mimocorb_gui.core.shm import describe_removed, remove_orphaned_segments

    removed = remove_orphaned_segments()
    if removed:
        _say(f"mimocorb: {describe_removed(removed)}\n")
    elif not quiet_if_none:
        _say("mimocorb: no shared memory of ended runs found\n")
    return len(removed)


def cmd_clean(args) -> int:
    clean_segments(quiet_if_none=False)  # main() already cleaned once; this reports the state
    return EXIT_OK


_STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


def cmd_run(args) -> int:
    from mimocorb_gui.core.run import Run, SetupInvalid, StartError

    setup = _load_setup(args.setup)
    if setup is None:
        return EXIT_SETUP
    for p in setup.validate():
        if p.severity == "warning":
            print(f"warning: {p}", file=sys.stderr)
    try:
        run = Run(
            setup,
            start_method=args.start_method,
            run_root=args.run_root,
            stop_deadline=args.stop_deadline,
            stall_threshold=args.stall_threshold,
        )
    except SetupInvalid as exc:
        for p in exc.problems:
            print(f"error: {p}", file=sys.stderr)
        return EXIT_SETUP

    def show(entry) -> None:
        if entry.levelno >= logging.WARNING or args.verbose:
            _say(("\n" if tty else "") + entry.format() + "\n")

    tty = sys.stderr.isatty()
    run.log_listeners.append(show)
    interrupts = 0
    server = _start_server(run, args) if args.serve else None
    if server is False:
        run.close()
        return EXIT_SETUP

    def on_stop_signal(signum, frame) -> None:
        # Ctrl-C, SIGTERM and SIGHUP (terminal closed) alike: 1st stop in order, 2nd terminate the
        # workers already overdue, 3rd abort the buffers
        nonlocal interrupts
        interrupts += 1
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        if interrupts == 1:
            _say(f"\n{name}: stopping in order ({name} again to stop the workers that hold it up) ...\n")
            run.request_stop(f"stop requested ({name})")
        elif interrupts == 2:
            _say(f"\n{name}: terminating the workers that should have finished ({name} again to abort) ...\n")
            run.hurry()
        else:
            _say("\naborting ...\n")
            for rb in run.buffers.values():
                rb.abort()

    old = {sig: signal.signal(sig, on_stop_signal) for sig in _STOP_SIGNALS}
    try:
        try:
            run_dir = run.start()
        except StartError as exc:
            print(f"error: {setup.path}: {exc}", file=sys.stderr)
            return EXIT_SETUP
        print(f"run directory: {run_dir}", file=sys.stderr)
        if server is not None:
            key_file = server.write_key(run_dir)
            print(f"serving at {server.bound} (control key: {key_file})", file=sys.stderr)
        t0 = time.monotonic()
        last_line = 0.0
        while not run.wait(0.25):
            now = time.monotonic()
            if args.time is not None and now - t0 >= args.time and run.state in ("running", "paused"):
                _say(
                    ("\n" if tty else "")
                    + f"measurement time of {args.time:g} s reached: stopping in order\n"
                )
                run.request_stop(f"measurement time of {args.time:g} s reached")
            if tty:
                _say("\r" + _progress_line(run) + "\033[K")
            elif now - last_line >= 5.0:
                _say(_progress_line(run) + "\n")
                last_line = now
            if interrupts >= 3:
                break
        if not run.finished():
            run.stop(timeout=10.0)
        _say(("\r" if tty else "") + _progress_line(run) + ("\033[K\n" if tty else "\n"))
        for line in run.account():
            _say(f"  {line}\n")
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if server is not None:
            time.sleep(SERVE_LINGER)  # viewers see the final state
            server.close()
        run.close()
    for name in run.failed_displays:
        _say(f"warning: display worker '{name}' failed; the data were taken without it\n")
    failed = run.failed_workers
    if failed:
        print(
            f"error: worker(s) failed: {', '.join(failed)} (see {run.run_dir / 'run.log'})", file=sys.stderr
        )
        return EXIT_WORKER_FAILED
    print(f"finished: {run.run_dir}", file=sys.stderr)
    return EXIT_OK


SERVE_LINGER = 1.0  # s a served run keeps answering after it ended


def _start_server(run, args):
    """The RunServer of ``--serve`` (None without it), or False after printing why it cannot bind."""
    from mimocorb_gui.core.remote.security import InsecureAddress, KeyProblem
    from mimocorb_gui.core.remote.serve import RunServer

    try:
        return RunServer(run, args.serve, keys=args.keys)
    except (InsecureAddress, KeyProblem) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except Exception as exc:  # zmq.ZMQError: address in use, bad address
        print(f"error: --serve {args.serve}: {exc}", file=sys.stderr)
    return False


def cmd_attach(args) -> int:
    """Watch (and with the key, control) a run served by 'mimocorb run --serve'."""
    from mimocorb_gui.core.remote.client import RemoteError, RemoteRun
    from mimocorb_gui.core.remote.security import InsecureAddress, KeyProblem

    key = _read_key(args.key)
    try:
        remote = RemoteRun(args.address, key=key, keys=args.keys, server_key=args.server_key)
    except (RemoteError, InsecureAddress, KeyProblem) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    tty = sys.stderr.isatty()
    try:
        print(f"attached to {remote.address}: run directory {remote.run_dir}", file=sys.stderr)
        for op in ("pause", "resume", "stop"):
            if getattr(args, op):
                {"pause": remote.pause, "resume": remote.resume, "stop": remote.request_stop}[op]()
                if remote.last_refusal:
                    print(f"error: {remote.last_refusal}", file=sys.stderr)
                    return EXIT_WORKER_FAILED
                print(f"{op}: done", file=sys.stderr)
                if not args.follow:
                    return EXIT_OK
        last_line = 0.0
        while True:
            for entry in remote.log_records():
                if entry.levelno >= logging.WARNING or args.verbose:
                    sys.stderr.write(("\n" if tty else "") + entry.format() + "\n")
            now = time.monotonic()
            if tty:
                sys.stderr.write("\r" + _progress_line(remote) + "\033[K")
                sys.stderr.flush()
            elif now - last_line >= args.interval:
                sys.stderr.write(_progress_line(remote) + "\n")
                last_line = now
            if remote.finished():
                break
            time.sleep(0.25)
        sys.stderr.write(("\r" if tty else "") + _progress_line(remote) + ("\033[K\n" if tty else "\n"))
    except KeyboardInterrupt:
        sys.stderr.write("\ndetached (the served run goes on)\n")
    finally:
        remote.close()
    return EXIT_OK if remote.state == "finished" else EXIT_WORKER_FAILED


def _read_key(value: str | None) -> str | None:
    """``--key``: a control.key file or the key itself."""
    if not value:
        return None
    path = Path(value)
    return path.read_text().strip() if path.is_file() else value


def cmd_keys(args) -> int:
    from mimocorb_gui.core.remote.security import KeyProblem, make_keys

    try:
        public, secret = make_keys(args.directory)
    except KeyProblem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    print(f"public key (give it to the other side): {public}")
    print(f"secret key (keep it here):              {secret}")
    print(f"allowed public keys (of who may connect): {Path(args.directory) / 'allowed_keys'}")
    return EXIT_OK


def cmd_functions(args) -> int:
    from mimocorb_gui.core.loader import prebuilt_functions

    funcs = prebuilt_functions()
    width = max((len(n) for n in funcs), default=0)
    for name, summary in sorted(funcs.items()):
        print(f"{name:<{width}}  {summary}")
    return EXIT_OK


def cmd_convert_mimo(args) -> int:
    from mimocorb_gui.core.mimofile import MimoFormatError, convert_legacy

    if Path(args.new).exists():
        print(f"error: {args.new} exists; give a new file name", file=sys.stderr)
        return EXIT_SETUP
    try:
        n = convert_legacy(args.old, args.new)
    except (OSError, MimoFormatError) as exc:
        Path(args.new).unlink(missing_ok=True)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    print(f"{args.new}: {n} events")
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
    p.add_argument(
        "--stop-deadline",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds a worker may take to finish once it has nothing left to wait for; then it is "
        "terminated alone (default 30)",
    )
    p.add_argument(
        "--stall-threshold",
        type=float,
        default=10.0,
        metavar="S",
        help="report a worker that takes nothing from its full source buffer for this long (default 10)",
    )
    p.add_argument(
        "--serve",
        metavar="ADDR",
        help="serve stats, logs and samples to 'mimocorb attach' / File > Connect to Run (e.g. 5700 = "
        "tcp://127.0.0.1:5700; another interface needs --keys)",
    )
    p.add_argument(
        "--keys", metavar="DIR", help="CurveZMQ keys from 'mimocorb keys DIR' (non-loopback --serve)"
    )
    p = sub.add_parser("attach", help="watch a run served by 'mimocorb run --serve' (progress line, log)")
    p.add_argument("address", help="the served run's address (e.g. 5700 or tcp://host:5700)")
    p.add_argument(
        "--key", help="the run's control.key file (or the key): needed for --pause/--resume/--stop"
    )
    p.add_argument("--pause", action="store_true", help="pause the served run")
    p.add_argument("--resume", action="store_true", help="resume the served run")
    p.add_argument("--stop", action="store_true", help="stop the served run in order")
    p.add_argument("--follow", action="store_true", help="after --pause/--resume/--stop, keep watching")
    p.add_argument("--keys", metavar="DIR", help="this side's CurveZMQ keys (non-loopback address)")
    p.add_argument("--server-key", metavar="FILE", help="the served side's mimocorb.key (with --keys)")
    p.add_argument(
        "--interval", type=float, default=5.0, help="seconds between progress lines when not a tty"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print every log line, not only warnings")
    p = sub.add_parser("keys", help="make a CurveZMQ key pair for network links and served runs")
    p.add_argument("directory", help="where mimocorb.key, mimocorb.key_secret and allowed_keys go")
    p = sub.add_parser("check", help="validate a setup and print every problem")
    p.add_argument("setup", help="setup YAML file")
    sub.add_parser("clean", help="remove shared memory left behind by runs whose controller was killed")
    sub.add_parser("functions", help="list the prebuilt functions")
    sub.add_parser(
        "rp-emulator",
        help="emulate a Red Pitaya: its daq server (port 1001) and SCPI server (5000) on 127.0.0.1 "
        "(see 'mimocorb rp-emulator --help')",
    )
    sub.add_parser("install-desktop", help="install the desktop launcher and setup-file association")
    p = sub.add_parser(
        "convert-mimo", help="rewrite a .mimo file of mimoCoRB2 (pickle header) in this format"
    )
    p.add_argument("old", help="the .mimo file to read (mimoCoRB2's format or ours)")
    p.add_argument("new", help="the .mimo file to write (must not exist)")
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
    if args.command != "clean":
        clean_segments()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mimocorb.run").propagate = False  # the CLI prints run log entries itself
    handler = {
        "run": cmd_run,
        "check": cmd_check,
        "clean": cmd_clean,
        "functions": cmd_functions,
        "gui": cmd_gui,
        "attach": cmd_attach,
        "keys": cmd_keys,
        "convert-mimo": cmd_convert_mimo,
    }[args.command]
    return handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
