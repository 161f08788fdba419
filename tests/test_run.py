"""Runs built from setups: integrity, stop in order, crashed workers, shared memory released, CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import shm_segments
from waiting import wait_until

from mimocorb_gui.core.ringbuffer import segment_prefix
from mimocorb_gui.core.run import Run, SetupInvalid
from mimocorb_gui.core.setup import Setup

WORKERS = Path(__file__).parent / "data" / "workers" / "pipeline.py"


def make_setup(
    tmp_path: Path, n_events=300, filter_config=None, source_config=None, filter_processes=3
) -> Path:
    shutil.copy(WORKERS, tmp_path / "pipeline.py")
    source = {"n_events": n_events, **(source_config or {})}
    text = textwrap.dedent(
        f"""\
        # test pipeline: source -> {filter_processes}-process filter -> recorder
        Buffers:
          Input:
            slot_count: 16
            data_length: 8
            data_dtype: {{x: float64, y: int32}}
          Accepted:
            slot_count: 16
            data_length: 8
            data_dtype: {{x: float64, y: int32}}
        Workers:
          source:
            file: pipeline.py
            function: counting_source
            config: {source!r}
            sinks: [Input]
          filter:
            file: pipeline.py
            function: pass_all
            config: {filter_config or {}!r}
            number_of_processes: {filter_processes}
            sources: [Input]
            sinks: [Accepted]
          recorder:
            file: pipeline.py
            function: record_counters
            sources: [Accepted]
        target_directory: runs
        """
    )
    path = tmp_path / "setup.yaml"
    path.write_text(text)
    return path


def recorded(run_dir: Path) -> list[int]:
    return [int(x) for x in (run_dir / "recorder_0.txt").read_text().split()]


@pytest.mark.timeout(90)
def test_every_event_arrives_once_and_memory_is_released(tmp_path, start_method, no_shm_leak):
    setup = Setup.load(make_setup(tmp_path, n_events=500))
    with Run(setup, start_method=start_method) as run:
        run_dir = run.start()
        assert run.wait(60), "run did not finish"
        assert run.state == "finished"
        stats = run.stats()
    assert len(no_shm_leak) == 2  # both buffers were created here, and the fixture checks they are gone
    assert sorted(recorded(run_dir)) == list(range(500))
    assert stats.buffers["Accepted"].stats.events_written == 500
    assert stats.buffers["Input"].root and not stats.buffers["Accepted"].root
    assert stats.workers["filter"].processes == 3 and stats.workers["filter"].exitcodes == [0, 0, 0]
    assert run_dir.parent == tmp_path / "runs" and run_dir.name.startswith("run_")
    assert (run_dir / "setup.yaml").exists() and (run_dir / "run.log").exists()
    assert Setup.load(run_dir / "setup.yaml").buffers.keys() == setup.buffers.keys()
    from mimocorb_gui.core.analysis import read_run_times

    times = read_run_times(run_dir)  # for the live time of spectra of a reopened run
    assert 0 < times.real <= stats.time + 1 and 0 <= times.dead <= times.real


@pytest.mark.timeout(90)
def test_stop_ends_in_order_and_keeps_files_complete(tmp_path, no_shm_leak):
    setup = Setup.load(make_setup(tmp_path, n_events=-1, source_config={"sleep": 0.001}))
    with Run(setup) as run:
        run_dir = run.start()
        wait_until(lambda: run.stats().buffers["Accepted"].stats.events_written >= 50, timeout=30)
        assert run.stop(timeout=20), "stop did not end in order"
        assert run.state == "finished"
        written = run.stats().buffers["Input"].stats.events_written
    counters = recorded(run_dir)
    assert sorted(counters) == list(range(written))  # nothing lost between the stages


@pytest.mark.timeout(90)
def test_pause_drops_and_counts_then_resume_continues(tmp_path, no_shm_leak):
    setup = Setup.load(make_setup(tmp_path, n_events=-1, source_config={"sleep": 0.002}))
    with Run(setup) as run:
        run.start()
        wait_until(lambda: run.stats().buffers["Input"].stats.events_written > 0, timeout=30)
        run.pause()
        assert run.state == "paused"
        s = wait_until(lambda: (s := run.stats().buffers["Input"].stats).dropped_paused > 0 and s, timeout=10)
        assert s.state == "paused"
        written = s.events_written
        time.sleep(0.3)  # a while paused on purpose: nothing may be stored in it
        assert run.stats().buffers["Input"].stats.events_written == written  # nothing stored while paused
        run.resume()
        wait_until(lambda: run.stats().buffers["Input"].stats.events_written > written, timeout=10)
        assert run.stop(20)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_failing_worker_ends_the_run_with_its_error_logged(tmp_path, how, no_shm_leak):
    key = "fail_at" if how == "raises" else "die_at"
    setup = Setup.load(
        make_setup(tmp_path, n_events=-1, filter_config={key: 50}, source_config={"sleep": 0.001})
    )
    with Run(setup) as run:
        run_dir = run.start()
        t0 = time.monotonic()
        assert run.wait(30), "run did not end after a worker failed"
        assert time.monotonic() - t0 < 30
        assert run.state == "failed" and run.failed_workers == ["filter"]
    log = (run_dir / "run.log").read_text()
    if how == "raises":
        assert "[filter]" in log and "ValueError: cannot handle event 50" in log and "Traceback" in log
    else:
        assert "worker 'filter' process" in log and "exit code 3" in log
    counters = recorded(run_dir)  # the recorder's file is complete: every line a whole number
    assert len(counters) == len(set(counters))


def test_setup_errors_prevent_the_start(tmp_path):
    path = make_setup(tmp_path)
    path.write_text(path.read_text().replace("sinks: [Accepted]", "sinks: [Acepted]"))
    with pytest.raises(SetupInvalid) as exc:
        Run(Setup.load(path))
    assert "Workers.filter.sinks[0]" in str(exc.value) and "Accepted" in str(exc.value)
    assert not (tmp_path / "runs").exists()


# ----- the CLI ------------------------------------------------------------------------------


def mimocorb(*args, cwd=None, timeout=90):
    """Run the CLI; the result also tells which shared-memory segments of that process remain."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mimocorb_gui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    out, err = proc.communicate(timeout=timeout)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    result.leftover_segments = shm_segments(segment_prefix(proc.pid))
    return result


