"""Property panel of the selected node: buffer size and dtype fields, worker function and config.

Every change goes through the editor's editing methods, so each is one undo step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mimocorb_gui.core.setup import DTYPE_EXAMPLES, to_plain
from mimocorb_gui.core.yaml_values import format_value, parse_value

ORIGIN_ROLE = Qt.ItemDataRole.UserRole + 1
EDIT_ROLE = Qt.ItemDataRole.UserRole + 2
GREY = QColor("#7a828a")


class _DtypeDelegate(QStyledItemDelegate):
    """An editable combo of common numpy dtypes for the dtype column."""

    def createEditor(self, parent, option, index):
        combo = QComboBox(parent)
        combo.setEditable(True)
        combo.addItems(list(DTYPE_EXAMPLES))
        return combo

    def setEditorData(self, editor, index):
        editor.setCurrentText(index.data() or "")

    def setModelData(self, editor, model, index):
        model.setData(index, editor.currentText().strip())


class _ConfigValueDelegate(QStyledItemDelegate):
    """Edits the value the setup itself holds; an empty text removes it (back to file or default)."""

    def __init__(self, panel: PropertyPanel) -> None:
        super().__init__(panel)
        self.panel = panel

    def createEditor(self, parent, option, index):
        if not index.data(ORIGIN_ROLE):
            return None
        editor = QLineEdit(parent)
        editor.setPlaceholderText("empty: use the file's value or the default")
        return editor

    def setEditorData(self, editor, index):
        editor.setText(index.data(EDIT_ROLE) or "")

    def setModelData(self, editor, model, index):
        key = index.data(ORIGIN_ROLE)
        text = editor.text()
        if key and text != (index.data(EDIT_ROLE) or ""):
            self.panel.set_config_value(key, text)


def _title(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.1)
    label.setFont(font)
    return label


def _wrap_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    return label


class PropertyPanel(QWidget):
    """Shows and edits the selected node (``show_node((kind, name))``), or the setup when none."""

    def __init__(self, editor) -> None:
        super().__init__(editor)
        self.editor = editor
        self.key: tuple[str, str] | None = None
        self._filling = False
        self._refresh_pending = False
        self.stack = QStackedWidget(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.stack)
        self.setMinimumWidth(260)
        self._build_setup_page()
        self._build_buffer_page()
        self._build_worker_page()

    # ------------------------------------------------------------------ pages

    def _build_setup_page(self) -> None:
        page = QWidget()
        v = QVBoxLayout(page)
        self.setup_title = _title("Setup")
        v.addWidget(self.setup_title)
        form = QFormLayout()
        self.target_edit = QLineEdit()
        self.target_edit.setPlaceholderText("runs (relative to the setup file)")
        self.target_edit.editingFinished.connect(self._commit_target)
        form.addRow("target_directory", self.target_edit)
        v.addLayout(form)
        self.setup_info = _wrap_label()
        v.addWidget(self.setup_info)
        hint = _wrap_label(
            "<span style='color:#66707a'>Drag functions and <b>Buffer</b> from the palette onto the canvas. "
            "Drag from a node's port (circle) to another node to connect. Select a node to edit it here.</span>"
        )
        v.addWidget(hint)
        v.addStretch(1)
        self.setup_page = page
        self.stack.addWidget(page)

    def _build_buffer_page(self) -> None:
        page = QWidget()
        v = QVBoxLayout(page)
        v.addWidget(_title("Buffer"))
        form = QFormLayout()
        self.buffer_name = QLineEdit()
        self.buffer_name.editingFinished.connect(lambda: self._commit_name(self.buffer_name))
        self.slot_count = QSpinBox()
        self.slot_count.setRange(1, 1_000_000)
        self.slot_count.setKeyboardTracking(False)
        self.slot_count.valueChanged.connect(lambda v: self._commit_buffer("slot_count", v))
        self.data_length = QSpinBox()
        self.data_length.setRange(1, 100_000_000)
        self.data_length.setKeyboardTracking(False)
        self.data_length.valueChanged.connect(lambda v: self._commit_buffer("data_length", v))
        form.addRow("name", self.buffer_name)
        form.addRow("slot_count", self.slot_count)
        form.addRow("data_length", self.data_length)
        v.addLayout(form)
        v.addWidget(QLabel("data_dtype (one row per field)"))
        self.dtype_table = QTableWidget(0, 2)
        self.dtype_table.setHorizontalHeaderLabels(["field", "dtype"])
        self.dtype_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.dtype_table.verticalHeader().setVisible(False)
        self.dtype_table.setItemDelegateForColumn(1, _DtypeDelegate(self.dtype_table))
        self.dtype_table.itemChanged.connect(self._commit_dtype)
        v.addWidget(self.dtype_table, 1)
        row = QHBoxLayout()
        self.add_field_button = QPushButton("Add field")
        self.add_field_button.clicked.connect(self._add_field)
        self.remove_field_button = QPushButton("Remove field")
        self.remove_field_button.clicked.connect(self._remove_field)
        row.addWidget(self.add_field_button)
        row.addWidget(self.remove_field_button)
        row.addStretch(1)
        v.addLayout(row)
        self.buffer_info = _wrap_label()
        v.addWidget(self.buffer_info)
        self.buffer_page = page
        self.stack.addWidget(page)

    def _build_worker_page(self) -> None:
        page = QWidget()
        v = QVBoxLayout(page)
        v.addWidget(_title("Worker"))
        form = QFormLayout()
        self.worker_name = QLineEdit()
        self.worker_name.editingFinished.connect(lambda: self._commit_name(self.worker_name))
        self.function_combo = QComboBox()
        self.function_combo.setEditable(True)
        self.function_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.function_combo.activated.connect(lambda _i: self._commit_function())
        self.function_combo.lineEdit().editingFinished.connect(self._commit_function)
        file_row = QHBoxLayout()
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("(prebuilt function)")
        self.file_edit.editingFinished.connect(self._commit_file)
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose a python file")
        browse.clicked.connect(self._browse_file)
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(browse)
        self.processes = QSpinBox()
        self.processes.setRange(1, 256)
        self.processes.setKeyboardTracking(False)
        self.processes.valueChanged.connect(lambda n: self._commit_worker("number_of_processes", n))
        form.addRow("name", self.worker_name)
        form.addRow("function", self.function_combo)
        form.addRow("file", file_row)
        form.addRow("processes", self.processes)
        v.addLayout(form)
        self.function_info = _wrap_label()
        v.addWidget(self.function_info)
        v.addWidget(QLabel("config"))
        self.config_table = QTableWidget(0, 2)
        self.config_table.setHorizontalHeaderLabels(["key", "value"])
        header = self.config_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.config_table.verticalHeader().setVisible(False)
        self.config_table.verticalHeader().setDefaultSectionSize(24)
        self.config_table.setWordWrap(False)
        self.config_table.setItemDelegateForColumn(1, _ConfigValueDelegate(self))
        self.config_table.itemChanged.connect(self._commit_config_item)
        self.config_table.currentCellChanged.connect(lambda row, *_: self._show_config_help(row))
        v.addWidget(self.config_table, 1)
        self.config_help = _wrap_label()
        self.config_help.setMinimumHeight(30)
        v.addWidget(self.config_help)
        self.config_files = _wrap_label()
        v.addWidget(self.config_files)
        self.worker_page = page
        self.stack.addWidget(page)

    # ------------------------------------------------------------------ showing

    def show_node(self, key: tuple[str, str] | None) -> None:
        self.key = tuple(key) if key is not None else None
        self._refresh_now()

    def refresh(self) -> None:
        """Re-read the model (deferred: edits may come from inside this panel's own signals)."""
        if not self._refresh_pending:
            self._refresh_pending = True
            QTimer.singleShot(0, self._refresh_now)

    def _refresh_now(self) -> None:
        self._refresh_pending = False
        setup = self.editor.setup
        if setup is None:
            self.stack.setCurrentWidget(self.setup_page)
            self.setup_title.setText("No setup")
            return
        if self.key is not None:
            names = setup.buffer_names if self.key[0] == "buffer" else setup.worker_names
            if self.key[1] not in names:
                self.key = None
        self._filling = True
        try:
            if self.key is None:
                self._fill_setup(setup)
            elif self.key[0] == "buffer":
                self._fill_buffer(setup, self.key[1])
            else:
                self._fill_worker(setup, self.key[1])
        finally:
            self._filling = False

    def _fill_setup(self, setup) -> None:
        self.stack.setCurrentWidget(self.setup_page)
        self.setup_title.setText(f"Setup {setup.name}")
        raw = setup.document.get("target_directory")
        self.target_edit.setText(str(raw) if isinstance(raw, str) else "")
        self.setup_info.setText(
            f"<span style='color:#66707a'>{setup.path}<br>{len(setup.buffer_names)} buffers, "
            f"{len(setup.worker_names)} workers<br>runs go to {setup.target_directory}</span>"
        )

    def _fill_buffer(self, setup, name: str) -> None:
        self.stack.setCurrentWidget(self.buffer_page)
        spec = setup.buffers[name]
        self.buffer_name.setText(name)
        self.slot_count.setValue(spec.slot_count if isinstance(spec.slot_count, int) else 1)
        self.data_length.setValue(spec.data_length if isinstance(spec.data_length, int) else 1)
        self.dtype_table.blockSignals(True)
        self.dtype_table.setRowCount(0)
        for field, dt in spec.data_dtype.items():
            row = self.dtype_table.rowCount()
            self.dtype_table.insertRow(row)
            self.dtype_table.setItem(row, 0, QTableWidgetItem(str(field)))
            self.dtype_table.setItem(row, 1, QTableWidgetItem(str(dt)))
        self.dtype_table.blockSignals(False)
        size = (
            f"{spec.dtype.itemsize * (spec.data_length or 0)} bytes per event"
            if spec.dtype is not None
            else ""
        )
        users = []
        for wname, w in setup.workers.items():
            for role, verb in (("sinks", "written by"), ("sources", "read by"), ("observes", "observed by")):
                if name in getattr(w, role):
                    users.append(f"{verb} {wname}")
        self.buffer_info.setText(f"<span style='color:#66707a'>{size}<br>{'; '.join(users)}</span>")

    def _function_doc(self, setup, spec):
        return self.editor.scene.function_doc(spec)

    def _fill_worker(self, setup, name: str) -> None:
        from mimocorb_gui.core import loader

        self.stack.setCurrentWidget(self.worker_page)
        spec = setup.workers[name]
        self.worker_name.setText(name)
        self.file_edit.setText(spec.file or "")
        self.processes.setValue(spec.number_of_processes if isinstance(spec.number_of_processes, int) else 1)
        self.function_combo.blockSignals(True)
        self.function_combo.clear()
        try:
            choices = loader.available_functions(spec.file, setup.setup_dir)
        except Exception:
            choices = []
        self.function_combo.addItems(choices)
        self.function_combo.setCurrentText(spec.function)
        self.function_combo.blockSignals(False)
        doc = self._function_doc(setup, spec)
        if doc is not None:
            parts = [f"<b>{doc.type or 'function'}</b>: {_esc(doc.summary)}"]
            for role in ("sources", "sinks", "observes"):
                text = getattr(doc, role)
                if text:
                    short = text if len(text) <= 90 else text[:88].rsplit(" ", 1)[0] + " …"
                    parts.append(f"<i>{role}</i>: {_esc(short)}")
            self.function_info.setText("<span style='color:#3b4350'>" + "<br>".join(parts) + "</span>")
            tip = [f"<b>{_esc(spec.function)}</b>: {_esc(doc.summary)}", _esc(doc.description)]
            tip += [
                f"<i>{r}</i>: {_esc(getattr(doc, r))}"
                for r in ("sources", "sinks", "observes")
                if getattr(doc, r)
            ]
            self.function_info.setToolTip("<br>".join(t for t in tip if t))
        else:
            self.function_info.setText(
                "<span style='color:#b71c1c'>function not found</span>" if spec.function else ""
            )
            self.function_info.setToolTip("")
        self._fill_config(setup, name, spec, doc)

    def _fill_config(self, setup, name: str, spec, doc) -> None:
        origins = setup.config_origins(name)
        inline = setup.inline_config(name)
        keys = list(origins)
        documented = {c.key: c for c in (doc.configs if doc is not None else [])}
        for k in documented:
            if k not in keys:
                keys.append(k)
        table = self.config_table
        table.blockSignals(True)
        table.setRowCount(0)
        self._config_rows: list[dict] = []
        italic = QFont()
        italic.setItalic(True)
        for key in keys:
            row = table.rowCount()
            table.insertRow(row)
            c = documented.get(key)
            key_item = QTableWidgetItem(key)
            key_item.setFlags(key_item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            if c is None:
                key_item.setForeground(QBrush(GREY))
            required = c is not None and c.default is None and key not in origins
            if required:
                key_item.setForeground(QBrush(QColor("#b71c1c")))
            if key in inline:
                shown, edit, how = format_value(inline[key]), format_value(inline[key]), "set in the setup"
            elif key in origins:
                value = format_value(spec.config.get(key))
                shown, edit, how = value, value, f"from {origins[key]}"
            elif c is not None and c.default is not None:
                shown, edit, how = c.default, "", "the function's default"
            else:
                shown, edit, how = ("required" if required else ""), "", "not set"
            value_item = QTableWidgetItem(shown)
            value_item.setData(ORIGIN_ROLE, key)
            value_item.setData(EDIT_ROLE, edit)
            if key not in inline:
                value_item.setForeground(QBrush(QColor("#b71c1c") if required else GREY))
                if key not in origins:
                    value_item.setFont(italic)
            help_text = f"<b>{_esc(key)}</b>"
            if c is not None:
                kind = c.type + (
                    f", optional (default {c.default})" if c.default is not None else ", required"
                )
                help_text += f" <span style='color:#66707a'>({_esc(kind)})</span>"
                if c.description:
                    help_text += f"<br>{_esc(c.description)}"
            else:
                help_text += " <span style='color:#66707a'>(not documented by the function)</span>"
            help_text += f"<br><span style='color:#66707a'>value: {_esc(how)}</span>"
            for item in (key_item, value_item):
                item.setToolTip(help_text)
            table.setItem(row, 0, key_item)
            table.setItem(row, 1, value_item)
            self._config_rows.append({"key": key, "help": help_text})
        # the last row adds a key
        row = table.rowCount()
        table.insertRow(row)
        new_key = QTableWidgetItem("")
        new_key.setData(ORIGIN_ROLE, "__new__")
        new_key.setToolTip("type a new config key here")
        table.setItem(row, 0, new_key)
        hint = QTableWidgetItem("← new key")
        hint.setFlags(hint.flags() & ~Qt.ItemFlag.ItemIsEditable)
        hint.setForeground(QBrush(GREY))
        hint.setFont(italic)
        table.setItem(row, 1, hint)
        self._config_rows.append({"key": None, "help": "Type a key in the left cell to add it."})
        table.blockSignals(False)
        self._show_config_help(table.currentRow())
        files = []
        for path in spec.config_files:
            try:
                files.append(Path(path).relative_to(setup.setup_dir).as_posix())
            except ValueError:
                files.append(str(path))
        self.config_files.setText(
            "<span style='color:#66707a'>loads config from: " + ", ".join(_esc(f) for f in files) + "</span>"
            if files
            else "<span style='color:#66707a'>no config files</span>"
        )

    def _show_config_help(self, row: int) -> None:
        rows = getattr(self, "_config_rows", [])
        if 0 <= row < len(rows):
            self.config_help.setText(rows[row]["help"])
        else:
            self.config_help.setText(
                "<span style='color:#66707a'>black: set in the setup · grey: from a config file or "
                "base_config · <i>italic</i>: the function's default</span>"
            )

    # ------------------------------------------------------------------ committing

    def _commit_target(self) -> None:
        if self._filling or self.editor.setup is None:
            return
        text = self.target_edit.text().strip()
        raw = self.editor.setup.document.get("target_directory")
        if (text or None) != (str(raw) if isinstance(raw, str) else None):
            self.editor.set_setup_field("target_directory", text or None)

    def _commit_name(self, edit: QLineEdit) -> None:
        if self._filling or self.key is None:
            return
        new = edit.text().strip()
        if new and new != self.key[1]:
            kind = self.key[0]
            if self.editor.rename_node(kind, self.key[1], new):
                self.key = (kind, new)
            else:
                edit.setText(self.key[1])

    def _commit_buffer(self, key: str, value: Any) -> None:
        if self._filling or self.key is None or self.key[0] != "buffer":
            return
        if getattr(self.editor.setup.buffers[self.key[1]], key) != value:
            self.editor.set_buffer_field(self.key[1], key, value)

    def _commit_dtype(self, _item=None) -> None:
        if self._filling or self.key is None or self.key[0] != "buffer":
            return
        fields: dict[str, str] = {}
        for row in range(self.dtype_table.rowCount()):
            f = self.dtype_table.item(row, 0)
            d = self.dtype_table.item(row, 1)
            fname = f.text().strip() if f is not None else ""
            dt = d.text().strip() if d is not None else ""
            if fname:
                fields[fname] = dt or "float32"
        if fields and fields != self.editor.setup.buffers[self.key[1]].data_dtype:
            self.editor.set_buffer_field(self.key[1], "data_dtype", fields)
        else:
            self.refresh()

    def _add_field(self) -> None:
        if self.key is None or self.key[0] != "buffer":
            return
        fields = dict(self.editor.setup.buffers[self.key[1]].data_dtype)
        i = len(fields) + 1
        while f"field{i}" in fields:
            i += 1
        fields[f"field{i}"] = "float32"
        self.editor.set_buffer_field(self.key[1], "data_dtype", fields)

    def _remove_field(self) -> None:
        if self.key is None or self.key[0] != "buffer":
            return
        row = self.dtype_table.currentRow()
        fields = dict(self.editor.setup.buffers[self.key[1]].data_dtype)
        if row < 0 or len(fields) <= 1:
            return
        name = self.dtype_table.item(row, 0).text()
        fields.pop(name, None)
        self.editor.set_buffer_field(self.key[1], "data_dtype", fields)

    def _commit_worker(self, key: str, value: Any) -> None:
        if self._filling or self.key is None or self.key[0] != "worker":
            return
        if getattr(self.editor.setup.workers[self.key[1]], key) != value:
            self.editor.set_worker_field(self.key[1], key, value)

    def _commit_function(self) -> None:
        if self._filling or self.key is None or self.key[0] != "worker":
            return
        text = self.function_combo.currentText().strip()
        if text and text != self.editor.setup.workers[self.key[1]].function:
            self.editor.set_worker_field(self.key[1], "function", text)

    def _commit_file(self) -> None:
        if self._filling or self.key is None or self.key[0] != "worker":
            return
        text = self.file_edit.text().strip()
        if (text or None) != self.editor.setup.workers[self.key[1]].file:
            self.editor.set_worker_field(self.key[1], "file", text or None)

    def _browse_file(self) -> None:
        if self.key is None or self.editor.setup is None:
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Worker file", str(self.editor.setup.setup_dir), "Python files (*.py)"
        )
        if path:
            self.file_edit.setText(self.editor._relative(path))  # same package
            self._commit_file()

    def _commit_config_item(self, item: QTableWidgetItem) -> None:
        if self._filling or self.key is None or self.key[0] != "worker":
            return
        first = self.config_table.item(item.row(), 0)
        if item.column() == 0 and first is not None and first.data(ORIGIN_ROLE) == "__new__":
            key = item.text().strip()
            if key:
                self.set_config_value(key, None, add=True)

    def set_config_value(self, key: str, text: str | None, add: bool = False) -> bool:
        """Set (``text``) or remove (empty text) the worker's own value of config ``key``."""
        if self.key is None or self.key[0] != "worker":
            return False
        name = self.key[1]
        setup = self.editor.setup
        inline = setup.inline_config(name)
        if add:
            if key in inline:
                self.refresh()
                return False
            value = None
            doc = self._function_doc(setup, setup.workers[name])
            c = doc.config(key) if doc is not None else None
            if c is not None and c.default not in (None, "None"):
                value = parse_value(c.default)
            new = setup.config_with_value(name, key, value, present=True)
        else:
            value = parse_value(text or "")
            if (text or "").strip() == "":
                if key not in inline:
                    self.refresh()
                    return False
                new = setup.config_with_value(name, key, None, present=False)
            else:
                if key in inline and inline[key] == value and type(inline[key]) is type(to_plain(value)):
                    self.refresh()
                    return False
                new = setup.config_with_value(name, key, value, present=True)
        done = self.editor.set_worker_field(name, "config", new)
        if not done:
            self.refresh()
        return done


# ====================================================================== config helpers (plain data)


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
