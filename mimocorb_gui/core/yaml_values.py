"""One config value as text and back, read by the setup's own YAML (ruamel, YAML 1.2).

The property panel shows each config value as a line of text and reads what the user typed.
It must read it the way the setup file itself is read, or a value changes meaning between the
panel and the file: YAML 1.2 reads ``1e3`` as the float 1000.0, ``on`` and ``yes`` as strings,
``010`` as the integer 10 (octal is ``0o10``), where YAML 1.1 (PyYAML) would give the string
``'1e3'``, ``True`` and 8. Values are read with ruamel's round-trip loader, so the spelling the
user typed (``1e3``, ``0x1F``) is what the setup file gets.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarfloat import ScalarFloat
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

__all__ = ["parse_value", "format_value", "block_yaml", "load_plain", "roundtrip_yaml", "YAMLError"]

_NULL_WORDS = ("null", "Null", "NULL", "~")


class _ExactFloatRepresenter(RoundTripRepresenter):
    """ruamel's round-trip writer, except that a float read from a file is never written as
    another number. ruamel re-creates a float's spelling (``1e3``, ``0.50``) from its width and
    cuts the digits instead of rounding them: ``1.767197240362763e-196`` came back as
    ``...762e-196``. Where the spelling would change the value, the float is written as Python's
    shortest exact text."""

    def represent_scalar_float(self, data: Any) -> Any:
        node = super().represent_scalar_float(data)
        try:
            exact = float(node.value.replace("_", "")) == float(data)
        except ValueError:  # .inf, .nan: written as YAML spells them
            exact = True
        return node if exact else self.represent_float(float(data))


_ExactFloatRepresenter.add_representer(ScalarFloat, _ExactFloatRepresenter.represent_scalar_float)


def roundtrip_yaml() -> YAML:
    """ruamel's round-trip YAML (the setup's), writing every float read from a file as the same number."""
    yaml = YAML(typ="rt")
    yaml.Representer = _ExactFloatRepresenter
    return yaml


def _loader() -> YAML:
    return YAML(typ="rt")


def parse_value(text: str) -> Any:
    """A value typed by the user: a YAML 1.2 scalar or flow collection, else the plain string.

    Empty text is None (the key is removed); text YAML cannot read, or reads as a document of
    its own (``a: b`` gives a mapping, that is meant), is taken as it stands when YAML fails.
    """
    text = text.strip()
    if text == "":
        return None
    try:
        value = _loader().load(text)
    except YAMLError:
        return text
    if value is None and text not in _NULL_WORDS:
        return text  # a comment only ('# x'): keep what was typed
    return _containers_plain(value)


def _containers_plain(value: Any) -> Any:
    """Mappings and lists as plain dict and list (the setup picks their style), scalars as read
    (a ruamel ``ScalarFloat`` remembers that it was written ``1e3``)."""
    if isinstance(value, dict):
        return {k: _containers_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_containers_plain(v) for v in value]
    return value


def _flow(value: Any, quote: bool = False) -> Any:
    """``value`` with every mapping and list in flow style; scalars keep their spelling, strings
    are double-quoted when ``quote``."""
    if isinstance(value, dict):
        node = CommentedMap((_flow(k, quote), _flow(v, quote)) for k, v in value.items())
        node.fa.set_flow_style()
        return node
    if isinstance(value, list | tuple):
        seq = CommentedSeq(_flow(v, quote) for v in value)
        seq.fa.set_flow_style()
        return seq
    if quote and isinstance(value, str):
        return DoubleQuotedScalarString(value)
    return value


def _dump(value: Any) -> str:
    """``value`` as one line of flow YAML that reads back as ``value``: plain where ruamel's reader
    takes ruamel's plain output back, double-quoted strings where it does not (ruamel writes
    ``{b: ?𘡣}`` and cannot read it)."""
    text = _emit(_flow(value))
    try:
        if _containers_plain(_loader().load(text)) == value:
            return text
    except YAMLError:
        pass
    return _emit(_flow(value, quote=True))


def _emit(node: Any) -> str:
    yaml = roundtrip_yaml()
    yaml.width = 10_000
    stream = io.StringIO()
    yaml.dump(node, stream)
    text = stream.getvalue().strip()
    return text.removesuffix("...").strip()


def format_value(value: Any) -> str:
    """How a value is shown for editing; :func:`parse_value` of the result gives the value back."""
    if value is None:
        return "null"
    if isinstance(value, str):
        text = str(value)
        if text.strip() == text and text != "":
            try:
                reread = _loader().load(text)
            except YAMLError:
                reread = None
            if isinstance(reread, str) and reread == text:
                return text  # reads back as itself: no quotes needed
        return _dump(text)
    return _dump(value)


def block_yaml(data: Any) -> str:
    """Plain ``data`` as block YAML in its own key order, written by the setup's YAML (the run
    directory's resolved ``setup.yaml``, a served run's setup)."""
    yaml = roundtrip_yaml()
    yaml.width = 4096
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def load_plain(source: Any) -> Any:
    """A YAML document (text or an open file) as plain dicts, lists and scalars, read as the setup
    file is (YAML 1.2); raises ruamel's ``YAMLError`` for a broken document."""
    return YAML(typ="safe", pure=True).load(source)
