"""A served run's histograms for viewers elsewhere: compact answers, throttled reads, the counts of the files."""

from __future__ import annotations

import time
import zlib

import numpy as np
import pytest
from network_helpers import finish, ipc_address
from test_remote import serve_simple

from mimocorb_gui.core import histfeed
from mimocorb_gui.core.livehist import read_histograms
from mimocorb_gui.core.remote.client import RemoteRun
from mimocorb_gui.core.remote.histograms import (
    HistogramPublisher,
    RemoteHistograms,
    decode_histograms,
    encode_histograms,
)
from mimocorb_gui.core.remote.source import HistogramSource


def _spectrum(rng, n_bins: int = 4096, events: int = 20_000) -> np.ndarray:
    values = np.concatenate([rng.normal(2300, 30, events // 2), rng.exponential(800, events // 2)])
    return np.histogram(values, bins=n_bins, range=(0, n_bins))[0].astype(np.int64)


def test_full_and_difference_answers_give_back_numpys_counts():
    rng = np.random.default_rng(1)
    edges = np.linspace(-0.5, 4095.5, 4097)
    first = _spectrum(rng)
    later = first + _spectrum(rng, events=40)  # a fraction of a second later: few bins changed
    odd_edges = np.array([0.0, 1.0, 3.0, 7.0])  # not evenly spaced: sent as they are
    state1 = {"IN1": (edges, first, int(first.sum()) + 5), "w": (odd_edges, np.array([1, 2, 3]), 6)}
    state2 = {"IN1": (edges, later, int(later.sum()) + 5), "w": (odd_edges, np.array([1, 2, 4]), 7)}

    head, frames = encode_histograms(state1, 1)
    assert head["base"] is None and head["channels"][0]["edges"] == [-0.5, 4095.5]
    got = decode_histograms(head, frames, None)
    for ch, (e, c, total) in state1.items():
        assert np.array_equal(got[ch][0], e) and np.array_equal(got[ch][1], c) and got[ch][2] == total

    head2, frames2 = encode_histograms(state2, 2, state1, 1)
    assert head2["base"] == 1
    got2 = decode_histograms(head2, frames2, got)
    assert np.array_equal(got2["IN1"][1], later) and np.array_equal(got2["w"][1], [1, 2, 4])
    assert got2["w"][2] == 7
    full2 = sum(map(len, encode_histograms(state2, 2)[1]))
    delta2 = sum(map(len, frames2))
    assert delta2 < full2 / 5  # differences compress far better than full counts
    assert delta2 < 4096 * 8 / 20  # and are a small part of the raw int64 counts


def test_malformed_answers_raise_value_errors_saying_why():
    counts = np.arange(10, dtype=np.int64)
    head, frames = encode_histograms({"a": (np.linspace(0, 1, 11), counts, 45)}, 1)
    with pytest.raises(ValueError, match="does not hold 10 counts"):
        decode_histograms(head, [zlib.compress(counts[:5].tobytes())], None)
    with pytest.raises(ValueError, match="'a'"):
        decode_histograms(head, [b"not zlib"], None)
    bomb = zlib.compress(bytes(80_000_000))  # 80 MB of zeros in a few kB: never inflated past 10 counts
    with pytest.raises(ValueError, match="does not hold 10 counts"):
        decode_histograms(head, [bomb], None)
    with pytest.raises(ValueError, match="do not match"):
        decode_histograms(head, [], None)
    with pytest.raises(ValueError, match="does not hold"):
        decode_histograms(head | {"base": 3}, frames, None)
    with pytest.raises(ValueError, match="bins"):
        decode_histograms(
            head | {"channels": [{"name": "a", "total": 1, "bins": -1, "edges": None}]}, frames, None
        )


class _CountingFeed:
    """A feed whose counts the test sets; counts its reads."""

    kind = "test"

    def __init__(self) -> None:
        self.counts = np.zeros(8, dtype=np.int64)
        self.reads = 0

    def read(self):
        self.reads += 1
        return {"x": (np.linspace(0, 8, 9), self.counts.copy(), int(self.counts.sum()))}

    def close(self) -> None:
        pass


def test_publisher_reads_at_most_every_interval_and_answers_only_changes():
    feed, ended = _CountingFeed(), [False]
    pub = HistogramPublisher(feed, lambda: ended[0], min_interval=0.3)
    head, frames = pub.answer(0)
    assert head["changed"] and head["version"] == 1 and feed.reads == 1
    feed.counts[3] = 5
    for _ in range(20):  # many viewers within the interval: one read, the old state
        assert pub.answer(1) == ({"changed": False, "version": 1}, [])
    assert feed.reads == 1
    time.sleep(0.35)
    head, frames = pub.answer(1)
    assert head["version"] == 2 and head["base"] == 1 and feed.reads == 2

    def request(body, frames):  # RemoteRun.request, without the network
        head, rest = pub.answer(body["version"])
        return {"ok": True, **head}, rest

    viewer = RemoteHistograms(request, "b")
    assert viewer.read()["x"][1][3] == 5 and viewer.version == 2  # a new viewer: full counts
    feed.counts[4] = 1
    ended[0] = True  # the run ended: the final counts are read at once, then never again
    assert viewer.read()["x"][1][4] == 1
    reads = feed.reads
    feed.counts[5] = 9
    assert viewer.read()["x"][1][5] == 0 and feed.reads == reads
    viewer.close()
    assert viewer.read()["x"][1][4] == 1  # closed: the last counts, no request


@pytest.mark.timeout(120)
def test_a_viewer_elsewhere_gets_the_served_runs_histograms_equal_to_its_files(tmp_path, monkeypatch):
    """`mimocorb run setups/simple --serve ipc://...`; the viewer never reads a run directory itself."""

    def no_local_files(self):
        raise AssertionError(f"the viewer read histogram files in {self.run_dir}")

    monkeypatch.setattr(histfeed.HistogramFeed, "read", no_local_files)
    served = tmp_path / "served"
    viewer_dir = tmp_path / "viewer"
    viewer_dir.mkdir()
    monkeypatch.chdir(viewer_dir)
    proc, address = serve_simple(served, "--serve", ipc_address(tmp_path, "serve"), "--time", "4")
    try:
        remote = RemoteRun(address)
        assert remote.histogram_buffers == {"Pulses"}
        feed = remote.histograms("Pulses")
        assert isinstance(feed, HistogramSource) and feed.kind == "remote"
        seen = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            data = feed.read()
            if data and data["peak_heights"][2] > 0:
                seen = seen or data["peak_heights"][2]
            if remote.stats().state in ("finished", "failed"):
                break
            time.sleep(0.2)
        assert remote.state == "finished"
        final = feed.read()  # the first read after the end: the final counts
        feed.close()
        remote.close()
        rc, err = finish(proc, 30)
        assert rc == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert seen, "no counts arrived while the run ran"
    assert not list(viewer_dir.iterdir())  # the viewer wrote nothing into its own directory
    (run_dir,) = served.glob("run_*")
    files = read_histograms(run_dir, "Pulses")
    assert set(final) == set(files) == {"peak_heights", "widths"}
    for ch, (edges, counts) in files.items():
        assert np.array_equal(final[ch][0], edges) and np.array_equal(final[ch][1], counts), ch
    assert final["peak_heights"][2] >= seen
