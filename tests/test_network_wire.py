"""The wire format, the link sockets in one process, security checks, and a receiver under bad input."""

from __future__ import annotations

import json
import struct
import threading
import time

import numpy as np
import pytest
import zmq
from network_helpers import finish, ipc_address, received, start_run, write_receiver

from mimocorb_gui.core.remote import wire
from mimocorb_gui.core.remote.link import EventReceiver, EventSender
from mimocorb_gui.core.remote.security import (
    InsecureAddress,
    KeyProblem,
    KeyRefused,
    is_loopback,
    make_keys,
    normalize_address,
    secure_socket,
)
from mimocorb_gui.core.ringbuffer import METADATA_DTYPE

SMALL = np.dtype([("index", "<i8"), ("value", "<f8"), ("flag", "<i4")])


def _event(i: int, dtype=SMALL, length=1):
    meta = np.zeros(1, METADATA_DTYPE)
    meta[0] = (i, 1000.0 + i, 0.001 * i)
    data = np.zeros(length, dtype)
    data[dtype.names[0]][0] = i
    return meta, data


# ----- wire format ----------------------------------------------------------------------------


def test_header_layout_is_the_documented_one():
    header = wire.encode_header(wire.EVENT, 0x1122, 7, 42, 1.5, 0.25, 500, wire.dtype_text(SMALL))
    # read it back with the layout written in the module docstring, not with our decoder
    magic, version, kind = header[:4], *struct.unpack_from("<HB", header, 4)
    sender, seq, counter = struct.unpack_from("<QQq", header, 8)
    timestamp, deadtime = struct.unpack_from("<dd", header, 32)
    length, n_dtype = struct.unpack_from("<IH", header, 48)
    assert (magic, version, kind) == (b"MCRB", 1, 0)
    assert (sender, seq, counter, timestamp, deadtime, length) == (0x1122, 7, 42, 1.5, 0.25, 500)
    assert wire.HEADER.size == 60 and len(header) == 60 + n_dtype
    assert json.loads(header[60:]) == [["index", "<i8"], ["value", "<f8"], ["flag", "<i4"]]


def test_decode_round_trip_and_dtype_byte_order():
    meta, data = _event(3)
    header = wire.encode_header(wire.EVENT, 1, 0, 3, 1003.0, 0.003, 1, wire.dtype_text(SMALL))
    msg = wire.decode([header, meta.tobytes(), data.tobytes()])
    assert isinstance(msg, wire.Message) and msg.kind_name == "event"
    assert (msg.counter, msg.timestamp, msg.deadtime) == (3, 1003.0, 0.003)
    assert np.frombuffer(msg.data, SMALL)["index"][0] == 3
    big = SMALL.newbyteorder(">")
    assert wire.dtype_text(big) != wire.dtype_text(SMALL)  # byte order travels with the dtype
    assert wire.parse_dtype(wire.dtype_text(big)) == big


@pytest.mark.parametrize(
    ("frames", "reason"),
    [
        ([b"x"], "frames"),
        ([b"MCRB\x01", b"", b""], "truncated"),
        ([b"XXXX" + bytes(56), b"", b""], "magic"),
        ([struct.pack("<4sH", b"MCRB", 9) + bytes(54), b"", b""], "version"),
        ([struct.pack("<4sHB", b"MCRB", 1, 7) + bytes(53), b"", b""], "kind"),
    ],
)
def test_malformed_messages_are_named_not_raised(frames, reason):
    result = wire.decode(frames)
    assert isinstance(result, wire.Malformed) and result.reason == reason, result


def test_random_bytes_never_raise():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        n_frames = int(rng.integers(1, 5))
        frames = [rng.bytes(int(rng.integers(0, 200))) for _ in range(n_frames)]
        if rng.random() < 0.5:
            frames[0] = b"MCRB\x01\x00" + frames[0]
        assert isinstance(wire.decode(frames), wire.Message | wire.Malformed)


# ----- links in one process ----------------------------------------------------------------------


