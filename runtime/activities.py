"""The HTTP activity: load one workflow's record from its API. The only module using httpx.

Stage: runs on the worker, outside the workflow sandbox. Takes the request dict built by
`Interpreter._load_request` (registration hash, workflow type, base URL, placeholder values,
sealed token); gives `{"status": "ok", "id", "store"}` with the normalized entities, or
`{"status": "unauthorized", "http_status"}` on 401/403 (the workflow then waits for a new
token), each with `"proxy"`: the origin of the proxy the request went through, or None.
Everything else that goes wrong is an `ApplicationError` whose retryability follows DESIGN.md §4: 5xx, timeouts and connection errors retry (the workflow's
RetryPolicy comes from the IR), 429 retries after `Retry-After`, other 4xx and bad bodies
do not. The token is opened here and only here, and no message, log line or exception
raised here contains it (every message is scrubbed, and httpx exceptions are not chained).
"""

from __future__ import annotations

import email.utils
import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from rules.names import LOAD_ACTIVITY
from runtime import registry
from rules.origins import DEFAULT_PORTS, Origin
from runtime.ir import IR, Api, Workflow
from runtime.normalize import InvalidData, normalize, select
from runtime.routes import Routes
from runtime.sealing import SealError, deployment, open_sealed, token_problem

MAX_RETRY_AFTER = timedelta(hours=1)


def build_url(base: str, path: str, values: dict[str, Any]) -> str:
    """Join the base URL and the path template, URL-quoting every placeholder value."""
    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    return base.rstrip("/") + path


class LoadActivities:
    """Activities sharing the worker's httpx clients (connection pools): one client, or the
    `Routes` that pick a client (direct or through a proxy) per URL."""

    def __init__(self, client: httpx.AsyncClient | Routes, seal_key: bytes | None = None) -> None:
        self._routes = client if isinstance(client, Routes) else Routes(client)
        self._key = seal_key

    @activity.defn(name=LOAD_ACTIVITY)
    async def load_entity(self, req: dict[str, Any]) -> dict[str, Any]:
        """Load, validate and normalize one record. See the module docstring."""
        ir, wf = _registration(req)
        assert wf.source is not None
        api = ir.apis[wf.source.api]
        url = build_url(req["base_url"], wf.source.path, req.get("values") or {})
        try:
            target = httpx.URL(url)  # parsed once: what is checked is what is requested
        except (httpx.InvalidURL, UnicodeError, ValueError):  # IDNAError is a UnicodeError
            raise ApplicationError("GET: the URL cannot be parsed", non_retryable=True, type="BadUrl") from None
        token = self._open(api, wf.source.api, req.get("token"), url, target)
        client, proxy = self._routes.for_url(target)  # the origin check above is on the target, not the proxy
        through = f" through proxy {proxy}" if proxy else ""
        failure: ApplicationError | None = None
        try:
            response = await client.get(target, headers=_auth_headers(api, token), timeout=api.timeout_ms / 1000)
        except httpx.TimeoutException:
            failure = ApplicationError(f"GET {url}{through} timed out after {api.timeout_ms} ms", type="HttpTimeout")
        except httpx.HTTPError as exc:
            message = _scrub(f"GET {url}{through} failed: {type(exc).__name__}: {exc}", token)
            failure = ApplicationError(message, type="HttpTransportError")
        if failure is not None:
            raise failure  # outside the except: no __context__ holding httpx's text (headers)
        return {**_interpret(ir, wf, req, url, response), "proxy": proxy}

    def _open(self, api: Api, source_api: str, sealed: Any, url: str, target: httpx.URL) -> str | None:
        if not api.needs_token:
            return None
        if sealed is None:
            raise ApplicationError(f"api {api.name} needs a token and none was given", non_retryable=True, type="NoToken")
        # Both parsers must agree on where the request goes before a token is attached.
        # `raw_host`: the host as sent (ASCII, xn-- form); `host` would decode it, and raise.
        sent_to = Origin(target.scheme, target.raw_host.decode("ascii", "replace"),
                         target.port or DEFAULT_PORTS.get(target.scheme, 0))
        if not api.allows(url) or not api.allows(str(sent_to)) or target.userinfo:
            raise ApplicationError(
                f"refusing to send the {api.name} token to a URL outside its allow list {list(api.allow)} "
                f"(over {api.scheme} only)",
                non_retryable=True,
                type="OriginNotAllowed",
            )
        if not isinstance(sealed, dict) or sealed.get("api") != source_api:
            raise ApplicationError(f"the token given for api {source_api} was sealed for another api",
                                   non_retryable=True, type="TokenMismatch")
        info = activity.info()
        try:
            token = open_sealed(sealed, self._key, deployment=deployment(info.workflow_namespace, info.task_queue))
        except SealError as exc:
            raise ApplicationError(str(exc), non_retryable=True, type="SealError") from None
        if token_problem(token):
            raise ApplicationError(f"the {api.name} token cannot go into an HTTP header: {token_problem(token)}",
                                   non_retryable=True, type="BadToken")
        return token

