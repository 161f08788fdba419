"""Property tests of the setup model's round-trip editing (hypothesis).

- load → save gives the file back byte for byte (every example setup, its config files' setups too);
- after any sequence of edits, ``to_text()`` parses to a document equal to the model's document;
- undoing the sequence (restoring the snapshots taken before each edit, as the editor's undo stack
  does) gives the original text exactly.
Edits are drawn from the model's public editing API on real setups with comments, anchors and flow
lists (the example setups and mimoCoRB2's own examples).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from mimocorb_gui.core.setup import Setup
from mimocorb_gui.core.yaml_values import roundtrip_yaml
from mimocorb_gui.shipped import examples_dir

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "mimoCoRB2"


def _setup_files() -> list[Path]:
    ours = sorted((examples_dir()).glob("*/setup.yaml"))
    theirs = sorted(p for p in REFERENCE.glob("examples/**/*.yaml") if _is_setup(p))
    return ours + theirs


def _is_setup(path: Path) -> bool:
    try:
        data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except Exception:  # config files that are not YAML mappings are not setups
        return False
    return isinstance(data, dict) and "Workers" in data and "Buffers" in data


SETUPS = _setup_files()


def _plain(value):
    """The document as plain python, so documents from two parses compare by value."""
    return YAML(typ="safe", pure=True).load(_text_of(value))


def _text_of(document) -> str:
    import io

    stream = io.StringIO()
    roundtrip_yaml().dump(document, stream)  # ruamel's own writer cuts digits of a float read from text
    return stream.getvalue()


def test_there_are_setups_to_test():
    assert len([p for p in SETUPS if p.is_relative_to(ROOT)]) >= 5
    assert any(not p.is_relative_to(ROOT) for p in SETUPS), "mimoCoRB2's examples are not beside the repo"


@pytest.mark.parametrize("path", SETUPS, ids=lambda p: str(p.relative_to(p.parents[2])))
def test_load_then_save_is_byte_identical(path, tmp_path):
    target = tmp_path / path.name
    shutil.copyfile(path, target)
    setup = Setup.load(target)
    assert not setup.modified
    setup.save(tmp_path / "saved.yaml")
    assert (tmp_path / "saved.yaml").read_bytes() == path.read_bytes()


NAMES = st.sampled_from(["Raw", "Pulses", "Out", "x1", "Spectrum", "Buf_2"])
DTYPES = st.sampled_from(
    [{"v": "float32"}, {"chA": "float32", "chB": "float32"}, {"n": "int64", "t": "float64"}]
)
CONFIG_VALUES = st.one_of(
    st.integers(-1000, 10**6),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from(["µs", "a b", "on", "1e3"]),
)


def _edit(setup: Setup, data: st.DataObject) -> str:
    """Apply one edit drawn by hypothesis; returns its description (for the failure report)."""
    buffers, workers = setup.buffer_names, setup.worker_names
    choices = ["add_buffer", "add_worker"]
    if buffers:
        choices += ["rename_buffer", "set_buffer_field", "remove_buffer"]
    if workers:
        choices += ["rename_worker", "set_config", "set_processes", "remove_worker"]
    if buffers and workers:
        choices += ["connect", "disconnect"]
    op = data.draw(st.sampled_from(choices), label="edit")
    if op == "add_buffer":
        name = data.draw(NAMES.filter(lambda n: n not in buffers), label="name")
        setup.add_buffer(
            name, data.draw(st.integers(1, 64)), data.draw(st.integers(1, 5000)), data.draw(DTYPES)
        )
    elif op == "rename_buffer":
        old = data.draw(st.sampled_from(buffers))
        setup.rename_buffer(old, data.draw(NAMES.filter(lambda n: n not in buffers), label="new"))
    elif op == "set_buffer_field":
        name = data.draw(st.sampled_from(buffers))
        key = data.draw(st.sampled_from(["slot_count", "data_length", "data_dtype"]))
        value = data.draw(DTYPES) if key == "data_dtype" else data.draw(st.integers(1, 9999))
        setup.set_buffer_field(name, key, value)
    elif op == "remove_buffer":
        setup.remove_buffer(data.draw(st.sampled_from(buffers)))
    elif op == "add_worker":
        name = data.draw(NAMES.filter(lambda n: n not in workers).map(lambda n: "w_" + n), label="name")
        if name in workers:
            return "none"
        sinks = data.draw(st.lists(st.sampled_from(buffers), max_size=2, unique=True)) if buffers else []
        setup.add_worker(
            name, "exporters.drain", sinks=sinks, config={"k": 1} if data.draw(st.booleans()) else None
        )
    elif op == "rename_worker":
        old = data.draw(st.sampled_from(workers))
        new = data.draw(NAMES.map(lambda n: "w2_" + n).filter(lambda n: n not in workers))
        setup.rename_worker(old, new)
    elif op == "set_config":
        name = data.draw(st.sampled_from(workers))
        config = dict(setup.workers[name].config) if isinstance(setup.workers[name].config, dict) else {}
        config[data.draw(st.sampled_from(["k", "rate", "unit", "new_key"]))] = data.draw(CONFIG_VALUES)
        setup.set_worker_field(name, "config", config)
    elif op == "set_processes":
        setup.set_worker_field(
            data.draw(st.sampled_from(workers)), "number_of_processes", data.draw(st.integers(1, 4))
        )
    elif op == "remove_worker":
        setup.remove_worker(data.draw(st.sampled_from(workers)))
    elif op in ("connect", "disconnect"):
        worker, buffer = data.draw(st.sampled_from(workers)), data.draw(st.sampled_from(buffers))
        role = data.draw(st.sampled_from(["sources", "sinks", "observes"]))
        getattr(setup, op)(worker, buffer, role)
    return op


@pytest.mark.timeout(600)
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(path=st.sampled_from(SETUPS), data=st.data())
def test_random_edits_keep_text_and_document_equal_and_undo_gives_the_original(path, data):
    original = path.read_text(encoding="utf-8")
    setup = Setup.from_text(original, path)
    assert setup.to_text() == original
    undo: list = []
    for _ in range(data.draw(st.integers(1, 6), label="edits")):
        before = setup.to_state()
        op = _edit(setup, data)
        undo.append(before)
        text = setup.to_text()
        assert _plain(Setup.from_text(text, path).document) == _plain(setup.document), f"after {op}:\n{text}"
    while undo:
        setup.from_state(undo.pop())
    assert setup.to_text() == original
    assert not setup.modified


def test_to_text_is_computed_once_per_edit_and_follows_every_edit(monkeypatch):
    path = examples_dir() / "muon_lifetime" / "setup.yaml"
    setup = Setup.load(path)
    texts = []
    real_text = Setup._merged_text
    monkeypatch.setattr(Setup, "_merged_text", lambda self: texts.append(1) or real_text(self))
    name = setup.worker_names[0]
    generation = setup.generation
    setup.set_worker_field(name, "number_of_processes", 3)
    assert setup.generation != generation
    first = setup.to_text()
    assert setup.to_text() is first and setup.modified and setup.to_state().text is first
    assert len(texts) == 1  # one text for the text, the title and the undo snapshot together
    setup.set_worker_field(name, "number_of_processes", 4)
    assert "number_of_processes: 4" in setup.to_text() and len(texts) == 2
    setup.set_worker_field(name, "number_of_processes", None)
    setup.set_worker_field(name, "number_of_processes", Setup.load(path).workers[name].number_of_processes)
    assert setup.to_text() != first


@settings(max_examples=200, deadline=None)
@given(
    a=st.lists(st.sampled_from(["x\n", "y\n", "z\n", "  k: 1\n", "\n"]), max_size=30),
    b=st.lists(st.sampled_from(["x\n", "y\n", "z\n", "  k: 1\n", "\n"]), max_size=30),
)
def test_the_merge_diff_turns_one_text_into_the_other_like_difflib(a, b):
    """The merge's line diff (common first/last lines matched before difflib runs) is a diff: its
    opcodes rebuild ``b`` from ``a``, cover both texts in order, mark as equal only equal lines and
    never mark the common first lines as changed; with nothing in common at the ends it is difflib's."""
    from difflib import SequenceMatcher

    from mimocorb_gui.core.setup.textmerge import _line_opcodes

    ops = _line_opcodes(a, b)
    rebuilt, i_pos, j_pos = [], 0, 0
    for tag, i1, i2, j1, j2 in ops:
        assert (i1, j1) == (i_pos, j_pos), ops
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
        rebuilt += b[j1:j2]
        i_pos, j_pos = i2, j2
    assert (i_pos, j_pos) == (len(a), len(b)) and rebuilt == b
    reference = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    if a[:1] != b[:1] and a[-1:] != b[-1:]:  # nothing to trim: exactly difflib's diff
        assert ops == [op for op in reference if op[1] != op[2] or op[3] != op[4]]
    head = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    assert all(i1 >= head and j1 >= head for tag, i1, _i2, j1, _j2 in ops if tag != "equal")


