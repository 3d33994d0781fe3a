"""The worker's HTTP proxy: none unless the operator asks for one.

Stage: a pure rule read by the CLI (`swfc worker`/`swfc deploy` `--proxy URL` or
`--proxy-from-env`, checked before anything connects) and by the worker (which proxy a request
to a URL goes through). Standard library only.

A proxy sees every request it forwards, tokens included, so the worker never picks one up from
its environment by itself (issue 9 item 5); `--proxy-from-env` is the operator saying so. A
proxy URL may carry `user:password@`; those are secrets like tokens: they live only in
`Proxy.auth` (sent as `Proxy-Authorization`), and everything shown — status, queries, logs,
messages — is `Proxy.origin`, `scheme://host:port`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from rules.origins import Origin, url_origin, origin_problem


class ProxyProblem(ValueError):
    """A proxy setting swfc cannot use; the message never contains the URL (it may hold a password)."""


@dataclass(frozen=True, slots=True)
class Proxy:
    """Where the proxy is (`origin`) and its credentials (`auth`, or None). Its repr shows the
    origin only."""

    origin: Origin
    auth: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """`scheme://host:port`: the proxy without its credentials (what is shown, and what httpx is given)."""
        return str(self.origin)


def parse_proxy(url: str) -> Proxy:
    """The proxy `url` names: http or https, a host, an optional port and `user:password@`,
    nothing after the host but `/`.

    Raises:
        ProxyProblem saying what is wrong, without echoing `url`.
    """
    scheme, sep, rest = url.partition("://") if isinstance(url, str) else ("", "", "")
    userinfo, at, host_part = rest.rpartition("@")
    bare = f"{scheme}{sep}{host_part}"
    problem = origin_problem(bare)
    if problem is None and (urlsplit(bare).path not in ("", "/") or "?" in bare or "#" in bare):
        problem = "it has a path, query or fragment (a proxy is scheme://host:port)"
    if problem is not None:
        raise ProxyProblem(f"the proxy URL cannot be used: {problem}")
    origin = url_origin(bare)
    assert origin is not None
    if not at:
        return Proxy(origin)
    user, _, password = userinfo.partition(":")
    return Proxy(origin, (unquote(user), unquote(password)))


@dataclass(frozen=True, slots=True)
class ProxyChoice:
    """Which proxy a request goes through: `by_scheme` (`http`/`https` → proxy) unless the
    target host is in `bypass` (`NO_PROXY` entries: a host matches itself and its subdomains,
    on any port; `*` matches every host)."""

    by_scheme: Mapping[str, Proxy]
    bypass: tuple[str, ...] = ()

    def proxy_for(self, scheme: str, host: str) -> Proxy | None:
        """The proxy a request to `scheme://host` goes through, or None (direct)."""
        host = host.lower().rstrip(".")
        if any(entry == "*" or host == entry or host.endswith("." + entry) for entry in self.bypass):
            return None
        return self.by_scheme.get(scheme)

    def proxies(self) -> list[Proxy]:
        """Each distinct proxy once."""
        return list(dict.fromkeys(self.by_scheme.values()))


def fixed_proxy(url: str) -> ProxyChoice:
    """`--proxy URL`: every request through that proxy."""
    proxy = parse_proxy(url)
    return ProxyChoice({"http": proxy, "https": proxy})


def proxy_from_env(environ: Mapping[str, str]) -> ProxyChoice:
    """`--proxy-from-env`: `http_proxy`/`https_proxy` per target scheme, else `all_proxy`,
    except the hosts in `no_proxy` (each name lower case first, then upper case, as curl and
    httpx read them).

    Raises:
        ProxyProblem naming the variable (never its value) that cannot be used.
    """
    def read(name: str) -> str | None:
        for spelling in (name, name.upper()):
            if environ.get(spelling):
                return spelling
        return None

    by_scheme = {}
    for scheme in ("http", "https"):
        var = read(f"{scheme}_proxy") or read("all_proxy")
        if var is not None:
            try:
                by_scheme[scheme] = parse_proxy(environ[var])
            except ProxyProblem as exc:
                raise ProxyProblem(f"{var}: {exc}") from None
    no_proxy = environ.get(read("no_proxy") or "", "")
    hosts = (entry.strip().lower().split(":")[0] for entry in no_proxy.split(","))  # any port of a host
    bypass = tuple(host.lstrip("*").lstrip(".") or "*" for host in hosts if host)
    return ProxyChoice(by_scheme, bypass)
