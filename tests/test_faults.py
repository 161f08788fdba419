"""Faults in a running measurement (issue 16): hung, quitting, stalling and crashing workers,
SIGBUS, the end-of-run account, simultaneous starts. Each case is a small pipeline
source -> filter -> recorder built in the test's temporary folder."""

from __future__ import annotations

import re
import shutil
import textwrap
import threading
import time
from pathlib import Path

import pytest

from mimocorb_gui.core import run as run_module
from mimocorb_gui.core.run import Run, StartError
from mimocorb_gui.core.setup import Setup

DATA = Path(__file__).parent / "data" / "workers"


def fault_setup(
    tmp_path: Path,
    filter_function="pass_all",
    filter_config=None,
    filter_processes=1,
    n_events=-1,
    sleep=0.001,
    extra_workers="",
) -> Setup:
    for name in ("pipeline.py", "faults.py"):
        shutil.copy(DATA / name, tmp_path / name)
    filter_file = "pipeline.py" if filter_function == "pass_all" else "faults.py"
    text = textwrap.dedent(
        f"""\
        Buffers:
          Input: {{slot_count: 16, data_length: 8, data_dtype: {{x: float64, y: int32}}}}
          Accepted: {{slot_count: 16, data_length: 8, data_dtype: {{x: float64, y: int32}}}}
        Workers:
          source:
            file: pipeline.py
            function: counting_source
            config: {{n_events: {n_events}, sleep: {sleep}}}
            sinks: [Input]
          filter:
            file: {filter_file}
            function: {filter_function}
            config: {filter_config or {}!r}
            number_of_processes: {filter_processes}
            sources: [Input]
            sinks: [Accepted]
          recorder:
            file: pipeline.py
            function: record_counters
            sources: [Accepted]
        """
    )
    text += textwrap.indent(textwrap.dedent(extra_workers), "  ")
    text += "target_directory: runs\n"
    path = tmp_path / "setup.yaml"
    path.write_text(text)
    return Setup.load(path)


def recorded(run_dir: Path) -> list[int]:
    return [int(x) for x in (run_dir / "recorder_0.txt").read_text().split()]


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("how", "processes"), [("loop", 1), ("sigstop", 2)])
def test_a_hung_worker_is_named_and_terminated_alone_and_the_rest_drains(
    tmp_path, how, processes, no_shm_leak
):
    setup = fault_setup(
        tmp_path,
        "hanging_filter",
        {"hang_at": 30, "hang_process": processes - 1, "how": how},
        filter_processes=processes,
    )
    with Run(setup, stop_deadline=1.5) as run:
        run_dir = run.start()
        assert wait_for(lambda: run.stats().buffers["Input"].stats.events_written > 40, 30)
        t0 = time.monotonic()
        run.request_stop()
        assert run.wait(30), "the run did not end although the hung worker has a deadline"
        took = time.monotonic() - t0
        codes = run.stats().workers
    log = (run_dir / "run.log").read_text()
    assert re.search(
        rf"worker 'filter' process {processes - 1} has not finished after \d+ s: terminating it", log
    )
    assert run.failed_workers == ["filter"]  # the healthy ones are not reported as failed
    assert codes["source"].exitcodes == [0] and codes["recorder"].exitcodes == [0]
    assert took < 1.5 * 3 + 10
    counters = recorded(run_dir)  # the recorder closed its file: whole lines, no duplicates
    assert len(counters) == len(set(counters)) and counters


@pytest.mark.timeout(90)
def test_a_stalled_reader_is_reported_while_the_run_goes_on(tmp_path, no_shm_leak):
    setup = fault_setup(tmp_path, "slow_filter", {"pause_at": 20, "pause": 2.5}, n_events=200, sleep=0.0)
    with Run(setup, stall_threshold=1.0) as run:
        run_dir = run.start()
        assert run.wait(60)
        assert run.state == "finished"
    log = (run_dir / "run.log").read_text()
    assert "worker 'filter' has taken no event from buffer 'Input' for 1 s while it is full (16 slots)" in log
    assert sorted(recorded(run_dir)) == list(range(200))


@pytest.mark.timeout(90)
def test_a_worker_that_ends_with_exit_code_0_before_its_source_is_a_failure(tmp_path, no_shm_leak):
    setup = fault_setup(tmp_path, "quitting_filter", {"quit_at": 40})
    with Run(setup) as run:
        run_dir = run.start()
        assert run.wait(30)
        assert run.state == "failed" and run.failed_workers == ["filter"]
        assert run.stats().workers["filter"].exitcodes == [0]
    log = (run_dir / "run.log").read_text()
    m = re.search(
        r"worker 'filter' process 0 ended while its source\(s\) 'Input' \((\d+) events not yet read\)", log
    )
    assert m, log
    assert int(m.group(1)) >= 1  # at least the event it was handling when it quit


