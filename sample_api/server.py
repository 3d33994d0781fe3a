"""A tiny HTTP API for the examples and the tests: JSON records by path, credentials per
path prefix, a request log, and fault injection.

It is a real server on 127.0.0.1 (stdlib ``ThreadingHTTPServer`` in a daemon thread), so
the runtime's activities talk to it over HTTP exactly as they would to a production API.

    api = SampleAPI().start()                    # ephemeral port; api.url == "http://127.0.0.1:PORT"
    api.set_entity("/users/u1", {"data": {...}})
    api.set_list("/repos/o/r/issues", items, style="link", page_size=30)  # a list endpoint (sample_api/lists.py)
    api.require_auth("/users/", "t0k3n")         # Authorization: Bearer t0k3n, else 401
    api.require_auth("/tickets/", "k3y", header="X-Api-Key")
    api.require_auth("/users/", "n3w")           # rotated: the old token gets 401 until n3w is used
    api.fail("/users/u1", times=2)               # two 500s, then normal
    api.rate_limit("/users/u1", retry_after=1)   # one 429 with Retry-After: 1
    api.rate_limit("/users/u1", status=403, retry_after=None, reset_in=5)
                                                 # one GitHub primary-limit 403: X-RateLimit-Remaining: 0,
                                                 # X-RateLimit-Reset: now + 5 s (epoch seconds)
    api.require_auth("/repos/", "k3y", query="api_key")  # ?api_key=k3y, else 401
    api.set_headers("/items", {"Link": '</items?page=2>; rel="next"'})  # more headers on its answers
    api.stall("/users/u1", seconds=5)            # every request sleeps 5 s before answering
    api.malformed("/users/u1")                   # one 200 with a body that is not JSON
    api.unauthorized("/users/u1")                # one 401 whatever the credentials
    api.invalid("/users/u1", {"data": {"id": 1}})  # one 200 with this (schema-invalid) body (bytes: as they are)
    api.drop("/users/u1")                        # one connection closed without an answer
    api.redirect("/users/u1", "http://elsewhere/")  # one 302 to another origin
    api.fail("/items/*", times=None, rate=0.3)   # 30% of requests under /items/ get a 500
    api.fail("/users/u1", after=3)               # the 4th request gets a 500
    api.clear_faults()
    api.requests_to("/users/u1")                 # [Request(method, path, auth, headers, status, at), ...]
    api.stop()

A route is an exact path, or a prefix ending in ``*``. For each request the faults of the
matching routes are tried in the order they were injected: a fault applies once ``after``
requests to its route have gone by, then with probability ``rate`` (from the API's seeded
random generator, so a run is repeatable), at most ``times`` times (``None``: forever).
Faults only hit requests that pass the credential check (a "500 then data" is exactly that
for a client with a good token); 401s from credentials are decided first.
Only GET and HEAD are served (the DSL's sources are `get`); other methods answer 405.

Conditional requests, as GitHub answers them: every 200 carries ``ETag`` (a hash of the
body) and ``Last-Modified`` (when ``set_entity`` last changed that path's body); a request
whose ``If-None-Match`` names the current ETag (or, without one, whose ``If-Modified-Since``
is not older than ``Last-Modified``) gets a 304 with no body. ``api.validators = {"etag"}``
(or ``{"last-modified"}``, or ``set()``) limits which of the two are served.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import math
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sample_api.lists import ListRoute, answer as list_answer

__all__ = ["SampleAPI", "Request", "Fault", "Credential"]


@dataclass(frozen=True)
class Request:
    """One request as the server saw it.

    Fields: method, path (without query string), auth (the value of the credential header
    or query parameter that applies to the path — ``Authorization`` if no rule applies — or
    None), headers (all request headers), status (what the server answered; 0 for a dropped
    connection), at (``time.monotonic()`` when it arrived), epoch (``time.time()`` then: to
    compare with the epoch resets this server announces), query (the query string).
    """

    method: str
    path: str
    auth: str | None
    headers: dict[str, str]
    status: int
    at: float = 0.0
    epoch: float = 0.0
    query: str = ""


@dataclass(frozen=True)
class Credential:
    """Requests under ``prefix`` must carry ``header`` (or, when ``query`` is set, that query
    parameter instead) with one of ``values`` (full header values)."""

    prefix: str
    header: str
    values: frozenset[str]
    query: str | None = None


@dataclass
class Fault:
    """What to do instead of answering normally: kind is one of ``status`` (``status``,
    500 by default), ``429`` (``retry_after``), ``stall`` (``seconds``, then the normal
    answer), ``malformed``, ``401``, ``invalid`` (``body``), ``drop`` (close the connection
    unanswered), ``redirect`` (302 to ``location``). ``429`` answers ``status`` (429, or 403
    as GitHub does) with ``Retry-After: retry_after`` unless it is None, and with
    ``reset_in`` GitHub's ``X-RateLimit-*`` headers: none remaining, reset that many seconds
    from the answer (epoch seconds, rounded up). ``times`` None = forever; ``rate``: the
    probability that a request it could hit gets it; ``after``: requests to the route that
    go by before it starts."""

    kind: str
    times: int | None = 1
    status: int = 500
    retry_after: float = 1
    seconds: float = 0
    body: Any = None
    rate: float = 1.0
    after: int = 0
    location: str = ""
    reset_in: float | None = None


@dataclass
class _State:
    entities: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, ListRoute] = field(default_factory=dict)
    modified: dict[str, float] = field(default_factory=dict)  # path -> epoch of its last change
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # path -> extra headers of its 200s
    credentials: list[Credential] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)  # requests per fault route
    log: list[Request] = field(default_factory=list)


class SampleAPI:
    """A JSON API on 127.0.0.1; thread-safe to configure while it serves."""

    def __init__(self, entities: dict[str, Any] | None = None, *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._state = _State(entities=dict(entities or {}))
        self._random = random.Random(seed)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.validators: set[str] = {"etag", "last-modified"}

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path, env: dict[str, str] | None = None) -> "SampleAPI":
        """Load entities and credentials from a data file (see ``sample_api/data.json``).

        Credentials name an env var and a demo default: ``{"prefix", "header", "scheme",
        "env", "default"}``; scheme ``bearer`` means the header value is ``Bearer <token>``.
        Lists (``{"lists": {path: {"items", "style", "page_size", "wrap"}}}``) are served as
        ``set_list`` does. ``${BASE}`` in any string is answered as the server's own URL.
        """
        import os

        env = os.environ if env is None else env
        doc = json.loads(Path(path).read_text())
        api = cls(doc.get("entities", {}))
        for path, spec in doc.get("lists", {}).items():
            api.set_list(path, spec["items"], style=spec.get("style", "link"),
                         page_size=spec.get("page_size", 30), wrap=spec.get("wrap"))
        for rule in doc.get("credentials", []):
            token = env.get(rule["env"]) or rule["default"]
            api.require_auth(rule["prefix"], token, header=rule.get("header", "Authorization"),
                             scheme=rule.get("scheme", "bearer"))
        return api

    def start(self, port: int = 0, host: str = "127.0.0.1") -> "SampleAPI":
        """Start serving in a daemon thread; port 0 picks a free one. Returns self."""
        self._server = _Server((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"sample-api-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "SampleAPI":
        return self if self._server else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- data --------------------------------------------------------------------------

    def set_entity(self, path: str, body: Any) -> None:
        """Serve ``body`` (any JSON value) at ``path`` from now on."""
        with self._lock:
            if self._state.entities.get(path) != body or path not in self._state.modified:
                self._state.modified[path] = time.time()
            self._state.entities[path] = body

    def set_headers(self, path: str, headers: dict[str, str]) -> None:
        """Send ``headers`` too with every 200 (and 304) of ``path`` (e.g. a ``Link``)."""
        with self._lock:
            self._state.headers[path] = dict(headers)

    def set_list(self, path: str, items: list[Any], *, style: str = "link", page_size: int = 30,
                 wrap: str | None = None, next_base: str | None = None, max_size: int | None = None) -> None:
        """Serve ``items`` at ``path`` as a list endpoint in one of the real services' shapes
        (``sample_api/lists.py``: bare, link, page, cursor, last, next, offset), pages of at most
        ``max_size`` items whatever size is asked for; its pages get validators and 304s like
        any other 200."""
        with self._lock:
            self._state.lists[path] = ListRoute(list(items), style, page_size, wrap, next_base, max_size)

    def remove_entity(self, path: str) -> None:
        """``path`` answers 404 from now on."""
        with self._lock:
            self._state.entities.pop(path, None)

    def entity(self, path: str) -> Any:
        with self._lock:
            return self._state.entities.get(path)

    # -- credentials -------------------------------------------------------------------

    def require_auth(self, prefix: str, *tokens: str, header: str = "Authorization",
                     scheme: str | None = None, query: str | None = None) -> None:
        """Paths starting with ``prefix`` need one of ``tokens`` (replaces an earlier rule for
        the same prefix). With header ``Authorization`` the scheme defaults to ``bearer``:
        the header must read ``Bearer <token>``; for any other header it is the raw token;
        ``scheme="token"`` is GitHub's ``Authorization: token <token>``. With ``query`` the
        token is the raw value of that query parameter instead of a header."""
        if scheme is None:
            scheme = "bearer" if header.lower() == "authorization" and query is None else "header"
        prefixes = {"bearer": "Bearer ", "token": "token "}
        values = frozenset(prefixes.get(scheme, "") + t for t in tokens)
        with self._lock:
            rules = [c for c in self._state.credentials if c.prefix != prefix]
            rules.append(Credential(prefix, header, values, query))
            # Longest prefix first, so the most specific rule applies.
            self._state.credentials = sorted(rules, key=lambda c: -len(c.prefix))

    def _credential_for(self, path: str) -> Credential | None:
        return next((c for c in self._state.credentials if path.startswith(c.prefix)), None)

    # -- faults ------------------------------------------------------------------------

    def inject(self, route: str, fault: Fault) -> None:
        """Add ``fault`` on ``route`` (a path, or a prefix ending in ``*``)."""
        with self._lock:
            self._state.faults.setdefault(route, []).append(fault)

    def fail(self, route: str, times: int | None = 1, status: int = 500, **when: Any) -> None:
        self.inject(route, Fault("status", times, status=status, **when))

    def rate_limit(self, route: str, retry_after: float | None = 1, times: int | None = 1, *,
                   status: int = 429, reset_in: float | None = None, **when: Any) -> None:
        self.inject(route, Fault("429", times, status=status, retry_after=retry_after, reset_in=reset_in, **when))

    def stall(self, route: str, seconds: float, times: int | None = None, **when: Any) -> None:
        self.inject(route, Fault("stall", times, seconds=seconds, **when))

    def malformed(self, route: str, times: int | None = 1, **when: Any) -> None:
        self.inject(route, Fault("malformed", times, **when))

    def unauthorized(self, route: str, times: int | None = 1, **when: Any) -> None:
        self.inject(route, Fault("401", times, **when))

    def invalid(self, route: str, body: Any, times: int | None = 1, **when: Any) -> None:
        self.inject(route, Fault("invalid", times, body=body, **when))

    def drop(self, route: str, times: int | None = 1, **when: Any) -> None:
        self.inject(route, Fault("drop", times, **when))

    def redirect(self, route: str, location: str, times: int | None = 1, **when: Any) -> None:
        self.inject(route, Fault("redirect", times, location=location, **when))

    def clear_faults(self, route: str | None = None) -> None:
        with self._lock:
            if route is None:
                self._state.faults.clear()
                self._state.seen.clear()
            else:
                self._state.faults.pop(route, None)
                self._state.seen.pop(route, None)

    def _take_fault(self, path: str) -> Fault | None:
        """The fault this request gets, if any (see the module docstring); under the lock."""
        chosen: Fault | None = None
        for route, queue in self._state.faults.items():
            if not _matches(route, path):
                continue
            seen = self._state.seen[route] = self._state.seen.get(route, 0) + 1
            if chosen is not None:
                continue  # still counted: `after` is about requests to the route
            for fault in queue:
                if seen <= fault.after or (fault.rate < 1 and self._random.random() >= fault.rate):
                    continue
                chosen = fault
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.remove(fault)
                break
        return chosen

    # -- log ---------------------------------------------------------------------------

    def log(self) -> list[Request]:
        """Every request so far, oldest first."""
        with self._lock:
            return list(self._state.log)

    def requests_to(self, route: str) -> list[Request]:
        """Requests to a path, or under a prefix ending in ``*``."""
        return [r for r in self.log() if _matches(route, r.path)]

    def clear_log(self) -> None:
        with self._lock:
            self._state.log.clear()

    # -- answering ---------------------------------------------------------------------

    def _answer(self, method: str, path: str, query: str,
                headers: dict[str, str]) -> tuple[int, dict[str, str], bytes, float]:
        """Decide (status, extra headers, body, stall seconds) for one request, and log it."""
        with self._lock:
            rule = self._credential_for(path)
            if rule is not None and rule.query is not None:
                auth = parse_qs(query).get(rule.query, [None])[-1]
            else:
                auth = _header(headers, rule.header if rule else "Authorization")
            authorized = rule is None or auth in rule.values
            # A fault is only consumed by a request that would otherwise succeed on auth,
            # so "two 500s then data" means exactly that for a client with a good token.
            fault = self._take_fault(path) if authorized else None
            status, extra, body, stall = self._respond(method, path, authorized, fault, query)
            if status == 200 and fault is None:
                status, validators, body = self._conditional(path, headers, body)
                extra = {**extra, **validators}  # a list page's `Link` too
            self._state.log.append(Request(method, path, auth, headers, status, time.monotonic(), time.time(), query))
        return status, extra, body, stall

    def _conditional(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """A 200's validators, or a 304 when the request's validators still hold (RFC 9110
        §13.2.2: If-None-Match decides when present, else If-Modified-Since)."""
        etag = f'W/"{hashlib.sha256(body).hexdigest()[:20]}"'
        modified = int(self._state.modified.get(path, 0))
        extra = dict(self._state.headers.get(path, {}))
        if "etag" in self.validators:
            extra["ETag"] = etag
        if "last-modified" in self.validators:
            extra["Last-Modified"] = email.utils.formatdate(modified, usegmt=True)
        if_none_match, if_modified_since = _header(headers, "If-None-Match"), _header(headers, "If-Modified-Since")
        if if_none_match is not None and "ETag" in extra:
            fresh = etag in [t.strip() for t in if_none_match.split(",")]
        elif if_modified_since is not None and "Last-Modified" in extra:
            since = _epoch(if_modified_since)
            fresh = since is not None and modified <= since
        else:
            fresh = False
        return (304, extra, b"") if fresh else (200, extra, body)

    def _respond(self, method: str, path: str, authorized: bool, fault: Fault | None,
                 query: str = "") -> tuple[int, dict[str, str], bytes, float]:
        stall = fault.seconds if fault and fault.kind == "stall" else 0.0
        if method not in ("GET", "HEAD"):
            return 405, {}, _json({"error": "method not allowed"}), stall
        if not authorized or fault and fault.kind == "401":
            return 401, {"WWW-Authenticate": "Bearer"}, _json({"error": "unauthorized"}), stall
        if fault and fault.kind == "status":
            return fault.status, {}, _json({"error": "injected failure"}), stall
        if fault and fault.kind == "429":
            return fault.status, _rate_limit_headers(fault), _json(_RATE_LIMITED), stall
        if fault and fault.kind == "drop":
            return 0, {}, b"", stall
        if fault and fault.kind == "redirect":
            return 302, {"Location": fault.location}, b"", stall
        if fault and fault.kind == "malformed":
            return 200, {}, b'{"data": {"id": ', stall
        if fault and fault.kind == "invalid":
            return 200, {}, fault.body if isinstance(fault.body, bytes) else _json(fault.body), stall
        if path in self._state.lists:
            extra, value = list_answer(self._state.lists[path], self.url, path, query)
            return 200, extra, self._own_links(value), stall
        if path not in self._state.entities:
            return 404, {}, _json({"error": "not found", "path": path}), stall
        return 200, {}, self._own_links(self._state.entities[path]), stall

    def _own_links(self, value: Any) -> bytes:
        """The JSON body, with `${BASE}` in its strings spelled as this server's URL (data
        files write self links such as GitHub's `"url"` that way, whatever the port)."""
        return _json(value).replace(b"${BASE}", self.url.encode())


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a killed worker, a timeout) is not worth a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