@pytest.mark.timeout(120)
def test_cli_run_succeeds_and_fails_with_the_right_exit_code(tmp_path):
    ok = mimocorb("run", str(make_setup(tmp_path, n_events=200)))
    assert ok.returncode == 0, ok.stderr
    assert "finished" in ok.stderr and "Input:" in ok.stderr
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = mimocorb("run", str(make_setup(bad_dir, n_events=-1, filter_config={"fail_at": 20})))
    assert bad.returncode == 1
    assert "ValueError: cannot handle event 20" in bad.stderr and "filter" in bad.stderr
    assert ok.leftover_segments == set() and bad.leftover_segments == set()


@pytest.mark.timeout(120)
def test_cli_time_limit_stops_in_order(tmp_path):
    t0 = time.monotonic()
    res = mimocorb(
        "run", str(make_setup(tmp_path, n_events=-1, source_config={"sleep": 0.001})), "--time", "1.5"
    )
    assert res.returncode == 0, res.stderr
    assert "measurement time" in res.stderr
    assert time.monotonic() - t0 < 60
    run_dir = next((tmp_path / "runs").iterdir())
    assert len(recorded(run_dir)) > 0


def test_cli_check_reports_every_problem_with_its_place(tmp_path):
    path = make_setup(tmp_path)
    path.write_text(
        path.read_text()
        .replace("sinks: [Accepted]", "sinks: [Acepted]")
        .replace("slot_count: 16", "slot_count: 0", 1)
    )
    res = mimocorb("check", str(path))
    assert res.returncode == 2
    assert "setup.yaml: Workers.filter.sinks[0]: buffer 'Acepted' is not defined" in res.stdout
    assert "Buffers.Input.slot_count" in res.stdout


