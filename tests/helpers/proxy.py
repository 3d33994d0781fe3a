"""A real forward proxy on 127.0.0.1 for tests: it forwards plain-HTTP GETs (absolute-form
request targets, as clients send them to a proxy) to their origin and records what passed
through. No CONNECT: the tests' APIs speak plain HTTP.

    with ForwardProxy().start() as proxy:
        ... proxy.url, proxy.passed()  # [Passed(target, authorization, proxy_authorization)]
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade"}


@dataclass(frozen=True)
class Passed:
    """One request that went through: its absolute target, the Authorization header it carried
    (for the test to check whose token went where) and the Proxy-Authorization it carried."""

    target: str
    authorization: str | None
    proxy_authorization: str | None


class ForwardProxy:
    """A threaded forward proxy; `start()` binds a free port and returns a context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._passed: list[Passed] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def passed(self) -> list[Passed]:
        with self._lock:
            return list(self._passed)

    def start(self) -> ForwardProxy:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __enter__(self) -> ForwardProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def _record(self, passed: Passed) -> None:
        with self._lock:
            self._passed.append(passed)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                proxy._record(Passed(self.path, self.headers.get("Authorization"),
                                     self.headers.get("Proxy-Authorization")))
                target = urlsplit(self.path)
                if target.scheme != "http" or not target.hostname:
                    self._reply(400, b"this proxy forwards absolute http:// targets only")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=10)
                try:
                    upstream.request("GET", (target.path or "/") + (f"?{target.query}" if target.query else ""),
                                     headers=headers)
                    response = upstream.getresponse()
                    self._reply(response.status, response.read(), response.getheader("Content-Type"))
                except OSError:
                    self._reply(502, b"upstream unreachable")
                finally:
                    upstream.close()

            def _reply(self, status: int, body: bytes, content_type: str | None = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