_RATE_LIMITED = {"message": "API rate limit exceeded. (Authenticated requests get a higher rate limit.)",
                 "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}


def _rate_limit_headers(fault: Fault) -> dict[str, str]:
    """GitHub's headers on a rate-limited answer: ``Retry-After`` (secondary limits) and/or
    ``X-RateLimit-*`` with nothing remaining (the primary limit)."""
    headers = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    if fault.reset_in is not None:
        headers.update({"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Used": "60",
                        "X-RateLimit-Reset": str(math.ceil(time.time() + fault.reset_in)),
                        "X-RateLimit-Resource": "core"})
    return headers


def _epoch(http_date: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(http_date).timestamp()
    except (TypeError, ValueError):
        return None


def _matches(route: str, path: str) -> bool:
    return path.startswith(route[:-1]) if route.endswith("*") else path == route


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def _handler_for(api: SampleAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; on a kept-alive connection, without
        # TCP_NODELAY the second waits for the client's delayed ACK (~40 ms a request).
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            status, extra, body, stall = api._answer(self.command, parts.path, parts.query, dict(self.headers.items()))
            if stall:
                time.sleep(stall)
            if status == 0:  # a dropped connection: no status line, no body
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            try:
                self.send_response(status)
                if status != 304:  # RFC 9110 §15.4.5: a 304 has no content
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (e.g. its timeout fired during a stall)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the structured log is api.log(); keep test output quiet

    return Handler