def _receive_all(receiver: EventReceiver, timeout: float = 20.0) -> list[int]:
    got, deadline = [], time.monotonic() + timeout
    while not receiver.ended and time.monotonic() < deadline:
        msg = receiver.poll(0.1)
        if msg is not None:
            got.append(int(np.frombuffer(msg.data, receiver.dtype)[receiver.dtype.names[0]][0]))
    return got


@pytest.mark.timeout(60)
def test_zero_copy_waveforms_are_sent_before_their_slot_is_released(tmp_path):
    wave = np.dtype([("ch1", "<f4"), ("ch2", "<f4"), ("ch3", "<f4"), ("ch4", "<f4")])
    address = ipc_address(tmp_path)
    receiver = EventReceiver(address, wave, 4250, heartbeat=0.5)
    released = []

    def send():
        sender = EventSender(address, wave, 4250, heartbeat=0.5)
        for i in range(300):
            meta, data = _event(i, wave, 4250)
            sender.send(meta, data, release=lambda i=i: released.append(i))
        assert sender.end(5.0)
        sender.close(1.0)

    t = threading.Thread(target=send)
    t.start()
    got = _receive_all(receiver)
    t.join(10)
    receiver.close()
    assert got == list(range(300))
    assert sorted(released) == list(range(300))  # every slot given back once


@pytest.mark.timeout(60)
def test_lossy_sender_never_blocks_and_both_ends_count_drops(tmp_path):
    address = ipc_address(tmp_path)
    receiver = EventReceiver(address, SMALL, 1, lossy=True, heartbeat=0.5)
    sender = EventSender(address, SMALL, 1, lossy=True, bind=False, heartbeat=0.5)
    time.sleep(0.3)  # PUB/SUB: the subscription must arrive first
    t0 = time.monotonic()
    for i in range(20_000):
        sender.send(*_event(i))  # nobody reads meanwhile: the queue fills, sends go on
    took = time.monotonic() - t0
    got = []
    t_end = time.monotonic() + 2.0
    while time.monotonic() < t_end:  # an idle sender beats: its sequence number tells what was lost
        sender.beat()
        msg = receiver.poll(0.05)
        if msg is not None:
            got.append(int(np.frombuffer(msg.data, SMALL)["index"][0]))
    ended = []
    t = threading.Thread(target=lambda: ended.append(sender.end(10.0)))
    t.start()
    got += _receive_all(receiver, 10.0)
    t.join(10)
    assert ended == [True]
    sender.close()
    receiver.close()
    # PUB drops when its own queue is full (counted by the sender), SUB when it is not read (counted
    # by the receiver from the gaps in the sequence numbers): together they are what did not arrive
    assert sender.sent + sender.dropped == 20_000
    assert got == sorted(got) and len(set(got)) == len(got)  # what arrives is in order, once
    lost = receiver.counts.lost_in_transit
    assert lost + sender.dropped > 0
    assert len(got) + lost + sender.dropped <= 20_000
    assert took < 30


# ----- security -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("tcp://127.0.0.1:5555", True),
        ("tcp://127.3.2.1:5555", True),
        ("tcp://[::1]:5555", True),
        ("tcp://localhost:5555", True),
        ("ipc:///tmp/x.ipc", True),
        ("tcp://0.0.0.0:5555", False),
        ("tcp://*:5555", False),
        ("tcp://192.168.1.20:5555", False),
        ("tcp://eth0:5555", False),
    ],
)
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


def test_bare_port_means_loopback_tcp():
    assert normalize_address(5600) == "tcp://127.0.0.1:5600"
    assert normalize_address("host:5600") == "tcp://host:5600"


def test_non_loopback_without_keys_is_refused_with_how_to_make_them():
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    try:
        with pytest.raises(InsecureAddress, match="mimocorb keys DIR"):
            secure_socket(sock, "tcp://0.0.0.0:5555", bind=True, where="worker 'receive'")
    finally:
        sock.close(0)
        ctx.term()


def test_setup_check_refuses_a_non_loopback_link_before_anything_starts(tmp_path):
    from mimocorb_gui.core.setup import Setup

    path = write_receiver(tmp_path, "tcp://0.0.0.0:5600")
    problems = [p for p in Setup.load(path).validate() if p.severity == "error"]
    assert any("not a loopback address" in str(p) and "mimocorb keys" in str(p) for p in problems), problems