def test_core_and_functions_never_import_qt():
    lint = Path(sys.executable).parent / "lint-imports"
    res = subprocess.run(
        [str(lint)], capture_output=True, text=True, cwd=Path(__file__).parent.parent, timeout=120
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "KEPT" in res.stdout and "BROKEN" not in res.stdout


def test_function_config_checks_run_before_the_start(tmp_path):
    """Prebuilt functions check their config against their buffers in `mimocorb check` already."""
    path = tmp_path / "setup.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            Buffers:
              Pulses: {slot_count: 8, data_length: 100, data_dtype: {ch1: float32}}
              Heights: {slot_count: 8, data_length: 1, data_dtype: {peak_heights: float32}}
            Workers:
              source:
                function: simulators.gamma_pulses
                config: {number_of_events: 10}
                sinks: [Pulses]
              scope:
                function: observers.oscilloscope
                config: {channels: [ch2]}
                observes: [Pulses]
              pha:
                function: analyzers.pha
                config: {height: 0.1}
                sources: [Pulses]
                sinks: [Heights]
              spectrum:
                function: exporters.histogram
                config: {bins: {peak_height: [0, 1, 100]}}
                sources: [Heights]
            """
        )
    )
    errors = [str(p) for p in Setup.load(path).errors()]
    assert any("Workers.scope.config" in e and "ch2" in e and "ch1" in e for e in errors), errors
    assert any(
        "Workers.spectrum.config" in e and "peak_height" in e and "peak_heights" in e for e in errors
    ), errors
    with pytest.raises(SetupInvalid):
        Run(Setup.load(path))


@pytest.mark.timeout(60)
def test_observing_workers_run_at_idle_priority(tmp_path):
    """A process that only observes gets CPU time the data path does not want (SCHED_IDLE on Linux)."""
    import os

    shutil.copy(WORKERS, tmp_path / "pipeline.py")
    (tmp_path / "probe.py").write_text(
        textwrap.dedent(
            """\
            import os
            def report_policy(io):
                io.logger.info("policy %d", os.sched_getscheduler(0))
            """
        )
    )
    (tmp_path / "setup.yaml").write_text(
        textwrap.dedent(
            """\
            Buffers:
              Input: {slot_count: 4, data_length: 1, data_dtype: {x: float64}}
            Workers:
              source: {file: pipeline.py, function: counting_source, config: {n_events: 5}, sinks: [Input]}
              sink: {file: pipeline.py, function: record_counters, sources: [Input]}
              watcher: {file: probe.py, function: report_policy, observes: [Input]}
              feeder: {file: probe.py, function: report_policy, sources: [Input]}
            """
        )
    )
    with Run(Setup.load(tmp_path / "setup.yaml")) as run:
        run.start()
        assert run.wait(30)
        log = run.log_history()
    policies = {e.worker: e.message for e in log if e.message.startswith("policy")}
    assert policies["watcher"] == f"policy {os.SCHED_IDLE}"
    assert policies["feeder"] == f"policy {os.SCHED_OTHER}"


def test_documented_required_config_keys_are_reported(tmp_path):
    path = tmp_path / "setup.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            Buffers:
              Input: {slot_count: 4, data_length: 1, data_dtype: {x: float64}}
            Workers:
              source: {function: data.clocked_importer, config: {distribution: poisson}, sinks: [Input]}
              sink: {function: exporters.drain, sources: [Input]}
            """
        )
    )
    found = [str(p) for p in Setup.load(path).validate() if p.location == "Workers.source.config"]
    assert any("'rate' is required by data.clocked_importer and not set" in p for p in found), found
    assert any("'filename' is required by data.clocked_importer" in p for p in found), found


def test_file_importers_check_their_recording_before_the_start(tmp_path):
    import numpy as np

    from mimocorb_gui.core.mimofile import MimoWriter

    with MimoWriter(tmp_path / "rec.mimo", np.dtype([("x", "f8")]), 4) as w:
        w.write((0, 0.0, 0.0), np.zeros(4, [("x", "f8")]))
    (tmp_path / "not_mimo.mimo").write_text("hello")
    path = tmp_path / "setup.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            Buffers:
              A: {slot_count: 4, data_length: 4, data_dtype: {x: float64}}
              B: {slot_count: 4, data_length: 8, data_dtype: {y: float64}}
              C: {slot_count: 4, data_length: 4, data_dtype: {x: float64}}
            Workers:
              fits: {function: data.simulate_importer, config: {filename: rec.mimo}, sinks: [A]}
              misfit: {function: data.clocked_importer, config: {filename: rec.mimo, rate: 5}, sinks: [B]}
              missing: {function: data.simulate_importer, config: {filename: gone.mimo}, sinks: [C]}
              garbage: {function: data.simulate_importer, config: {filename: not_mimo.mimo}, sinks: [C]}
              drain_a: {function: exporters.drain, sources: [A]}
              drain_b: {function: exporters.drain, sources: [B]}
              drain_c: {function: exporters.drain, sources: [C]}
            """
        )
    )
    errors: dict[str, str] = {}
    for p in Setup.load(path).errors():
        errors[p.location] = errors.get(p.location, "") + p.message + "\n"
    assert "Workers.fits.config" not in errors, errors
    assert "data_length 4, sink 'B' has 8" in errors["Workers.misfit.config"]
    assert "fields x; sink 'B' has y" in errors["Workers.misfit.config"]
    assert "gone.mimo does not exist" in errors["Workers.missing.config"]
    assert "Workers.garbage.config" in errors
