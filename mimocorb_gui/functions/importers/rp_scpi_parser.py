"""SCPI text handling of the emulated board: header patterns (short/long forms, numeric suffixes), message splitting, errors.

No sockets and no board here. ``compile_pattern('ACQ:SOUR#:DATA:STArt:N?')`` makes the matcher for
a command of the table in ``rp_scpi_server``: keywords match in their short form (the upper-case
letters) or long form, case-insensitive; ``#`` takes a channel number (default 1); ``[:...]``
is optional. ``split_commands`` splits a message at ``;`` outside quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "E_COMMAND",
    "E_ILLEGAL_PARAMETER",
    "E_MISSING_PARAMETER",
    "E_QUEUE_OVERFLOW",
    "E_UNDEFINED_HEADER",
    "Node",
    "ScpiError",
    "compile_pattern",
    "ieee_block",
    "is_start",
    "match",
    "split_commands",
]

# SCPI error codes (IEEE 488.2 / SCPI-99), as scpi-parser reports them
E_COMMAND = (-100, "Command error")
E_MISSING_PARAMETER = (-109, "Missing parameter")
E_UNDEFINED_HEADER = (-113, "Undefined header")
E_ILLEGAL_PARAMETER = (-224, "Illegal parameter value")
E_QUEUE_OVERFLOW = (-350, "Queue overflow")


@dataclass
class Node:
    short: str
    long: str
    numeric: bool = False
    optional: bool = False

    def match(self, word: str) -> tuple[bool, int | None]:
        num = None
        if self.numeric:
            m = re.fullmatch(r"([A-Za-z_*]+)(\d*)", word)
            if not m:
                return False, None
            word, digits = m.group(1), m.group(2)
            num = int(digits) if digits else 1
        w = word.upper()
        return (w == self.short or w == self.long), num


def compile_pattern(pattern: str) -> tuple[list[Node], bool]:
    query = pattern.endswith("?")
    body = pattern[:-1] if query else pattern
    nodes: list[Node] = []
    for part in re.findall(r"\[:[^\]]+\]|[^:\[\]]+", body):
        optional = part.startswith("[")
        word = part.strip("[]:")
        numeric = word.endswith("#")
        word = word.rstrip("#")
        short = "".join(c for c in word if c.isupper() or c.isdigit() or c in "*_")
        nodes.append(Node(short=short or word.upper(), long=word.upper(), numeric=numeric, optional=optional))
    return nodes, query


def match(nodes: list[Node], words: list[str]) -> tuple[bool, list[int]]:
    nums: list[int] = []

    def rec(i: int, j: int) -> bool:
        if i == len(nodes):
            return j == len(words)
        node = nodes[i]
        if j < len(words):
            ok, num = node.match(words[j])
            if ok:
                if num is not None:
                    nums.append(num)
                if rec(i + 1, j + 1):
                    return True
                if num is not None:
                    nums.pop()
        return node.optional and rec(i + 1, j)

    return rec(0, 0), nums


class ScpiError(Exception):
    def __init__(self, code: tuple[int, str], detail: str = "") -> None:
        super().__init__(code[1])
        self.code = code
        self.detail = detail


def split_commands(line: str) -> list[str]:
    """Split a message at ``;`` outside quotes."""
    out, cur, quote = [], [], ""
    for c in line:
        if quote:
            cur.append(c)
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
            cur.append(c)
        elif c == ";":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return out


_START_NODES = compile_pattern("ACQ:START")[0]


def is_start(words: list[str]) -> bool:
    return match(_START_NODES, words)[0]


def ieee_block(payload: bytes) -> bytes:
    n = str(len(payload))
    return b"#" + str(len(n)).encode() + n.encode() + payload
