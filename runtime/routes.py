"""Which httpx client a load goes out on: direct, or through the proxy the operator chose.

Stage: built by `runtime.worker.build_worker` from a `rules.proxies.ProxyChoice` (or none: every
request direct, whatever the environment says); used by `runtime.activities.LoadActivities`,
which reports the proxy's origin with each result so the workflow can show it in `status`.
The choice and the report come from the one `for_url` call, so what is shown is what was used.
"""

from __future__ import annotations

import importlib.util
import sys
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from rules.proxies import ProxyChoice


def http_client(proxy: httpx.Proxy | None = None) -> httpx.AsyncClient:
    """A client that never follows a redirect, never reads proxy variables (trust_env=False:
    an HTTP(S)_PROXY in the worker's environment would otherwise receive every token) and
    keeps no cookies: one client serves every workflow of the worker, each with its own
    token, and a cookie an API set in answer to one token would go out with the others."""
    _remember_that_sniffio_is_absent()
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, proxy=proxy,
                             cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
                             limits=httpx.Limits(max_connections=100))


def _remember_that_sniffio_is_absent() -> None:
    """httpcore asks `import sniffio` (which async library runs?) each time it sets up a lock
    or an event, several times a request; without sniffio installed (httpx no longer needs
    it), each ask searches the whole import path again and fails. That was 7% of the
    worker's CPU in bench/perf.py's fan-out. Once it is known to be absent, `import sniffio`
    fails at once (httpcore then takes asyncio, as it did); an installed sniffio is untouched."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]  # Python's "known to be absent"


class Routes:
    """`direct` for requests that use no proxy; one client of its own per chosen proxy (closed
    by `aclose`; `direct` is the caller's to close)."""

    def __init__(self, direct: httpx.AsyncClient, choice: ProxyChoice | None = None) -> None:
        self._direct = direct
        self._choice = choice
        # The credentials go to httpx as `auth` (a Proxy-Authorization header), never in a URL.
        self._via = {p: http_client(httpx.Proxy(p.url, auth=p.auth)) for p in (choice.proxies() if choice else [])}

    def for_url(self, url: httpx.URL) -> tuple[httpx.AsyncClient, str | None]:
        """The client for a request to `url`, and the origin of the proxy it goes through (None: direct)."""
        proxy = self._choice.proxy_for(url.scheme, url.raw_host.decode("ascii", "replace")) if self._choice else None
        if proxy is None:
            return self._direct, None
        return self._via[proxy], proxy.url

    async def aclose(self) -> None:
        for client in self._via.values():
            await client.aclose()
