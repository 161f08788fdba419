"""Who may talk to a socket: loopback by default, CurveZMQ keys for any other interface.

- An address on a loopback interface (``127.x.x.x``, ``::1``, ``localhost``) or an ``ipc://`` path
  needs nothing. Any other interface (``tcp://0.0.0.0:5555``, ``tcp://192.168.1.20:5555``, ``*``)
  requires a keys directory made by ``mimocorb keys DIR``; without one the socket is refused with
  ``InsecureAddress`` saying how to make keys.
- A keys directory holds this side's pair ``mimocorb.key`` (public, give it to the other side)
  and ``mimocorb.key_secret`` (keep it), and ``allowed_keys``: the public keys (Z85 text, one per
  line, ``#`` starts a comment line) of the machines allowed to connect to a socket this side binds.
- The binding side is the CurveZMQ server (a ZAP authenticator admits only the allowed keys); the
  connecting side is a client and must know the server's public key (``server_key``).
- A connecting side the server refuses would otherwise wait for a peer forever: ``HandshakeWatch``
  (a ZeroMQ socket monitor) sees the failed handshake and raises ``KeyRefused`` saying what to fix.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import zmq
import zmq.auth

__all__ = [
    "HandshakeWatch",
    "InsecureAddress",
    "KeyProblem",
    "KeyRefused",
    "is_loopback",
    "make_keys",
    "normalize_address",
    "read_allowed_keys",
    "secure_socket",
]

PUBLIC_FILE, SECRET_FILE, ALLOWED_FILE = "mimocorb.key", "mimocorb.key_secret", "allowed_keys"


class InsecureAddress(ValueError):
    """A non-loopback address without CurveZMQ keys."""


class KeyProblem(ValueError):
    """A keys directory or key file is missing or unreadable."""


class KeyRefused(ConnectionError):
    """The binding side refused this side's CurveZMQ handshake (its key is not allowed, or a wrong server_key)."""


def normalize_address(address: str | int) -> str:
    """``5555`` or ``host:5555`` -> ``tcp://127.0.0.1:5555`` / ``tcp://host:5555``; others unchanged."""
    text = str(address).strip()
    if text.isdigit():
        return f"tcp://127.0.0.1:{text}"
    if "://" not in text:
        return f"tcp://{text}"
    return text


def _host(address: str) -> str | None:
    scheme, _, rest = address.partition("://")
    if scheme in ("ipc", "inproc"):
        return None
    host = rest.rsplit(":", 1)[0] if ":" in rest else rest
    return host.strip("[]")


def is_loopback(address: str) -> bool:
    """True for ipc:// and inproc:// paths and for tcp:// on a loopback interface."""
    host = _host(address)
    if host is None:
        return True
    if host == "localhost":
        return True
    if ";" in host:  # zmq's "tcp://interface;peer" form: judge the peer
        host = host.split(";")[-1]
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # '*', an interface name or a host name: may reach other machines


