"""Worker function docstrings, parsed after the manual's mimoCoRB2 template (section 2.3): summary,
Type, Buffers (sources, sinks, observes), Configs (key, type, optional default, description),
Examples. Pure text processing: nothing is imported or executed here."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import NamedTuple

DOC_PREFIX = "mimoCoRB2 Function:"


class ConfigDoc(NamedTuple):
    """One entry of a docstring's Configs section; ``default`` is None for required keys."""

    key: str
    type: str
    default: str | None
    description: str

    @property
    def optional(self) -> bool:
        return self.default is not None


@dataclass
class FunctionDoc:
    """A worker function's docstring parsed after the manual's mimoCoRB2 template."""

    qualname: str = ""
    summary: str = ""
    description: str = ""
    type: str = ""
    sources: str = ""
    sinks: str = ""
    observes: str = ""
    configs: list[ConfigDoc] = field(default_factory=list)
    examples: str = ""
    documented: bool = False  # the docstring starts with 'mimoCoRB2 Function:'
    text: str = ""

    def config(self, key: str) -> ConfigDoc | None:
        """The documented config entry ``key`` or None."""
        for entry in self.configs:
            if entry.key == key:
                return entry
        return None


_SECTIONS = {
    "type": "type",
    "buffers": "buffers",
    "configs": "configs",
    "config": "configs",
    "configuration": "configs",
    "examples": "examples",
    "example": "examples",
}
_UNDERLINE = re.compile(r"^\s*[-=~^]{2,}\s*$")
_CONFIG_ENTRY = re.compile(r"^(?P<key>[^\s:][^:]*?)\s*(?::\s*(?P<rest>.*))?$")
_OPTIONAL = re.compile(
    r"^(?P<type>.*?)[\s,]*\boptional\b\s*(?:\(\s*default\s*[=:]\s*(?P<default>.*?)\s*\))?\s*\.?$"
)
_ROLE_WORD = re.compile(r"\b(sources?|sinks?|observes?|observers?)\b", re.IGNORECASE)


def _join_paragraphs(lines: list[str]) -> str:
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n".join(" ".join(p) for p in paragraphs if p)


def _strip_blank(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_function_doc(doc: str | None, qualname: str = "") -> FunctionDoc:
    """Parse a docstring written after the manual's template (section 2.3)."""
    text = inspect.cleandoc(doc or "")
    lines = text.splitlines()
    result = FunctionDoc(qualname=qualname, text=text)
    if not lines:
        return result
    first = lines[0].strip()
    result.documented = first.startswith(DOC_PREFIX)
    result.summary = first[len(DOC_PREFIX) :].strip() if result.documented else first
    sections: dict[str, list[str]] = {"description": []}
    current = "description"
    i = 1
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and _indent(line) == 0 and _UNDERLINE.match(nxt):
            current = _SECTIONS.get(line.strip().rstrip(":").lower(), line.strip().lower())
            sections.setdefault(current, [])
            i += 2
            continue
        sections.setdefault(current, []).append(line)
        i += 1
    result.description = _join_paragraphs(sections.get("description", []))
    result.type = _join_paragraphs(sections.get("type", []))
    result.examples = "\n".join(_strip_blank(sections.get("examples", [])))
    _parse_buffers(_strip_blank(sections.get("buffers", [])), result)
    result.configs = _parse_configs(_strip_blank(sections.get("configs", [])))
    return result


def _parse_buffers(lines: list[str], result: FunctionDoc) -> None:
    base = min((_indent(x) for x in lines if x.strip()), default=0)
    roles: dict[str, list[str]] = {}
    role = None
    for line in lines:
        word = line.strip().rstrip(":").lower()
        if line.strip() and _indent(line) == base and word in ("sources", "sinks", "observes"):
            role = word
            roles.setdefault(role, [])
        elif role is not None:
            roles[role].append(line)
    if not roles:  # older style: "1 source", "0 or 1 sink", "0 observe"
        for line in lines:
            match = _ROLE_WORD.search(line)
            if match:
                word = match.group(1).lower()
                key = (
                    "observes"
                    if word.startswith("observ")
                    else ("sources" if word.startswith("source") else "sinks")
                )
                roles.setdefault(key, []).append(line)
    result.sources = _join_paragraphs(roles.get("sources", []))
    result.sinks = _join_paragraphs(roles.get("sinks", []))
    result.observes = _join_paragraphs(roles.get("observes", []))


def _parse_configs(lines: list[str]) -> list[ConfigDoc]:
    base = min((_indent(x) for x in lines if x.strip()), default=0)
    entries: list[tuple[str, str, str | None, list[str]]] = []
    for line in lines:
        if line.strip() and _indent(line) == base:
            match = _CONFIG_ENTRY.match(line.strip())
            if not match:
                continue
            key = match.group("key").strip().strip("`*")
            rest = (match.group("rest") or "").strip()
            default: str | None = None
            opt = _OPTIONAL.match(rest)
            if opt:
                rest = opt.group("type").strip().rstrip(",").strip()
                default = opt.group("default") if opt.group("default") is not None else "None"
            entries.append((key, rest, default, []))
        elif entries:
            entries[-1][3].append(line)
    return [ConfigDoc(key, typ, default, _join_paragraphs(desc)) for key, typ, default, desc in entries]
