import pytest

from tests.reliability.scenarios import Env


@pytest.fixture
def rel_env(client, temporal_address, tmp_path) -> Env:
    """The session's dev server and a scratch folder, as the scenarios take them."""
    return Env(client, temporal_address, tmp_path)
