"""Origins: where a URL's request goes, and whether an api's `allow` list lets a token go there.

Stage: a pure rule shared by the compiler (does a `base` have an origin the runtime accepts?
what does an `allow` entry mean?) and the runtime (may this token go to this URL?), so the
two can never disagree about it. Standard library only.

An origin is scheme, host and port. The IR writes `allow` entries as `host:port`; their
scheme is the api's: a token of an api whose base is `https` only ever travels over https
(https never downgrades), one whose base is `http` may also go over https.

Strict on purpose, since `allow` is what keeps a token at home: URL parsers disagree about
backslashes, whitespace, control characters and non-ASCII text, and `user@host` can dress one
host up as another, so a URL holding any of those has no origin at all and no token goes there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
SCHEMES = tuple(DEFAULT_PORTS)


@dataclass(frozen=True, slots=True)
class Origin:
    """Scheme, lower-case host and port (the scheme's default filled in)."""

    scheme: str
    host: str
    port: int

    @property
    def host_port(self) -> str:
        """`host:port`, as `allow` lists write an origin."""
        return f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


def origin_problem(url: object) -> str | None:
    """Why `url` has no origin a token may go to (a short phrase for a message), or None."""
    if not isinstance(url, str) or not url:
        return "it is not a URL"
    if any(c <= " " or c == "\x7f" for c in url):
        return "it contains whitespace or a control character"
    if "\\" in url:
        return "it contains a backslash"
    if not url.isascii():
        return "it contains non-ASCII characters (write the host in its xn-- form)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "its host or port cannot be read (IPv6 hosts are not supported; a port is 1 to 65535)"
    if parts.scheme not in SCHEMES:
        return "it is not an http:// or https:// URL"
    if "@" in parts.netloc:
        return "it has user info (`user@`), which can make one host look like another"
    if "[" in parts.netloc or not parts.hostname:
        return "it has no host name (IPv6 hosts are not supported)"
    if port == 0:
        return "its port is not a number from 1 to 65535"
    if any(label.startswith("xn--") and not _punycode_ok(label) for label in parts.hostname.split(".")):
        return "its host has a malformed xn-- label"
    return None


def _punycode_ok(label: str) -> bool:
    try:
        label.encode("ascii").decode("idna")
    except UnicodeError:
        return False
    return True


def url_origin(url: object) -> Origin | None:
    """The origin of `url` (`http://Host/x` → `http://host:80`), or None (see `origin_problem`)."""
    if origin_problem(url) is not None:
        return None
    parts = urlsplit(url)  # type: ignore[arg-type]
    return Origin(parts.scheme, parts.hostname.lower(), parts.port or DEFAULT_PORTS[parts.scheme])


def scheme_of(url: str) -> str:
    """The scheme of an api's base URL, `https` unless it is plainly `http` (the safe side)."""
    return "http" if isinstance(url, str) and url.lower().startswith("http://") else "https"


def downgrades(api_scheme: str, origin: Origin) -> bool:
    """True when a token of an `api_scheme` api would travel in clear text to `origin`."""
    return api_scheme == "https" and origin.scheme != "https"


def allows(allow: Iterable[str], api_scheme: str, origin: Origin | None) -> bool:
    """May a token of an api (its `allow` list, its base's scheme) go to `origin`?"""
    return origin is not None and origin.host_port in set(allow) and not downgrades(api_scheme, origin)
