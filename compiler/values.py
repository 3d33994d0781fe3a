"""Literal values shared by `check` (is it well-formed?) and `emit` (what does it mean?):
durations, URLs, origins, env variable names, URL templates and dotted paths.

Every function returns `None` (or raises nothing) for bad input and lets the caller word
the finding, so the two passes can never disagree about what a literal means.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from rules.origins import DEFAULT_PORTS, origin_problem, scheme_of
from rules.origins import url_origin as _origin

UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_MS = 365 * UNITS_MS["d"]  # beyond a year a timer or timeout is a typo, not a plan
MAX_RETRIES = 1000
DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)([A-Za-z][A-Za-z0-9_]*|)\Z")
ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
ORIGIN_RE = re.compile(r"([^\s/:@]+):(\d{1,5})\Z")
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
# RFC 6570 level 4: an optional operator, then varspecs `name[.name...]` with a `:N`
# prefix or `*` explode modifier. Names are field paths, so no percent-encoded names.
TEMPLATE_OPERATORS = "+#./;?&"
VARSPEC_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?::[1-9][0-9]{0,3}|\*)?\Z")


RATE_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000}
MAX_RATE_COUNT = 1_000_000
QUERY_NAME_RE = re.compile(r"[A-Za-z0-9._~-]+\Z")  # unreserved: sent as written, never escaped
_QUERY_LITERAL_RE = re.compile(r"[?&]([^=&#{}]+)=")
_QUERY_EXPANSION_RE = re.compile(r"\{[?&]([^{}]*)\}")


def rate_problem(count: int, unit: str) -> str | None:
    """Why `rate COUNT/UNIT` is wrong, or None."""
    if unit not in RATE_UNITS_MS:
        return "the unit must be `s`, `m` or `h` (requests a second, minute or hour)"
    if not 1 <= count <= MAX_RATE_COUNT:
        return f"the count must be from 1 to {MAX_RATE_COUNT:,}"
    return None


def header_value_problem(text: str) -> str | None:
    """Why `text` cannot start an HTTP header value (RFC 9110 field-value), or None."""
    bad = next((c for c in text if not (" " <= c <= "~" or c == "\t")), None)
    return None if bad is None else f"it holds {bad!r}, which a header value may not"


def query_names(path: str) -> set[str]:
    """The query parameter names a URL template sets: `?a=1&b=2` and `{?a,b}`/`{&c}`."""
    names = {m.group(1) for m in _QUERY_LITERAL_RE.finditer(path)}
    for m in _QUERY_EXPANSION_RE.finditer(path):
        names |= {v.strip().rstrip("*").split(":")[0] for v in m.group(1).split(",")}
    return names


def duration_ms(text: str) -> int | None:
    """`"5m"` -> 300000, `"1.5s"` -> 1500; None unless a positive whole number of ms."""
    if duration_problem(text):
        return None
    numerator, denominator = _ms(DURATION_RE.match(text))
    return numerator // denominator


def _ms(m: re.Match) -> tuple[int, int]:
    """The duration in ms as a fraction `(numerator, denominator)`: exact, no floats."""
    whole, _, frac = m.group(1).partition(".")
    frac = frac.rstrip("0")  # `1.50000s` is `1.5s`: keeps the numbers small
    return int((whole + frac).lstrip("0") or "0") * UNITS_MS[m.group(2)], 10 ** len(frac)


def duration_problem(text: str) -> str | None:
    """Why `text` is not a duration (for the message), or None when it is one."""
    m = DURATION_RE.match(text)
    if m is None:
        return "expected a number followed by a unit: ms, s, m, h or d"
    if m.group(2) not in UNITS_MS:
        if not m.group(2):
            return "missing unit: use ms, s, m, h or d"
        return f"unknown unit `{m.group(2)}`: use ms, s, m, h or d"
    whole, _, frac = m.group(1).partition(".")
    if len(whole.lstrip("0")) > 12:  # more than 365d in any unit; and `int()` of 4301 digits raises
        return "a duration can be at most 365d"
    if len(frac.rstrip("0")) > 12:  # no unit is a whole number of ms with a finer fraction
        return "a duration must be a whole number of milliseconds"
    numerator, denominator = _ms(m)
    if numerator == 0:
        return "a duration must be greater than zero"
    if numerator % denominator:
        return "a duration must be a whole number of milliseconds"
    if numerator // denominator > MAX_MS:
        return "a duration can be at most 365d"
    return None


def url_problem(url: str) -> str | None:
    """Why `url` is not an http(s) URL with a host, or None."""
    if not url or any(c.isspace() for c in url):
        return "a URL cannot be empty or contain spaces"
    if "[" in url or "]" in url:
        return "IPv6 hosts are not supported; use a host name"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return str(exc)
    if parts.scheme not in DEFAULT_PORTS:
        return "expected an http:// or https:// URL"
    if not parts.hostname:
        return "the URL has no host"
    if ":" in parts.hostname:
        return "IPv6 hosts are not supported; use a host name"
    try:
        port = parts.port
    except ValueError:
        return "the URL's port is not a number from 1 to 65535"
    if port == 0:
        return "the URL's port is not a number from 1 to 65535"
    if parts.query or parts.fragment:
        return "a base URL cannot have a query or a fragment"
    return None


def url_origin(url: str) -> str | None:
    """`"http://h:8787/x"` -> `"h:8787"`, default port filled in; None for a bad URL or
    one without an origin the runtime would send a token to (`rules.origins`)."""
    origin = None if url_problem(url) else _origin(url)
    return origin.host_port if origin else None


def base_origin_problem(url: str) -> str | None:
    """Why a well-formed base URL still has no origin under the runtime's rule, or None."""
    return None if url_problem(url) else origin_problem(url)


