"""Scenarios 4 and 5: a token refused mid-life, and a token that must not leave `allow`."""

from tests.reliability.scenarios import sneaky_urls, token_confined, token_revoked_midlife
from rules.origins import url_origin


async def test_a_401_mid_life_waits_and_token_set_at_the_root_resumes_all(rel_env):
    out = await token_revoked_midlife(rel_env, children=6)
    assert out.problems == [], "\n".join(out.problems)
    assert (out.loaded, out.duplicates, out.token_leaks) == (7, 0, 0), out
    assert out.ok, out


async def test_no_signal_or_redirect_sends_the_token_to_a_non_allowed_origin(rel_env):
    out = await token_confined(rel_env, children=3)
    assert out.problems == [], "\n".join(out.problems)
    assert (out.disallowed_requests, out.token_leaks, out.duplicates) == (0, 0, 0), out
    assert out.ok, out


def test_sneaky_urls_are_not_taken_for_the_allowed_origin():
    for url in sneaky_urls(1111, 2222):
        origin = url_origin(url)
        assert origin is None or origin.host_port != "127.0.0.1:1111", url