@pytest.mark.timeout(600)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(path=st.sampled_from(SETUPS), data=st.data())
def test_the_dump_made_from_the_last_one_after_an_edit_is_the_whole_dump(path, data):
    """After an edit of one entry the model makes the new dump from the last one, dumping only that
    entry again; it must be ruamel's dump of the whole document, byte for byte, edit after edit."""
    setup = Setup.from_text(path.read_text(encoding="utf-8"), path)
    for _ in range(data.draw(st.integers(1, 8), label="edits")):
        op = _edit(setup, data)
        assert setup._current_dump() == setup._dump(), f"after {op}"
        setup.to_text()


def test_an_edit_of_one_worker_dumps_only_that_worker_again(monkeypatch):
    """The muon example (comments, an anchor merged into several workers): a config edit leaves
    the whole-document dump alone and the text follows the edit."""
    setup = Setup.load(examples_dir() / "muon_lifetime" / "setup.yaml")
    dumps = []
    real_dump = Setup._dump
    monkeypatch.setattr(Setup, "_dump", lambda self: dumps.append(1) or real_dump(self))
    name = next(n for n, w in setup.workers.items() if isinstance(w.config, dict) and w.config)
    setup.set_worker_field(name, "number_of_processes", 3)
    text = setup.to_text()
    assert dumps == []
    assert Setup.from_text(text, setup.path).workers[name].number_of_processes == 3
    assert text == Setup.from_text(text, setup.path).to_text()
    assert setup._current_dump() == real_dump(setup)
