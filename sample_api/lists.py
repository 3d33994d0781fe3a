"""List endpoints shaped like real services' (for `SampleAPI.set_list`).

Each style copies a public API's documented shape, so that specs are tried against what
those services send, not against what our own specs expect:

- ``bare``   one page, the body is the JSON array (GitHub's ``/repos/o/r/issues`` without
             pagination parameters).
- ``link``   GitHub REST: a bare array, ``?page=N&per_page=M`` (default 30), and
             ``Link: <…page=N+1…>; rel="next", <…>; rel="last"`` while more remain.
- ``page``   page-number pages: ``?page=N&per_page=M``; the body is the array, or
             ``{wrap: [...]}``; a page shorter than the size is the last.
- ``cursor`` Zendesk cursor pagination: ``?page[size]=M&page[after]=C``; body
             ``{wrap: [...], "meta": {"has_more": bool, "after_cursor": C|null,
             "before_cursor": …}, "links": {"next": URL|null, "prev": …}}``.
- ``last``   Stripe: ``?limit=M&starting_after=ID`` (the id of the last item of the page
             before); body ``{"object": "list", wrap: [...], "has_more": bool, "url": path}``
             (``wrap`` defaults to ``data``).
- ``next``   Zendesk offset pagination: ``?page=N&per_page=M``; body ``{wrap: [...],
             "next_page": URL|null, "previous_page": …, "count": total}``.
- ``offset`` Jira: ``?startAt=K&maxResults=M``; body ``{"startAt", "maxResults",
             "total", "isLast", wrap: [...]}``.

``max_size`` caps a page whatever size was asked for, as the services do (Jira's
``maxResults`` and GitHub's ``per_page`` stop at 100; the page says so where the style has
a field for it: Jira's ``maxResults``).
``next_base`` replaces the scheme and host of the URLs a page points to (``Link``,
``links.next``, ``next_page``): a test sends a client to another origin with it. Pages get
``ETag``/``Last-Modified`` and 304s from the server like any other answer.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

STYLES = ("bare", "link", "page", "cursor", "last", "next", "offset")


@dataclass
class ListRoute:
    """A list served at one path: its items, the style, the default page size, the key
    the array sits under (``wrap``; None: a bare array where the style allows), and the
    base URL its next links point to (None: the server's own)."""

    items: list[Any]
    style: str = "link"
    page_size: int = 30
    wrap: str | None = None
    next_base: str | None = None
    max_size: int | None = None


def answer(route: ListRoute, base: str, path: str, query: str) -> tuple[dict[str, str], Any]:
    """(extra headers, JSON body) of one request to a list route."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    link_base = (route.next_base or base) + path
    return _STYLES[route.style](route, params, link_base)


def _int(params: dict[str, str], name: str, default: int) -> int:
    value = params.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else default


def _size(route: ListRoute, params: dict[str, str], name: str) -> int:
    """The page size asked for (or the default), within the route's cap."""
    asked = _int(params, name, route.page_size)
    return min(asked, route.max_size) if route.max_size else asked


def _wrapped(route: ListRoute, items: list[Any], default_key: str | None) -> Any:
    key = route.wrap or default_key
    return {key: items} if key else items


def _bare(route: ListRoute, params: dict[str, str], link_base: str) -> tuple[dict[str, str], Any]:
    return {}, _wrapped(route, list(route.items), None)


def _numbered(route: ListRoute, params: dict[str, str]) -> tuple[int, int, list[Any], bool]:
    page = _int(params, "page", 1)
    size = _size(route, params, "per_page")
    start = (page - 1) * size
    return page, size, route.items[start:start + size], start + size < len(route.items)


def _link(route: ListRoute, params: dict[str, str], link_base: str) -> tuple[dict[str, str], Any]:
    page, size, items, more = _numbered(route, params)
    last = max(1, -(-len(route.items) // size))
    headers = {}
    if more:
        headers["Link"] = (f'<{link_base}?{urlencode({**params, "page": page + 1, "per_page": size})}>; rel="next", '
                           f'<{link_base}?{urlencode({**params, "page": last, "per_page": size})}>; rel="last"')
    return headers, _wrapped(route, items, None)


def _page(route: ListRoute, params: dict[str, str], link_base: str) -> tuple[dict[str, str], Any]:
    _, _, items, _ = _numbered(route, params)
    return {}, _wrapped(route, items, None)


def _cursor(route: ListRoute, params: dict[str, str], link_base: str) -> tuple[dict[str, str], Any]:
    size = _size(route, params, "page[size]")
    after = params.get("page[after]")
    start = int(base64.urlsafe_b64decode(after).decode()) if after else 0
    items = route.items[start:start + size]
    more = start + size < len(route.items)
    cursor = base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None
    before = base64.urlsafe_b64encode(str(start).encode()).decode() if start else None
    nxt = f"{link_base}?{urlencode({**params, 'page[after]': cursor})}" if more else None
    body = {route.wrap or "data": items,
            "meta": {"has_more": more, "after_cursor": cursor, "before_cursor": before},
            "links": {"next": nxt, "prev": None}}
    return {}, body


def _last(route: ListRoute, params: dict[str, str], link_base: str) -> tuple[dict[str, str], Any]:
    size = _size(route, params, "limit")
    after = params.get("starting_after")
    ids = [str(item.get("id")) if isinstance(item, dict) else None for item in route.items]
    # an id not in the list (Stripe answers 400 "No such customer") reads as past the end
    start = 0 if after is None else ids.index(after) + 1 if after in ids else len(ids)
    items = route.items[start:start + size]
    return {}, {"object": "list", route.wrap or "data": items, "has_more": start + size < len(route.items),
                "url": urlsplit(link_base).path}


def _next(route: ListRoute, params: dict[str, str], link_base: str) -> tuple[dict[str, str], Any]:
    page, size, items, more = _numbered(route, params)
    nxt = f"{link_base}?{urlencode({**params, 'page': page + 1, 'per_page': size})}" if more else None
    prev = f"{link_base}?{urlencode({**params, 'page': page - 1, 'per_page': size})}" if page > 1 else None
    return {}, {route.wrap or "results": items, "next_page": nxt, "previous_page": prev,
                "count": len(route.items)}


def _offset(route: ListRoute, params: dict[str, str], link_base: str) -> tuple[dict[str, str], Any]:
    start = int(params.get("startAt", "0")) if params.get("startAt", "0").isdigit() else 0
    size = _size(route, params, "maxResults")
    items = route.items[start:start + size]
    return {}, {"expand": "schema,names", "startAt": start, "maxResults": size,
                "total": len(route.items), "isLast": start + size >= len(route.items),
                route.wrap or "values": items}


_STYLES = {"bare": _bare, "link": _link, "page": _page, "cursor": _cursor, "last": _last, "next": _next, "offset": _offset}
