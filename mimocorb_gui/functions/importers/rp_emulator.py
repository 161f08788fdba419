"""The Red Pitaya emulator: both servers of an emulated board on loopback, for tests and demos without hardware.

One job per module: ``rp_signal`` (what the inputs carry), ``rp_daq_board`` / ``rp_scpi_board``
(the board as each server sees it), ``rp_daq_server`` (the lab boards' MCPHA + daq server, port
1001) and ``rp_scpi_server`` (the vendor's SCPI server, port 5000). This module starts them
together and is the ``mimocorb rp-emulator`` command::

    mimocorb rp-emulator                      # daq on 1001 (10001 without the right to bind it), SCPI on 5000
    mimocorb rp-emulator --daq-port 0 --scpi-port 0 --seed 1 --rate 2000

In tests::

    with DaqServer(rate=2000, seed=1) as daq:     # or ScpiServer (= EmulatorServer)
        ... daq.port ...
"""

from __future__ import annotations

import argparse
import errno
import logging
import time
from collections.abc import Sequence

from mimocorb_gui.functions.importers.rp_daq_server import DaqServer
from mimocorb_gui.functions.importers.rp_scpi_server import ScpiServer
from mimocorb_gui.functions.importers.rp_signal import BUFFER_SIZE, SignalModel

__all__ = [
    "BUFFER_SIZE",
    "DAQ_PORT",
    "DaqServer",
    "EmulatorServer",
    "SCPI_PORT",
    "ScpiServer",
    "SignalModel",
    "main",
]

EmulatorServer = ScpiServer  # the name tests and scripts used before the daq server existed

DAQ_PORT = 1001  # as the board
DAQ_PORT_UNPRIVILEGED = 10001  # when ports below 1024 are not ours to bind
SCPI_PORT = 5000
HOST = "127.0.0.1"


def _start_daq(port: int | None, **kw) -> tuple[DaqServer, str | None]:
    """The daq server on ``port``; on the board's 1001 without the right to bind it, 10001 and a message."""
    if port is not None:
        return DaqServer(HOST, port, **kw).start(), None
    try:
        return DaqServer(HOST, DAQ_PORT, **kw).start(), None
    except PermissionError:
        pass
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EPERM):
            raise
    server = DaqServer(HOST, DAQ_PORT_UNPRIVILEGED, **kw).start()
    note = (
        f"port {DAQ_PORT} (the board's) needs privileges here: the daq server listens on "
        f"{DAQ_PORT_UNPRIVILEGED} instead - use 'port: {DAQ_PORT_UNPRIVILEGED}' in the importer's config"
    )
    return server, note


def main(argv: Sequence[str] | None = None) -> int:
    """``mimocorb rp-emulator [--daq-port N] [--scpi-port N]``: serve an emulated Red Pitaya until Ctrl-C."""
    p = argparse.ArgumentParser(
        prog="mimocorb rp-emulator",
        description=(
            "Emulate a Red Pitaya on 127.0.0.1: the lab boards' MCPHA/daq server (port 1001, or 10001 "
            "without the right to bind ports below 1024) and the SCPI server (port 5000), "
            "with Cs-137 pulses on IN1/IN2."
        ),
    )
    p.add_argument("--daq-port", type=int, default=None, help="daq server port (default 1001, else 10001)")
    p.add_argument("--scpi-port", type=int, default=SCPI_PORT, help="SCPI server port (default 5000)")
    p.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)  # the old name of --scpi-port
    p.add_argument("--no-daq", action="store_true", help="serve SCPI only")
    p.add_argument("--no-scpi", action="store_true", help="serve the daq protocol only")
    p.add_argument(
        "--rate", type=float, default=1000.0, help="pulses per second on each input (default 1000)"
    )
    p.add_argument("--rate2", type=float, default=None, help="pulses per second on IN2 (default: --rate)")
    p.add_argument("--negative", action="store_true", help="negative pulses (like a PMT anode)")
    p.add_argument("--noise", type=float, default=3.0, help="noise rms in SCPI ADC counts (default 3)")
    p.add_argument("--counts-per-kev", type=float, default=7.0, help="pulse height scale (default 7/keV)")
    p.add_argument("--seed", type=int, default=None, help="random seed")
    p.add_argument("--stall-after", type=int, default=None, help="stop answering after N captures/traces")
    p.add_argument("--close-after", type=int, default=None, help="close the connection after N captures")
    p.add_argument(
        "--replay", action="store_true", help="benchmarks: the daq server resends its first trace at once"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every connection and SCPI error")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    pol = -1 if args.negative else 1
    model = SignalModel(
        rate=(args.rate, args.rate if args.rate2 is None else args.rate2),
        polarity=(pol, pol),
        noise=args.noise,
        counts_per_kev=args.counts_per_kev,
    )
    servers: list = []
    try:
        if not args.no_daq:
            daq, note = _start_daq(
                args.daq_port, model=model, seed=args.seed, stall_after=args.stall_after, replay=args.replay
            )
            servers.append(daq)
            if note:
                print(f"rp-emulator: {note}", flush=True)
            print(f"Red Pitaya daq server (MCPHA, mimoCoRB2's protocol) on {HOST}:{daq.port}", flush=True)
        if not args.no_scpi:
            port = args.port if args.port is not None else args.scpi_port
            scpi = ScpiServer(
                HOST,
                port,
                model=model,
                seed=args.seed,
                stall_after=args.stall_after,
                close_after=args.close_after,
            ).start()
            servers.append(scpi)
            print(f"Red Pitaya SCPI server on {HOST}:{scpi.port}", flush=True)
    except OSError as e:
        print(f"rp-emulator: cannot listen on {HOST}: {e}")
        for s in servers:
            s.stop()
        return 1
    print("(Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        for s in servers:
            s.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
