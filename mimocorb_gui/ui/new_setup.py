"""File ▸ New: a new setup folder, empty or a copy of an example setup used as a template.

``create_setup`` does the work (no Qt); ``NewSetupDialog`` asks which template and where. An example
is copied with everything its setup needs (its own worker files, config files, recorded data, its
README), never its runs or caches; an empty setup is a file the graph editor fills.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

__all__ = ["NewSetupDialog", "create_setup", "example_setups", "load_for_editing"]

EMPTY_SETUP = "# mimoCoRB setup: drag a function and a Buffer from the palette onto the canvas\n"
NOT_COPIED = ("runs", "run_*", "__pycache__", ".*.layout.json", "*.pyc")


def example_setups() -> list[Path]:
    """Folders of the example setups (where ``shipped.examples_dir()`` finds them)."""
    from mimocorb_gui.shipped import examples_dir

    folder = examples_dir()
    return sorted(p.parent for p in folder.glob("*/setup.yaml")) if folder is not None else []


def create_setup(folder: str | Path, template: str | Path | None = None) -> Path:
    """Make ``folder``/setup.yaml: empty, or a copy of the example folder ``template``; returns its path.

    Refuses (FileExistsError) to write over a setup that is there already; the folder may exist.
    """
    folder = Path(folder).expanduser().absolute()
    target = folder / "setup.yaml"
    if target.exists():
        raise FileExistsError(f"{target} exists already: choose another folder (nothing was changed)")
    if template is None:
        folder.mkdir(parents=True, exist_ok=True)
        target.write_text(EMPTY_SETUP, encoding="utf-8")
        return target
    source = Path(template)
    if not (source / "setup.yaml").is_file():
        raise FileNotFoundError(f"{source}: no setup.yaml to copy")
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns(*NOT_COPIED), dirs_exist_ok=True)
    return target


def load_for_editing(path: str | Path):
    """``Setup.load``, except that an empty (or comments-only) file opens as a new setup to fill in the
    editor: its comments stay, the empty sections follow. (``mimocorb check``/``run`` still refuse it:
    there is nothing to run.)"""
    from mimocorb_gui.core.setup import Setup

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8") if p.is_file() else None
    except (OSError, UnicodeDecodeError):
        text = None
    if text is not None and all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        return Setup.from_text((text.rstrip() + "\n" if text.strip() else "") + NEW_SECTIONS, p)
    return Setup.load(p)


NEW_SECTIONS = "Buffers: {}\n\nWorkers: {}\n"


def _summary(folder: Path) -> str:
    """The first sentence of an example's README (its title line skipped)."""
    try:
        lines = (folder / "README.md").read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    text = " ".join(line.strip() for line in lines[1:8] if line.strip() and not line.startswith("#"))
    return text.split(". ")[0][:140]


class NewSetupDialog(QDialog):
    """Which template (an empty setup or an example) and which folder the new setup goes to."""

    def __init__(self, start_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New setup")
        self.start_dir = Path(start_dir)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Start from:", self))
        self.templates = QListWidget(self)
        empty = QListWidgetItem("Empty setup — build it in the graph editor")
        empty.setData(Qt.ItemDataRole.UserRole, "")
        self.templates.addItem(empty)
        for folder in example_setups():
            summary = _summary(folder)
            item = QListWidgetItem(f"{folder.name} (example)" + (f" — {summary}" if summary else ""))
            item.setData(Qt.ItemDataRole.UserRole, str(folder))
            item.setToolTip(str(folder))
            self.templates.addItem(item)
        self.templates.setCurrentRow(0)
        self.templates.currentItemChanged.connect(lambda *_: self._suggest_folder())
        lay.addWidget(self.templates, 1)
        lay.addWidget(QLabel("New folder for the setup (its runs go below it):", self))
        row = QHBoxLayout()
        self.folder = QLineEdit(self)
        row.addWidget(self.folder, 1)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        row.addWidget(browse)
        lay.addLayout(row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self._suggest_folder()
        self.resize(640, 420)

    def template(self) -> Path | None:
        item = self.templates.currentItem()
        value = item.data(Qt.ItemDataRole.UserRole) if item is not None else ""
        return Path(value) if value else None

    def _suggest_folder(self) -> None:
        t = self.template()
        base = f"my_{t.name}" if t is not None else "my_setup"
        name, i = base, 2
        while (self.start_dir / name / "setup.yaml").exists():
            name, i = f"{base}_{i}", i + 1
        self.folder.setText(str(self.start_dir / name))

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the new setup", str(self.start_dir))
        if path:
            self.folder.setText(path)

    def choice(self) -> tuple[Path | None, Path]:
        return self.template(), Path(self.folder.text().strip()).expanduser()
