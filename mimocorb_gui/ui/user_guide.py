"""Help ▸ User Guide: the README's sections for users, and the example setups' READMEs, read in the window.

No browser needed: Qt renders the Markdown itself (``QTextBrowser.setMarkdown``). The README comes
from the source checkout or the bundle (next to ``setups/``), else from the installed package's
metadata (a wheel carries the README as its long description). Sections for developers
(performance figures, development) are left out. Links to other Markdown files (a setup's README,
``docs/…``) open in the same viewer with Back to return; web links go to the system's browser.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

__all__ = ["UserGuide", "example_readmes", "guide_markdown", "readme_source", "user_sections"]

DEVELOPER_SECTIONS = ("Performance", "Development")  # '## ' titles not shown to users
IMAGE_WIDTH = 640  # px; the README's screenshots are larger
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _app_root() -> Path:
    """The folder that holds README.md: the bundle's ``_internal`` or the source checkout."""
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parents[2]


def readme_source() -> tuple[str, Path | None]:
    """The README text and the folder its relative links start from (None: from package metadata)."""
    path = _app_root() / "README.md"
    if path.is_file():
        return path.read_text(encoding="utf-8"), path.parent
    try:
        from importlib.metadata import PackageNotFoundError, metadata

        text = metadata("mimocorb-gui").get_payload() or metadata("mimocorb-gui").get("Description", "")
    except (PackageNotFoundError, OSError):
        text = ""
    return str(text or ""), None


def _in_fence(lines: list[str]) -> list[bool]:
    inside, result = False, []
    for line in lines:
        if line.lstrip().startswith(("```", "~~~")):
            inside = not inside
            result.append(True)
            continue
        result.append(inside)
    return result


def user_sections(markdown: str, leave_out: tuple[str, ...] = DEVELOPER_SECTIONS) -> str:
    """The README without its developer sections (a '## ' section with its subsections)."""
    lines = markdown.splitlines()
    fenced = _in_fence(lines)
    kept, skipping = [], False
    for line, in_code in zip(lines, fenced, strict=True):
        m = None if in_code else _HEADING.match(line)
        if m and len(m.group(1)) <= 2:
            skipping = len(m.group(1)) == 2 and m.group(2).strip() in leave_out
        if not skipping:
            kept.append(line)
    return "\n".join(kept).rstrip() + "\n"


def headings(markdown: str, max_level: int = 3) -> list[tuple[int, str]]:
    lines = markdown.splitlines()
    return [
        (len(m.group(1)), m.group(2).replace("`", "").replace("**", ""))
        for line, in_code in zip(lines, _in_fence(lines), strict=True)
        if not in_code and (m := _HEADING.match(line)) and len(m.group(1)) <= max_level
    ]


def example_readmes() -> list[Path]:
    """README.md of every example setup (the folder ``shipped.examples_dir()`` finds)."""
    from mimocorb_gui.shipped import examples_dir

    folder = examples_dir()
    return sorted(folder.glob("*/README.md")) if folder is not None else []


def guide_markdown() -> tuple[str, Path | None]:
    """What Help ▸ User Guide shows: the users' part of the README, then links to the setups' READMEs."""
    text, base = readme_source()
    if not text.strip():
        text = (
            "# mimoCoRB\n\nThe user guide (README.md) is not part of this installation. "
            "It is on the project's page.\n"
        )
    guide = user_sections(text)
    readmes = example_readmes()
    if readmes:
        guide += "\n## The example setups' READMEs\n\n" + "".join(
            f"- [{p.parent.name}]({QUrl.fromLocalFile(str(p)).toString()})\n" for p in readmes
        )
    return guide, base


