import os
import pathlib

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = pathlib.Path(__file__).resolve().parent.parent


def shm_segments() -> set[str]:
    """Our shared-memory segments (Python names them psm_*)."""
    path = pathlib.Path("/dev/shm")
    if not path.exists():
        return set()
    return {p.name for p in path.iterdir() if p.name.startswith("psm_")}


@pytest.fixture
def no_shm_leak():
    before = shm_segments()
    yield
    leaked = shm_segments() - before
    assert not leaked, f"shared memory left behind: {sorted(leaked)}"


@pytest.fixture(params=["fork", "spawn"])
def start_method(request):
    return request.param