def _registration(req: dict[str, Any]) -> tuple[IR, Workflow]:
    ir = registry.get(req["ir_hash"])
    if ir is None:
        # Retryable: another worker of the same task queue may hold this registration.
        raise ApplicationError(f"this worker does not hold IR {req['ir_hash']}", type="UnknownIR")
    return ir, ir.workflows[req["workflow"]]


def _auth_headers(api: Api, token: str | None) -> dict[str, str]:
    if token is None:
        return {}
    if api.auth.scheme == "bearer":
        return {"Authorization": f"Bearer {token}"}
    return {api.auth.header or "Authorization": token}


def _interpret(ir: IR, wf: Workflow, req: dict[str, Any], url: str, response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    if status in (401, 403):
        return {"status": "unauthorized", "http_status": status}
    if status == 429:
        delay = _retry_after(response.headers.get("retry-after"))
        raise ApplicationError(f"GET {url}: 429 Too Many Requests", type="HttpRateLimited", next_retry_delay=delay)
    if status >= 500:
        raise ApplicationError(f"GET {url}: HTTP {status}", type="HttpServerError")
    if not 200 <= status < 300:
        # 3xx included: redirects are not followed, so a token never follows one to another origin
        raise ApplicationError(f"GET {url}: HTTP {status}", non_retryable=True, type="HttpClientError")
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApplicationError(f"GET {url}: malformed JSON at $: {exc}", non_retryable=True, type="MalformedResponse") from None
    return _normalized(ir, wf, req, url, body)


def _normalized(ir: IR, wf: Workflow, req: dict[str, Any], url: str, body: Any) -> dict[str, Any]:
    assert wf.source is not None
    try:
        value, at = select(body, wf.source.select)
        rid, store = normalize(ir, wf.entity, value, at)
    except InvalidData as exc:
        raise ApplicationError(f"GET {url}: schema-invalid {exc}", non_retryable=True, type="SchemaInvalid") from None
    if rid != req["entity_id"]:
        raise ApplicationError(
            f"GET {url}: the response is {wf.entity} {rid!r}, not {req['entity_id']!r}", non_retryable=True, type="SchemaInvalid"
        )
    return {"status": "ok", "id": rid, "store": store}


def _retry_after(value: str | None) -> timedelta | None:
    """`Retry-After` as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        delay = timedelta(seconds=float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        delay = when - datetime.now(timezone.utc)
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


def _scrub(text: str, token: str | None) -> str:
    """`text` without the token in any spelling an error message may use (as is, as
    Python shows a str or bytes, percent-escaped)."""
    if not token:
        return text
    for spelling in sorted({token, repr(token)[1:-1], repr(token.encode())[2:-1], quote(token, safe="")}, key=len, reverse=True):
        text = text.replace(spelling, "***")
    return text
