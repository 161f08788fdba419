"""core.setuplimits on its own: each limit, on inputs built to hit it (issue 16, items 8-10)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from mimocorb_gui.core import setuplimits as L


def bomb(levels: int = 9) -> str:
    text = "a0: &a0 [x,x,x,x,x,x,x,x,x]\n"
    for i in range(1, levels):
        text += f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n"
    return text


def test_an_alias_bomb_is_refused_at_its_line_in_milliseconds():
    t0 = time.process_time()
    with pytest.raises(L.LimitError, match="expands to more than 100000 values") as exc:
        L.check_yaml(bomb())
    assert time.process_time() - t0 < 0.5
    assert exc.value.line == 6  # 9**6 > 100 000: the sixth level is the first too big


def test_aliases_within_the_limit_pass():
    L.check_yaml(bomb(4))  # 9**4 = 6 561 values
    L.check_yaml("t: &t {slot_count: 4}\nBuffers: {A: *t, B: *t}\n")


@pytest.mark.parametrize(
    "text",
    [
        "x: " + "[" * 60 + "]" * 60,
        "x: " + "{a: " * 60 + "1" + "}" * 60,
        "".join(" " * i + f"k{i}:\n" for i in range(60)),
    ],
    ids=["flow lists", "flow maps", "block maps"],
)
def test_nesting_deeper_than_the_limit_is_refused(text):
    with pytest.raises(L.LimitError, match="nested more than 50 levels deep") as exc:
        L.check_yaml(text)
    assert exc.value.line is not None


def test_nesting_at_the_limit_passes():
    L.check_yaml("x: " + "[" * 49 + "]" * 49)


def test_size_limit():
    L.check_yaml("# " + "x" * (L.MAX_FILE_BYTES - 10))
    with pytest.raises(L.LimitError, match=r"too large \(257 kB; .* at most 256 kB\)"):
        L.check_yaml("# " + "x" * (L.MAX_FILE_BYTES + 1000))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "must not be empty"),
        ("A" * 101, "101 characters long (at most 100)"),
        ("../A", "contains '/'"),
        ("a\0b", "contains '\\x00'"),
        ("a\nb", "contains '\\n'"),
        ("..A", "must not start with '.'"),
        ("A..B", "contain '..'"),
        (" A", "must not start with '.' or a space"),
    ],
)
def test_unsafe_names(name, problem):
    assert problem in L.name_problem(name, "buffer")


@pytest.mark.parametrize(
    "name", ["Input", "1st_chA_h", "PulseParametersUp_Export", "Meßwerte", "chan-1.v2", "A" * 100]
)
def test_names_real_setups_use_are_fine(name):
    assert L.name_problem(name, "buffer") is None


@pytest.mark.parametrize(
    ("dtype", "problem"),
    [("O", "object elements"), ("(3,)f8", "sub-array"), ("f4,i4", "nested structured"), ("U0", "size 0")],
)
def test_element_types_shared_memory_cannot_hold(dtype, problem):
    assert problem in L.dtype_problem(np.dtype(dtype))


@pytest.mark.parametrize("dtype", ["f4", "<i8", "U16", "S8", "?", "c16"])
def test_plain_element_types_are_fine(dtype):
    assert L.dtype_problem(np.dtype(dtype)) is None


def test_target_directories_where_no_run_can_be_made(tmp_path):
    (tmp_path / "afile").write_text("x")
    assert "NUL" in L.target_directory_problem("a\0b")
    assert "inside /proc" in L.target_directory_problem("/proc/runs")
    assert "inside /sys" in L.target_directory_problem("/sys/x/runs")
    assert "is a file, not a folder" in L.target_directory_problem(str(tmp_path / "afile" / "runs"))
    assert L.target_directory_problem(str(tmp_path / "new" / "deeper")) is None
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        assert "no write permission" in L.target_directory_problem(str(ro / "runs"))


def test_memory_error_above_the_free_memory_and_warning_near_it():
    gb = 2**30
    assert L.memory_problem(80 * gb, 24 * gb, 23 * gb) == (
        "error",
        "the buffers' slots need 80.0 GB, more than the 23.0 GB of available RAM: make slot_count or data_length smaller",
    )
    severity, message = L.memory_problem(20 * gb, 22 * gb, 64 * gb)
    assert severity == "warning" and "91 % of the 22.0 GB of free shared memory in /dev/shm" in message
    assert L.memory_problem(gb, 22 * gb, 64 * gb) is None
    assert L.memory_problem(gb, None, 64 * gb) is None
