import pytest

from tests.reliability.harness import kill_stray_workers
from tests.reliability.scenarios import Env


@pytest.fixture
def rel_env(client, temporal_address, tmp_path) -> Env:
    """The session's dev server and a scratch folder, as the scenarios take them."""
    return Env(client, temporal_address, tmp_path)


@pytest.fixture(autouse=True)
def no_stray_workers():
    """A scenario that failed half-way leaves no `swfc worker` running behind it."""
    yield
    kill_stray_workers()
