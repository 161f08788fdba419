"""The three-way text merge that keeps a setup file as written: the change between two dumps of the
document (before and after the edits) is applied to the text as it was loaded, line by line.
"""

from __future__ import annotations

from difflib import SequenceMatcher


def _line_opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """``SequenceMatcher(None, a, b).get_opcodes()``, with the common first and last lines matched
    directly: an edit changes a few lines of a long text, and the matcher is quadratic in the rest."""
    head = 0
    limit = min(len(a), len(b))
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    middle = SequenceMatcher(None, a[head : len(a) - tail], b[head : len(b) - tail], autojunk=False)
    ops = [("equal", 0, head, 0, head)] if head else []
    ops += [(tag, i1 + head, i2 + head, j1 + head, j2 + head) for tag, i1, i2, j1, j2 in middle.get_opcodes()]
    if tail:
        ops.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return [op for op in ops if op[1] != op[2] or op[3] != op[4]]


def _base_lines_in(original: str, base: str) -> dict[int, int]:
    """``{line of base: the same line in original}`` for the lines the two texts share (the merge's
    map from a dump to the text as loaded; it changes only when the loaded text does)."""
    o_lines = original.splitlines(keepends=True)
    b_lines = base.splitlines(keepends=True)
    b2o: dict[int, int] = {}
    for tag, i1, i2, j1, _j2 in _line_opcodes(o_lines, b_lines):
        if tag == "equal":
            for k in range(i2 - i1):
                b2o[j1 + k] = i1 + k
    return b2o


def _merge_text(original: str, base: str, new: str, b2o: dict[int, int] | None = None) -> str | None:
    """Apply the edit ``base -> new`` onto ``original`` (``base`` = dump of ``original``'s document).

    ``b2o`` is ``_base_lines_in(original, base)`` when the caller keeps it. Returns None when the edit
    touches lines where ``original`` and ``base`` differ.
    """
    if base == new:
        return original
    if original == base:
        return new
    o_lines = original.splitlines(keepends=True)
    b_lines = base.splitlines(keepends=True)
    n_lines = new.splitlines(keepends=True)
    if b2o is None:
        b2o = _base_lines_in(original, base)
    out: list[str] = []
    o_pos = 0
    for tag, i1, i2, j1, j2 in _line_opcodes(b_lines, n_lines):
        if tag == "equal":
            continue
        if i2 > i1:
            mapped = [b2o.get(k) for k in range(i1, i2)]
            if any(m is None for m in mapped):
                return None
            if mapped != list(range(mapped[0], mapped[0] + len(mapped))):  # type: ignore[arg-type]
                return None
            o1, o2 = mapped[0], mapped[-1] + 1  # type: ignore[operator]
        else:
            if i1 - 1 in b2o:
                o1 = b2o[i1 - 1] + 1
            elif i1 in b2o:
                o1 = b2o[i1]
            elif i1 == 0:
                o1 = 0
            else:
                return None
            o2 = o1
        if o1 < o_pos:
            return None
        out.extend(o_lines[o_pos:o1])
        out.extend(n_lines[j1:j2])
        o_pos = o2
    out.extend(o_lines[o_pos:])
    return "".join(out)
