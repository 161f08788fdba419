"""ui/run_controller.py directly: the QObject around a Run (signals, states, pause, measurement time)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from mimocorb_gui.core.setup import Setup
from mimocorb_gui.ui.run_controller import RunController, SetupInvalid

PIPELINE = Path(__file__).parent / "data" / "workers" / "pipeline.py"
WAIT_MS = 60_000
pytestmark = pytest.mark.timeout(180)


def _setup(tmp_path: Path, n_events: int = -1, sinks: str = "[Input]") -> Setup:
    shutil.copy(PIPELINE, tmp_path / "pipeline.py")
    (tmp_path / "setup.yaml").write_text(
        textwrap.dedent(
            f"""\
            Buffers:
              Input: {{slot_count: 8, data_length: 4, data_dtype: {{x: float64, y: int32}}}}
            Workers:
              source:
                file: pipeline.py
                function: counting_source
                config: {{n_events: {n_events}, sleep: 0.002}}
                sinks: {sinks}
              recorder:
                file: pipeline.py
                function: record_counters
                sources: [Input]
            """
        )
    )
    return Setup.load(tmp_path / "setup.yaml")


@pytest.fixture
def controller(qtbot, tmp_path):
    c = RunController(start_method="fork", poll_ms=50)
    c.run_root = tmp_path / "runs"
    yield c
    c.shutdown(timeout=10)


def test_without_a_setup_nothing_starts_and_there_is_nothing_to_observe(controller):
    assert controller.state == "ready" and not controller.busy and controller.run is None
    with pytest.raises(RuntimeError, match="no setup is open"):
        controller.start()
    assert controller.observer("Input") is None
    controller.pause()  # no run: ignored
    controller.stop()
    assert controller.state == "ready"


def test_an_invalid_setup_raises_before_anything_starts(controller, tmp_path):
    controller.set_setup(_setup(tmp_path, sinks="[Nowhere]"))
    with pytest.raises(SetupInvalid, match="Nowhere"):
        controller.start()
    assert controller.state == "ready" and not (tmp_path / "runs").exists()


def test_start_pause_resume_stop_in_order_with_signals(qtbot, controller, tmp_path):
    controller.set_setup(_setup(tmp_path))
    states, finished = [], []
    controller.state_changed.connect(states.append)
    controller.run_finished.connect(lambda state, run_dir: finished.append((state, run_dir)))
    with qtbot.waitSignal(controller.run_started, timeout=WAIT_MS) as started:
        run_dir = controller.start()
    assert started.args == [run_dir] and controller.busy and controller.run_dir == run_dir
    with pytest.raises(RuntimeError, match="already"):
        controller.start()
    with pytest.raises(RuntimeError, match="in progress"):
        controller.set_setup(_setup(tmp_path / ".." / tmp_path.name))
    qtbot.waitUntil(
        lambda: controller.last_stats is not None and controller.last_stats.total_events > 0, timeout=WAIT_MS
    )
    assert controller.observer("Input") is not None
    controller.pause()
    assert controller.state == "paused"
    live = controller.live_time()
    qtbot.wait(300)
    assert controller.live_time() == pytest.approx(live, abs=0.05)  # paused time does not count
    controller.resume()
    assert controller.state == "running"
    controller.stop()
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT_MS)
    assert finished == [("finished", run_dir)] and controller.run is None and not controller.busy
    assert states[:3] == ["running", "paused", "running"] and states[-1] == "finished"
    assert (run_dir / "run.log").is_file()


def test_a_measurement_time_stops_the_run_by_itself(qtbot, controller, tmp_path):
    controller.set_setup(_setup(tmp_path))
    countdown = []
    controller.countdown_changed.connect(countdown.append)
    controller.start(duration=1.0)
    assert controller.duration == 1.0 and 0 < controller.remaining() <= 1.0
    with qtbot.waitSignal(controller.run_finished, timeout=WAIT_MS) as done:
        pass
    assert done.args[0] == "finished"
    assert countdown[0] == pytest.approx(1.0, abs=0.2) and min(countdown) == 0.0
    assert "measurement time of 00:00:01 reached" in (done.args[1] / "run.log").read_text()


def test_a_finite_run_ends_by_itself_and_reports_its_final_stats(qtbot, controller, tmp_path):
    controller.set_setup(_setup(tmp_path, n_events=50))
    stats = []
    controller.stats_updated.connect(stats.append)
    with qtbot.waitSignal(controller.run_finished, timeout=WAIT_MS) as done:
        controller.start()
    assert done.args[0] == "finished"
    assert stats and stats[-1].buffers["Input"].stats.events_written == 50
