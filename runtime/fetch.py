"""One GET of one URL of an api: the request layer every load goes through.

Stage: runs on the worker, inside the HTTP activity (`runtime.activities`), never in the
workflow sandbox. Takes the shared `httpx.AsyncClient`, the `Api` (auth, timeout), a URL
without credentials, the plain token (or None) and the validators remembered for that URL;
gives a typed `Outcome`. Every request of a load — a record's `source`, each page of a
collection — is one call of `get_json`, so conditional requests, rate limits and the token's
place (header or query parameter) are decided here once.

- `ok`: 2xx with a JSON body; `validators` are the response's `ETag`/`Last-Modified` (to
  remember for this URL) and `next_url` its RFC 8288 `Link: <…>; rel="next"`, if any
  (absolute, and without the `auth query` parameter: APIs echo it into their links).
- `not_modified`: a 304 answering `If-None-Match`/`If-Modified-Since`: nothing changed.
- `rate_limited`: a 429, or a 403 carrying `X-RateLimit-Remaining: 0` or `Retry-After`
  (GitHub's primary and secondary limits): `retry_after_ms` is how long to wait before the
  next request, the latest of `Retry-After` (seconds or HTTP date), `X-RateLimit-Reset`
  (epoch seconds) and `RateLimit-Reset` (seconds).
- `unauthorized`: a 401, or a 403 without those headers: the token was refused.
Everything else is an `ApplicationError` whose retryability follows DESIGN.md §4: 5xx,
timeouts and connection errors retry; other statuses and bodies that are not JSON do not.

The URL a caller passes and keys validators by never holds the token: with
`auth query "NAME"` the parameter is added to the request here, messages show it as
`NAME=***`, every message is scrubbed of the token, and httpx's own request log has the
values of such parameters masked too.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import quote, quote_plus

import httpx
from temporalio.exceptions import ApplicationError

from runtime.ir import Api

MAX_RATE_LIMIT_WAIT_MS = 3_600_000  # GitHub's primary limit resets within the hour
DEFAULT_RATE_LIMIT_WAIT_MS = 60_000  # GitHub: "wait at least one minute" when it gives no time

Kind = Literal["ok", "not_modified", "rate_limited", "unauthorized"]


@dataclass(frozen=True, slots=True)
class Validators:
    """What makes the next GET of a URL conditional: the response's `ETag` and `Last-Modified`."""

    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def of(cls, value: Any) -> Validators:
        """From the `{"etag", "last_modified"}` dict a workflow keeps per URL (None: none)."""
        if not isinstance(value, dict):
            return cls()
        etag, modified = value.get("etag"), value.get("last_modified")
        return cls(etag if isinstance(etag, str) else None, modified if isinstance(modified, str) else None)

    def to_dict(self) -> dict[str, str | None] | None:
        return {"etag": self.etag, "last_modified": self.last_modified} if self else None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one GET came to (see the module docstring): `body` for `ok`; `validators` of the
    response for `ok`; `next_url` (absolute) for `ok`; `retry_after_ms` for `rate_limited`."""

    kind: Kind
    http_status: int
    body: Any = None
    validators: Validators = Validators()
    next_url: str | None = None
    retry_after_ms: int | None = None


async def get_json(client: httpx.AsyncClient, api: Api, url: str, token: str | None,
                   validators: Validators = Validators(), *, proxy: str | None = None) -> Outcome:
    """GET `url` with the api's auth and timeout, conditionally when `validators` are given.

    Args:
        client: the worker's shared client (redirects are never followed).
        api: the api the URL belongs to; its origin check is the caller's (before the token).
        url: the URL as shown and remembered: never holding the token.
        token: the plain token, or None for an api without auth.
        validators: what was remembered for `url` (only when the caller still holds the data).
        proxy: the origin of the proxy `client` goes through, for messages (None: direct).
    Returns:
        The `Outcome`. Raises `ApplicationError` for everything else (module docstring).
    """
    headers, params = _credentials(api, token)
    # Merged here: httpx's `params=` replaces a URL's own query instead of adding to it.
    target = httpx.URL(url).copy_merge_params(params) if params else httpx.URL(url)
    headers.update(validators.request_headers())
    shown = shown_url(api, url)
    through = f" through proxy {proxy}" if proxy else ""
    failure: ApplicationError | None = None
    try:
        response = await client.get(target, headers=headers, timeout=api.timeout_ms / 1000)
    except httpx.TimeoutException:
        failure = ApplicationError(f"GET {shown}{through} timed out after {api.timeout_ms} ms", type="HttpTimeout")
    except httpx.HTTPError as exc:
        message = scrub(f"GET {shown}{through} failed: {type(exc).__name__}: {exc}", token)
        failure = ApplicationError(message, type="HttpTransportError")
    if failure is not None:
        raise failure  # outside the except: no __context__ holding httpx's text (headers, URL)
    outcome = _outcome(shown, response)
    if outcome.next_url and api.auth.scheme == "query" and api.auth.query:
        outcome = replace(outcome, next_url=str(httpx.URL(outcome.next_url).copy_remove_param(api.auth.query)))
    return outcome


def shown_url(api: Api, url: str) -> str:
    """`url` as messages show it: with `auth query "NAME"`, `NAME=***` where the token goes."""
    if api.auth.scheme != "query" or not api.auth.query:
        return url
    _MASKED_PARAMS.add(api.auth.query)
    return str(httpx.URL(url).copy_merge_params({api.auth.query: "***"})).replace("%2A%2A%2A", "***")


def _credentials(api: Api, token: str | None) -> tuple[dict[str, str], dict[str, str] | None]:
    """The request headers and query parameters that carry the token."""
    if token is None:
        return {}, None
    if api.auth.scheme == "query":
        return {}, {api.auth.query or "api_key": token}
    return {api.auth.header or "Authorization": (api.auth.prefix or "") + token}, None


def _outcome(url: str, response: httpx.Response) -> Outcome:
    status = response.status_code
    if status == 304:
        return Outcome("not_modified", status)
    wait_ms = rate_limit_wait_ms(status, response.headers)
    if wait_ms is not None:
        return Outcome("rate_limited", status, retry_after_ms=wait_ms)
    if status in (401, 403):
        return Outcome("unauthorized", status)
    if status >= 500:
        raise ApplicationError(f"GET {url}: HTTP {status}", type="HttpServerError")
    if not 200 <= status < 300:
        # 3xx included: redirects are not followed, so a token never follows one to another origin
        raise ApplicationError(f"GET {url}: HTTP {status}", non_retryable=True, type="HttpClientError")
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nested past what the parser reads
        raise ApplicationError(f"GET {url}: malformed JSON at $: {exc}", non_retryable=True,
                               type="MalformedResponse") from None
    validators = Validators(response.headers.get("etag"), response.headers.get("last-modified"))
    nxt = response.links.get("next", {}).get("url")
    return Outcome("ok", status, body, validators, str(response.url.join(nxt)) if nxt else None)


def rate_limit_wait_ms(status: int, headers: httpx.Headers) -> int | None:
    """How long a rate-limited response asks us to wait, in ms; None when it is not one.

    A 429 always is; a 403 is when it carries `X-RateLimit-Remaining: 0` or `Retry-After`
    (GitHub's way), else it is a refused token. Epoch resets are read against the response's
    `Date` when it has one, so a worker whose clock is off still waits as long as the server
    means. No usable header: `DEFAULT_RATE_LIMIT_WAIT_MS`."""
    limited = status == 429 or status == 403 and (
        headers.get("x-ratelimit-remaining", "").strip() == "0" or "retry-after" in headers)
    if not limited:
        return None
    now = _http_date(headers.get("date")) or datetime.now(timezone.utc).timestamp()
    waits = [w for w in (
        _retry_after_s(headers.get("retry-after"), now),
        _number(headers.get("x-ratelimit-reset"), lambda v: v - now),
        _number(headers.get("ratelimit-reset"), lambda v: v),
    ) if w is not None]
    if not waits:
        return DEFAULT_RATE_LIMIT_WAIT_MS
    return int(min(max(0.0, max(waits)) * 1000, MAX_RATE_LIMIT_WAIT_MS))


def _retry_after_s(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds or an HTTP date, in seconds from `now`."""
    seconds = _number(value, lambda v: v)
    if seconds is not None:
        return seconds
    when = _http_date(value)
    return when - now if when is not None else None


def _number(value: str | None, to_wait: Any) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return to_wait(number) if number is not None and math.isfinite(number) else None


def _http_date(value: str | None) -> float | None:
    """An HTTP date as epoch seconds, or None when absent or unreadable."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


_MASKED_PARAMS: set[str] = set()  # the `auth query` parameter names seen by this worker


class _MaskQueryTokens(logging.Filter):
    """Masks the values of `auth query` parameters in httpx's "HTTP Request: GET url" lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _MASKED_PARAMS and record.args:
            names = "|".join(re.escape(n) for n in sorted(_MASKED_PARAMS))
            pattern = re.compile(rf"([?&](?:{names})=)[^&#\s\"']*")
            record.args = tuple(pattern.sub(r"\1***", str(a)) if isinstance(a, (str, httpx.URL)) else a
                                for a in record.args)
        return True


logging.getLogger("httpx").addFilter(_MaskQueryTokens())


def scrub(text: str, token: str | None) -> str:
    """`text` without the token in any spelling a message may use (as is, as Python shows a
    str or bytes, percent-escaped as a path or a query would carry it)."""
    if not token:
        return text
    spellings = {token, repr(token)[1:-1], repr(token.encode())[2:-1], quote(token, safe=""), quote_plus(token)}
    for spelling in sorted(spellings, key=len, reverse=True):
        text = text.replace(spelling, "***")
    return text