def downgrade_problem(entry: str, base: str | None) -> str | None:
    """Why an `allow` entry written as an origin URL would downgrade an https api, or None."""
    if base is None or scheme_of(base) != "https" or not entry.lower().startswith("http://"):
        return None
    return "this api's base is https, and its token never travels over plain http"


def default_port(url: str | None) -> int:
    """The port an `allow` entry without one gets: the default of the base URL's scheme."""
    return 80 if url and url.startswith("http://") else 443


def parse_origin(text: str, default_port: int) -> str | None:
    """An `allow` entry as `"host:port"`: accepts `host:port`, a bare `host` (with
    `default_port`, the base's scheme default), or an origin URL `http(s)://host[:port]`;
    None when malformed."""
    if "://" in text:
        if url_problem(text) or urlsplit(text).path not in ("", "/"):
            return None
        return url_origin(text)
    if ":" not in text:
        text = f"{text}:{default_port}"
    m = ORIGIN_RE.match(text)
    if m is None or not 1 <= int(m.group(2)) <= 65535:
        return None
    return f"{m.group(1).lower()}:{int(m.group(2))}"


UNPAIRED = "its braces do not pair up"
SPACES = "a URL template cannot contain spaces"
NOT_A_NAME = "`{{{}}}` is not a field name"
TEMPLATE_SHAPE_PROBLEMS = (UNPAIRED, SPACES)
IDENT_CHARS = re.compile(r"[A-Za-z0-9_.$-]*\Z")  # what v1 read as a (wrong) field name


def template_names(template: str) -> tuple[list[str], str | None]:
    """The variable names of an RFC 6570 URL template, in order without repeats (dotted
    names such as `owner.login` whole), and why the template is malformed (or None)."""
    rest = PLACEHOLDER_RE.sub("", template)
    if "{" in rest or "}" in rest:
        return [], UNPAIRED
    if any(c.isspace() for c in template):
        return [], SPACES
    names: dict[str, None] = {}
    for expression in PLACEHOLDER_RE.findall(template):
        operator = expression[:1] if expression[:1] and expression[0] in TEMPLATE_OPERATORS else ""
        body = expression[len(operator):]
        for spec in body.split(","):
            m = VARSPEC_RE.match(spec)
            if m is None and not operator and IDENT_CHARS.match(spec):
                return [], NOT_A_NAME.format(expression)
            if m is None:
                return [], (f"`{{{expression}}}` is not a template expression such as `{{name}}`, "
                            "`{+url}` or `{owner.login}`")
            names.setdefault(m.group(1), None)
    return list(names), None


def template_origin(template: str) -> str | None:
    """The origin of a template that is an absolute URL up to its host (`https://h/{x}`),
    or None when it is a path or its host comes from a variable (`{+url}/x`)."""
    if not template.startswith(("http://", "https://")):
        return None
    literal = template.split("{", 1)[0]
    host_end = literal.find("/", literal.index("//") + 2)
    if host_end < 0 and "{" in template:
        return None  # the host itself is (partly) a variable
    return url_origin(literal[:host_end] if host_end >= 0 else literal)


def template_start_ok(template: str) -> bool:
    """A URL template is a path (`/...`), a variable holding a URL (`{+url}...`), or an
    absolute http(s) URL."""
    return template.startswith(("/", "{+", "http://", "https://"))


def dotted(path: str, *, star: bool = False) -> list[str] | None:
    """`"a.b"` -> `["a", "b"]`; None when a segment is empty or has spaces.
    With `star` (subscribe selectors), a segment may be `*` (one segment) or `**` (any)."""
    if not path:
        return None
    segments = path.split(".")
    for seg in segments:
        if not seg or any(c.isspace() for c in seg):
            return None
        if star and seg in ("*", "**"):
            continue
        if "*" in seg:
            return None
    return segments


def typed_value(text: str, type_name: str):
    """A `with` value written as text, as the JSON value of a field of `type_name`
    (`"42"` -> 42 for an integer); None when it is not one."""
    if type_name == "string":
        return text
    if type_name == "datetime":
        from datetime import datetime

        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return text
    if type_name == "boolean":
        return {"true": True, "false": False}.get(text)
    if type_name == "integer":
        return int(text) if re.fullmatch(r"-?[0-9]{1,18}", text) else None
    if type_name == "number":
        if not re.fullmatch(r"-?[0-9]{1,18}(\.[0-9]{1,18})?", text):
            return None
        return int(text) if "." not in text else float(text)
    return None
