import os
import pathlib

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = pathlib.Path(__file__).resolve().parent.parent


def shm_segments(prefix: str = "mimocorb_") -> set[str]:
    """Our shared-memory segments in /dev/shm (named mimocorb_<pid>_<random>)."""
    path = pathlib.Path("/dev/shm")
    if not path.exists():
        return set()
    return {p.name for p in path.iterdir() if p.name.startswith(prefix)}


@pytest.fixture
def no_shm_leak(monkeypatch):
    """Fail if a segment created in this process during the test is still in /dev/shm afterwards.

    Only segments this test created are checked, so tests running elsewhere on the machine at the
    same time do not make it fail.
    """
    from mimocorb_gui.core.ringbuffer.segment import SharedMemoryBlock

    created: list[str] = []
    original = SharedMemoryBlock.__init__

    def init(self, name=None, create=False, size=0):
        original(self, name=name, create=create, size=size)
        if create:
            created.append(self.name)

    monkeypatch.setattr(SharedMemoryBlock, "__init__", init)
    yield created
    leaked = {n.lstrip("/") for n in created} & shm_segments()
    assert not leaked, f"shared memory left behind: {sorted(leaked)}"


@pytest.fixture(params=["fork", "spawn"])
def start_method(request):
    return request.param