@pytest.mark.timeout(60)
def test_curve_keys_admit_listed_clients_only(tmp_path):
    server, client, stranger = tmp_path / "server", tmp_path / "client", tmp_path / "stranger"
    for d in (server, client, stranger):
        make_keys(d)
    with pytest.raises(KeyProblem, match="exists already"):
        make_keys(server)
    key_line = next(
        line for line in (client / "mimocorb.key").read_text().splitlines() if "public-key" in line
    )
    (server / "allowed_keys").write_text(key_line.split("=", 1)[1].strip().strip('"') + "\n")
    address = ipc_address(tmp_path)
    receiver = EventReceiver(address, SMALL, 1, senders=1, heartbeat=0.5, keys=server)

    def send(keys):
        sender = EventSender(address, SMALL, 1, heartbeat=0.5, keys=keys, server_key=server / "mimocorb.key")
        for i in range(5):
            sender.send(*_event(i))
        ok = sender.end(2.0)
        sender.close()
        return ok

    # not allowed, or the wrong server key: a clear error, whether the refusal comes before the first
    # send or while the first events are queued (more than the queue holds: a send would block)
    for keys, server_key, says in (
        (stranger, server, "refused this side's key"),
        (client, client, "failed the CurveZMQ handshake"),
    ):
        sender = EventSender(
            address, SMALL, 1, heartbeat=0.5, keys=keys, server_key=server_key / "mimocorb.key"
        )
        try:
            with pytest.raises(
                KeyRefused, match=f"{says}: its allowed_keys must list this side's public key"
            ):
                for i in range(100):
                    sender.send(*_event(i))
        finally:
            sender.close()
    assert receiver.poll(0.5) is None and receiver.counts.events == 0
    t = threading.Thread(target=send, args=(client,))
    t.start()
    got = _receive_all(receiver)
    t.join(10)
    receiver.close()
    assert got == list(range(5))


# ----- a receiving run under bad input ------------------------------------------------------------


@pytest.mark.timeout(120)
def test_wrong_dtype_truncated_frame_and_random_bytes_are_counted_logged_and_the_run_goes_on(tmp_path):
    address = ipc_address(tmp_path)
    run = start_run(write_receiver(tmp_path / "b", address))
    # garbage first, then real events, all over one connection: they arrive in this order
    sender = EventSender(address, SMALL, 1, heartbeat=0.5)
    raw = sender.sock
    time.sleep(1.0)
    other = np.dtype([("index", "<f4")])
    meta, _ = _event(0)
    raw.send_multipart(
        [
            wire.encode_header(wire.EVENT, 9, 0, 0, 0.0, 0.0, 1, wire.dtype_text(other)),
            meta.tobytes(),
            bytes(4),
        ]
    )
    good_header = wire.encode_header(wire.EVENT, 8, 0, 0, 0.0, 0.0, 1, wire.dtype_text(SMALL))
    raw.send_multipart([good_header[:30], meta.tobytes(), bytes(SMALL.itemsize)])  # truncated header
    rng = np.random.default_rng(7)
    for _ in range(1000):
        raw.send_multipart([rng.bytes(int(rng.integers(1, 300)))])
    for i in range(100):  # the run has gone on and takes these
        sender.send(*_event(i))
    assert sender.end(30.0)
    sender.close()
    rc, log = finish(run, 60)
    assert rc == 0, log[-3000:]
    metadata, _ = received(tmp_path / "b")
    np.testing.assert_array_equal(metadata["counter"], np.arange(100))
    summary = next(line for line in log.splitlines() if "messages dropped:" in line)
    assert "frames: 1000" in summary and "mismatch: 1" in summary and "truncated: 1" in summary
    assert "does not fit the sink (dtype {index: <i8, value: <f8, flag: <i4}" in log
    assert "stream of dtype {index: <f4}" in log  # the error names both dtypes
    run_log = next((tmp_path / "b" / "runs").glob("run_*/run.log")).read_text()
    assert run_log.count("message dropped (frames") == 10 + 10  # the first ten one by one, then every 100th