class UserGuide(QDialog):
    """A window with the guide: contents on the left, the text on the right, Back after following a link."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("mimoCoRB User Guide")
        self.setObjectName("userGuide")
        self.markdown, self.base = guide_markdown()
        self.history: list[tuple[str, Path | None]] = []

        self.contents = QListWidget(self)
        self.contents.setObjectName("guideContents")
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)  # links are handled below (Markdown files stay in here)
        self.browser.anchorClicked.connect(self.follow)
        self.contents.currentItemChanged.connect(self._contents_clicked)
        self.where = QLabel(self)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.back_button = QPushButton("◀ Back", self)
        self.back_button.clicked.connect(self.back)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.contents)
        split.addWidget(self.browser)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 740])
        top = QHBoxLayout()
        top.addWidget(self.back_button)
        top.addWidget(self.where, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        lay.addWidget(buttons)
        self.show_markdown(self.markdown, self.base, "README.md (the parts for users)")
        self.resize(1000, 720)

    def show_markdown(self, text: str, base: Path | None, label: str) -> None:
        self.current = (text, base)
        if base is not None:
            self.browser.setSearchPaths([str(base)])
        self.browser.setMarkdown(text)
        self._shrink_images()
        self.where.setText(label)
        self.back_button.setEnabled(bool(self.history))
        self.contents.blockSignals(True)
        self.contents.clear()
        for level, title in headings(text):
            item = QListWidgetItem(("    " * max(0, level - 2)) + title)
            item.setData(Qt.ItemDataRole.UserRole, title)
            self.contents.addItem(item)
        self.contents.blockSignals(False)

    def _shrink_images(self, width: int = IMAGE_WIDTH) -> None:
        """Screenshots in the README are 1600 px wide: shown at ``width`` px (click opens them whole)."""
        doc = self.browser.document()
        block = doc.begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                fmt = fragment.charFormat()
                if fmt.isImageFormat():
                    image = fmt.toImageFormat()
                    source = doc.resource(QTextDocument.ResourceType.ImageResource, QUrl(image.name()))
                    natural = source.width() if hasattr(source, "width") else 0
                    if natural > width or (not natural and not image.width()):
                        image.setWidth(width)
                        cursor = QTextCursor(doc)
                        cursor.setPosition(fragment.position())
                        cursor.setPosition(
                            fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor
                        )
                        cursor.setCharFormat(image)
                it += 1
            block = block.next()

    def _contents_clicked(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is not None:
            self.scroll_to(item.data(Qt.ItemDataRole.UserRole))

    def scroll_to(self, title: str) -> bool:
        """Scroll the text so the heading ``title`` is at the top."""
        doc = self.browser.document()
        block = doc.begin()
        while block.isValid():
            if block.blockFormat().headingLevel() and block.text().strip() == title.strip():
                cursor = QTextCursor(block)
                bar = self.browser.verticalScrollBar()
                self.browser.setTextCursor(cursor)
                rect = self.browser.cursorRect(cursor)
                bar.setValue(bar.value() + rect.top())
                return True
            block = block.next()
        return False

    def follow(self, url: QUrl) -> None:
        """A link: Markdown files (a setup's README, docs/…) open here, others outside (a web page)."""
        if url.isRelative() and self.current[1] is not None:
            url = QUrl.fromLocalFile(str(self.current[1] / url.path()))
        if url.isLocalFile() and url.toLocalFile().lower().endswith(".md"):
            path = Path(url.toLocalFile())
            if path.is_file():
                self.history.append(self.current)
                self.show_markdown(path.read_text(encoding="utf-8"), path.parent, str(path))
                return
        if url.scheme() in ("http", "https", "mailto") or url.isLocalFile():
            QDesktopServices.openUrl(url)

    def back(self) -> None:
        if not self.history:
            return
        text, base = self.history.pop()
        label = "README.md (the parts for users)" if text == self.markdown else str(base)
        self.show_markdown(text, base, label)

    def text(self) -> str:
        """What is shown, as plain text (tests, accessibility)."""
        return self.browser.document().toPlainText()

    def find(self, words: str) -> bool:
        return bool(self.browser.find(words, QTextDocument.FindFlag(0)))