def make_keys(directory: Path | str) -> tuple[Path, Path]:
    """Create ``mimocorb.key`` / ``mimocorb.key_secret`` and an empty ``allowed_keys`` in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    secret = directory / SECRET_FILE
    if secret.exists():
        raise KeyProblem(f"{secret} exists already; remove it first to make a new pair")
    pub_tmp, sec_tmp = zmq.auth.create_certificates(str(directory), "mimocorb")
    os.chmod(sec_tmp, 0o600)
    allowed = directory / ALLOWED_FILE
    if not allowed.exists():
        allowed.write_text(
            "# public keys (the key line of another side's mimocorb.key) allowed to connect, one per line\n"
        )
    return Path(pub_tmp), Path(sec_tmp)


def _public_key_of(path: Path) -> bytes:
    try:
        public, _ = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise KeyProblem(f"cannot read a public key from {path}: {exc}") from None
    return public


def read_allowed_keys(path: Path | str) -> list[bytes]:
    """The Z85 public keys listed in an ``allowed_keys`` file (blank lines and ``#`` comment lines skipped)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise KeyProblem(f"cannot read allowed keys {path}: {exc}") from None
    keys = []
    for n, line in enumerate(lines, 1):
        text = line.strip()
        is_key = len(text) == 40 and " " not in text  # '#' is a Z85 character: a key may start with it
        if text.startswith("#") and not is_key:
            continue
        if text.startswith("public-key"):
            text = text.split("=", 1)[1].strip().strip('"')
        if not text:
            continue
        if len(text) != 40:
            raise KeyProblem(f"{path}:{n}: not a Z85 public key (40 characters): {text[:50]!r}")
        keys.append(text.encode())
    return keys


def secure_socket(
    sock: zmq.Socket,
    address: str,
    bind: bool,
    keys: Path | str | None = None,
    server_key: Path | str | None = None,
    where: str = "",
):
    """Configure CurveZMQ on ``sock`` if ``keys`` is given; refuse a non-loopback address without keys.

    Returns the ZAP authenticator started for a binding side with keys (``stop()`` it before the
    context is terminated), else None.
    """
    prefix = f"{where}: " if where else ""
    if keys is None:
        if not is_loopback(address):
            raise InsecureAddress(
                f"{prefix}{address} is not a loopback address: other machines could connect. Make keys "
                f"with 'mimocorb keys DIR' on both machines, list the other side's public key (DIR/{PUBLIC_FILE}) "
                f"in DIR/{ALLOWED_FILE} of the binding side, and give 'keys: DIR' (and on the connecting side "
                f"'server_key: FILE', the binding side's {PUBLIC_FILE}); or use tcp://127.0.0.1:PORT"
            )
        return
    directory = Path(keys)
    secret_file = directory / SECRET_FILE
    if not secret_file.is_file():
        raise KeyProblem(
            f"{prefix}no {SECRET_FILE} in {directory}: make a pair with 'mimocorb keys {directory}'"
        )
    try:
        public, secret = zmq.auth.load_certificate(str(secret_file))
    except (OSError, ValueError) as exc:
        raise KeyProblem(f"{prefix}cannot read {secret_file}: {exc}") from None
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    if bind:
        allowed = read_allowed_keys(directory / ALLOWED_FILE)
        if not allowed:
            raise KeyProblem(
                f"{prefix}{directory / ALLOWED_FILE} lists no public key: nobody could connect. Add the "
                f"connecting side's {PUBLIC_FILE} key line"
            )
        auth = _start_authenticator(sock.context, allowed)
        sock.curve_server = True
        return auth
    else:
        if server_key is None:
            raise KeyProblem(
                f"{prefix}a connecting side with keys needs 'server_key' (the binding side's {PUBLIC_FILE})"
            )
        sock.curve_serverkey = _public_key_of(Path(server_key))
        return None


def _start_authenticator(context: zmq.Context, allowed: list[bytes]):
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve_callback(domain="*", credentials_provider=_Allowed(allowed))
    return auth


class _Allowed:
    """ZAP credentials check: the client's public key is in the allowed list."""

    def __init__(self, keys: list[bytes]) -> None:
        self.keys = set(keys)

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self.keys  # pyzmq passes the Z85 text of the client's key


_HANDSHAKE_FAILED = {
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "refused this side's key",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "failed the CurveZMQ handshake",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "failed the CurveZMQ handshake",
}


class HandshakeWatch:
    """The handshakes of a connecting CurveZMQ socket, through a socket monitor (``check`` never blocks).

    ``close()`` before the socket's context is terminated (the monitor is a socket of that context).
    """

    def __init__(
        self, sock: zmq.Socket, address: str, keys: Path | str, server_key: Path | str | None
    ) -> None:
        events = 0
        for event in _HANDSHAKE_FAILED:
            events |= event
        self._sock = sock
        self._monitor = sock.get_monitor_socket(events)
        self.address, self.keys, self.server_key = address, Path(keys), server_key

    def check(self) -> None:
        """Raise ``KeyRefused`` if a handshake with the other side failed since the last check."""
        from zmq.utils.monitor import recv_monitor_message

        while True:
            try:
                event = recv_monitor_message(self._monitor, zmq.NOBLOCK)
            except zmq.Again:
                return
            what = _HANDSHAKE_FAILED.get(event["event"])
            if what is not None:
                raise KeyRefused(
                    f"{self.address} {what}: its {ALLOWED_FILE} must list this side's public key (the key line of "
                    f"{self.keys / PUBLIC_FILE}), and server_key ({self.server_key}) must be its {PUBLIC_FILE}"
                )

    def close(self) -> None:
        try:
            self._sock.disable_monitor()
        except zmq.ZMQError:
            pass
        self._monitor.close(linger=0)