@pytest.mark.timeout(90)
def test_a_crashing_display_does_not_stop_the_acquisition(tmp_path, no_shm_leak):
    display = """\
        display:
          file: faults.py
          function: crashing_display
          observes: [Accepted]
        """
    setup = fault_setup(tmp_path, n_events=400, sleep=0.002, extra_workers=display)
    with Run(setup) as run:
        run_dir = run.start()
        assert run.wait(60)
        assert run.state == "finished"
        assert run.failed_displays == ["display"] and run.failed_workers == []
    assert sorted(recorded(run_dir)) == list(range(400))
    log = (run_dir / "run.log").read_text()
    assert (
        "display worker 'display' process 0 failed (exit code 1); the acquisition goes on without it" in log
    )


@pytest.mark.timeout(60)
def test_sigbus_in_a_worker_is_reported_as_shared_memory_exhausted(tmp_path, no_shm_leak):
    setup = fault_setup(tmp_path, "bus_error")
    with Run(setup) as run:
        run_dir = run.start()
        assert run.wait(30)
        assert run.failed_workers == ["filter"]
    log = (run_dir / "run.log").read_text()
    assert "worker 'filter' process 0 was killed by SIGBUS (exit code -7): shared memory exhausted" in log


@pytest.mark.timeout(120)
def test_normal_runs_end_with_an_account_and_no_false_alarm(tmp_path, no_shm_leak):
    for i in range(3):
        folder = tmp_path / str(i)
        folder.mkdir()
        setup = fault_setup(folder, n_events=300, sleep=0.0, filter_processes=3)
        with Run(setup) as run:
            run_dir = run.start()
            assert run.wait(60) and run.state == "finished"
            account = run.account()
        log = (run_dir / "run.log").read_text()
        assert "no reader left" not in log
        assert account == [
            "buffer 'Input': 300 written, 300 read, 0 dropped while paused, 0 dropped without reader",
            "buffer 'Accepted': 300 written, 300 read, 0 dropped while paused, 0 dropped without reader",
        ]
        assert all(line in log for line in account)


@pytest.mark.timeout(90)
def test_a_failing_filter_counts_the_events_it_discards(tmp_path, no_shm_leak):
    setup = fault_setup(tmp_path, "pass_all", {"fail_at": 50}, sleep=0.002)
    with Run(setup) as run:
        run_dir = run.start()
        assert run.wait(30)
        written = run.stats().buffers["Input"].stats.events_written
    log = (run_dir / "run.log").read_text()
    m = re.search(
        r"worker 'filter' \(process 0\): (\d+) event\(s\) left in its sources were discarded unread", log
    )
    assert m, log
    assert int(m.group(1)) == written - 51  # events 0..50 were taken by the filter itself


def test_runs_starting_in_the_same_second_get_their_own_directories(tmp_path):
    setup = fault_setup(tmp_path)
    runs = [Run(setup, run_root=tmp_path / "runs") for _ in range(8)]
    barrier = threading.Barrier(len(runs))
    made, errors = [], []

    def make(run):
        barrier.wait()
        try:
            for _ in range(10):
                made.append(run._make_run_dir())
        except OSError as exc:  # pragma: no cover - the failure this test looks for
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(r,)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(made)) == 80 and all(p.is_dir() for p in made)


def test_a_setup_that_does_not_fit_in_shared_memory_is_refused_before_anything_starts(tmp_path, monkeypatch):
    setup = fault_setup(tmp_path)
    monkeypatch.setattr(run_module, "free_memory", lambda: (10_000, 10**12))
    run = Run(setup)
    with pytest.raises(
        StartError, match=r"the buffers need .* of shared memory, but only 9.8 kB of free shared"
    ):
        run.start()
    assert not (tmp_path / "runs").exists() and run.buffers == {}


@pytest.mark.timeout(90)
def test_hurry_the_second_ctrl_c_terminates_only_the_overdue_worker(tmp_path, no_shm_leak):
    setup = fault_setup(tmp_path, "hanging_filter", {"hang_at": 30, "how": "loop"})
    with Run(setup) as run:  # default deadline (30 s): without hurry the stop would wait for it
        run_dir = run.start()
        assert wait_for(lambda: run.stats().buffers["Input"].stats.events_written > 40, 30)
        run.request_stop()
        # before the deadline the log names the one worker the stop is waiting for, once
        named = "waiting for worker 'filter' process 0 to end"
        assert wait_for(lambda: any(named in e.message for e in run.log_history()), 15)
        time.sleep(0.3)
        assert [e.message for e in run.log_history() if "waiting for worker" in e.message] == [
            next(e.message for e in run.log_history() if named in e.message)
        ]
        t0 = time.monotonic()
        run.hurry()
        assert run.wait(20)
        assert time.monotonic() - t0 < 15
        workers = run.stats().workers
    assert run.failed_workers == ["filter"]
    assert workers["recorder"].exitcodes == [0] and workers["source"].exitcodes == [0]
    assert recorded(run_dir)
