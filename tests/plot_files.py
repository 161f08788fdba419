"""Checks that a saved plot picture is a valid file of its kind, read back by Qt and by an XML parser."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from PySide6.QtGui import QImage

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # the PNG specification, section 5.2
SVG_NS = "{http://www.w3.org/2000/svg}"


def check_png(path: Path, widget) -> QImage:
    """A PNG (signature), readable by Qt, as large as the widget on the screen, not one flat colour."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG file"
    image = QImage(str(path))
    assert not image.isNull(), f"Qt cannot read {path}"
    ratio = widget.devicePixelRatioF()
    assert (image.width(), image.height()) == (round(widget.width() * ratio), round(widget.height() * ratio))
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 3, f"{path} is (nearly) one colour"
    return image


def check_svg(path: Path, widget, caption_part: str) -> ET.Element:
    """Well-formed SVG with the widget's size as its view box, the caption as its title, something drawn."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg", f"{path}: root element {root.tag}"
    assert root.get("viewBox").split() == ["0", "0", str(widget.width()), str(widget.height())]
    title = root.find(f"{SVG_NS}title")
    assert title is not None and caption_part in title.text
    drawn = [e for e in root.iter() if e.tag in (f"{SVG_NS}path", f"{SVG_NS}polyline", f"{SVG_NS}text")]
    assert len(drawn) > 5, f"{path}: nothing drawn"
    return root
