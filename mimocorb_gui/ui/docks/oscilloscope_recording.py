"""Recorded events in the oscilloscope dock: a finished run's .mimo recording of the buffer, stepped
first / previous / next / last or jumped to an event counter. A mixin of OscilloscopeDock; the file
access is run_access's."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QToolButton, QWidget

from mimocorb_gui.ui.docks.run_access import RecordedEvents, recordings

__all__ = ["RecordingPlayback"]


class RecordingPlayback:
    """Methods of OscilloscopeDock for a recording; ``_build_recording_bar`` adds the controls."""

    recording: RecordedEvents | None = None
    recording_index = 0

    def _build_recording_bar(self, parent: QWidget) -> QWidget:
        bar_widget = QWidget(parent)
        bar = QHBoxLayout(bar_widget)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(4)
        self.recording_label = QLabel("", bar_widget)
        bar.addWidget(self.recording_label)
        steps = (("rec_first", "|◀ First", lambda: self.show_recorded(0)),
                 ("rec_prev", "◀ Previous", lambda: self.show_recorded(self.recording_index - 1)),
                 ("rec_next", "Next ▶", lambda: self.show_recorded(self.recording_index + 1)),
                 ("rec_last", "Last ▶|", lambda: self.show_recorded(len(self.recording or ()) - 1)))  # fmt: skip
        for key, text, slot in steps:
            self.actions[key] = act = QAction(text, self)
            act.triggered.connect(slot)
            btn = QToolButton(bar_widget)
            btn.setDefaultAction(act)
            btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            bar.addWidget(btn)
        bar.addWidget(QLabel("Counter:"))
        self.counter_box = QSpinBox(bar_widget)
        self.counter_box.setRange(0, 2**31 - 1)
        self.counter_box.setToolTip("Event counter to jump to (the next recorded one if it is not there)")
        bar.addWidget(self.counter_box)
        self.actions["rec_jump"] = act = QAction("Jump", self)
        act.triggered.connect(lambda: self.jump_to_counter(self.counter_box.value()))
        btn = QToolButton(bar_widget)
        btn.setDefaultAction(act)
        bar.addWidget(btn)
        bar.addStretch(1)
        bar_widget.setVisible(False)
        self.recording_bar = bar_widget
        return bar_widget

    def open_run(self, run_dir) -> bool:
        """Show the run's recording of this dock's buffer; False (and why, on the plot) if it has none."""
        found = recordings(run_dir)
        path = found.get(self.buffer)
        if path is None:
            others = ", ".join(f"{b} ({p.name})" for b, p in found.items()) or "none"
            self.empty.show(
                f"Run {Path(run_dir).name} recorded no events of buffer '{self.buffer}' (recordings: {others})."
            )
            return False
        self.open_recording(path)
        return True

    def open_recording(self, path) -> None:
        self.close_recording()
        self.timer.stop()
        self._running = False
        self.recording = RecordedEvents(path)
        self.recording_bar.setVisible(True)
        self.setWindowTitle(f"Oscilloscope: {self.worker} ({self.buffer}) – {Path(path).name} (recorded)")
        if len(self.recording):
            self.show_recorded(0)
        else:
            self.empty.show(f"{Path(path).name} holds no complete event.")

    def show_recorded(self, index: int) -> None:
        rec = self.recording
        if rec is None or not len(rec):
            return
        self.recording_index = max(0, min(int(index), len(rec) - 1))
        meta, data = rec.event(self.recording_index)
        self.show_event(meta, data)
        counter = int(meta["counter"][0])
        self.counter_box.setValue(counter)
        self.recording_label.setText(f"event {self.recording_index + 1} of {len(rec)} · counter {counter}")
        self.status.setText(f"recorded events of {rec.path.parent.name}/{rec.path.name} (read-only)")
        self.actions["rec_prev"].setEnabled(self.recording_index > 0)
        self.actions["rec_first"].setEnabled(self.recording_index > 0)
        self.actions["rec_next"].setEnabled(self.recording_index < len(rec) - 1)
        self.actions["rec_last"].setEnabled(self.recording_index < len(rec) - 1)

    def jump_to_counter(self, counter: int) -> None:
        if self.recording is not None:
            self.show_recorded(self.recording.index_of_counter(int(counter)))

    def close_recording(self) -> None:
        if self.recording is not None:
            self.recording.close()
            self.recording = None
            self.recording_bar.setVisible(False)
            self.setWindowTitle(f"Oscilloscope: {self.worker} ({self.buffer})")
