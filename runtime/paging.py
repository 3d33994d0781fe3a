"""Pagination: from one page of a collection to the URL of the next. Pure.

Stage: used by the `list_page` activity after each page (it has the body and the `Link`
header) and by the interpreter for the first page. The vocabulary and the stop rules are
those of declarative REST loaders (dlt's `rest_api` paginators, Airbyte's low-code
paginators), as DESIGN.md §6 "Pagination" fixes them:

- `link`: follow RFC 8288 `Link: <…>; rel="next"`; stop when there is none.
- `page "page" [size "per_page" N]`: send page=1, 2, …; stop at an empty page, or one
  shorter than the size.
- `cursor "meta.next_cursor" as "cursor"`: send the cursor found at that body path; stop
  when it is missing, null or empty.
- `last "id" as "starting_after" [while "has_more"]` (Stripe): send the value at that path
  in the page's last item; stop at an empty page, or when the boolean at the `while` body
  path is false. A last item without such a value, or a `while` value that is not true or
  false, is bad data (`InvalidData`): read as "no more pages", a typo in the spec would
  silently list page 1 only.
- `next "next_page"`: follow the URL found at that body path; stop when it is missing,
  null or empty.
- `offset "startAt" size "maxResults" N [total "total"]`: send startAt=0, then past the
  items each page held; stop once the offset reaches the total, or, without a total, at a
  page shorter than the size (with a total a short page is a service's own cap: Jira
  gives at most 100 whatever `maxResults` asks).

A relative next URL is resolved against the page's own URL. Where the next URL may go
(the api's `allow`) is the caller's check, not this module's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from runtime.ir import Paginate
from runtime.normalize import InvalidData, json_path, shown


def first_url(url: str, p: Paginate | None) -> str:
    """The URL of the first page: the template's URL, with the page or offset parameters
    of `page`/`offset` pagination."""
    if p is None:
        return url
    if p.style == "page":
        return with_params(url, {p.param: "1", **_size(p)})
    if p.style == "offset":
        return with_params(url, {p.param: "0", **_size(p)})
    return url


def next_url(url: str, p: Paginate | None, body: Any, count: int, link_next: str | None,
             items_at: tuple[str, ...] | list[str] = ()) -> str | None:
    """The URL of the page after the one at `url`, or None when that was the last.

    Args:
        url: the URL the page was requested at.
        p: the collection's pagination (None: a single page).
        body: the page's whole JSON body (cursor, next and total paths start at its top).
        count: how many items the page held (valid or not).
        link_next: the target of the response's `Link: <…>; rel="next"`, or None.
        items_at: where the list of items sits in `body` (the collection's `select`).

    Raises:
        InvalidData: `last` pagination with no value to send in the last item, or a
        `while` value other than true or false.
    """
    if p is None:
        return None
    if p.style == "link":
        return urljoin(url, link_next) if link_next else None
    if p.style == "next":
        target = at_path(body, p.path)
        return urljoin(url, target) if isinstance(target, str) and target else None
    if p.style == "cursor":
        cursor = at_path(body, p.path)
        if isinstance(cursor, bool) or not isinstance(cursor, (str, int)) or cursor == "":
            return None
        return with_params(url, {p.param: str(cursor)})
    if count == 0:
        return None
    if p.style == "last":
        return _after_last(url, p, body, count, tuple(items_at))
    current = _int_param(url, p.param)
    if p.style == "page":
        return None if p.size is not None and count < p.size else with_params(url, {p.param: str((current or 1) + 1)})
    # The next offset is past the items this page held: a service may cut a page below the
    # size asked for (Jira: 100 at most), and then a short page is not the last one while
    # the total says more remain.
    offset = (current or 0) + count
    total = at_path(body, p.total) if p.total else None
    if isinstance(total, int) and not isinstance(total, bool):
        return None if offset >= total else with_params(url, {p.param: str(offset)})
    return None if p.size is not None and count < p.size else with_params(url, {p.param: str(offset)})


def _after_last(url: str, p: Paginate, body: Any, count: int, items_at: tuple[str, ...]) -> str | None:
    if p.more is not None:
        more = at_path(body, p.more)
        if not isinstance(more, bool):
            raise InvalidData(json_path(p.more), f"expected true or false (whether more pages follow), got {shown(more)}")
        if not more:
            return None
    item = at_path(body, items_at)[count - 1]
    value = at_path(item, p.path)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        where = json_path([*items_at, count - 1, *(p.path or ())])
        raise InvalidData(where, f"expected a string or an integer to send as {p.param} for the next page, "
                                 f"got {shown(value)}")
    return with_params(url, {p.param: str(value)})


def at_path(body: Any, path: tuple[str, ...] | None) -> Any:
    """The value at a dotted body path, or None when the body has none."""
    for key in path or ():
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def with_params(url: str, params: dict[str, str]) -> str:
    """`url` with the query parameters `params` set (replacing any of the same name, in
    place; new ones at the end)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    out, done = [], set()
    for name, value in query:
        if name in params:
            if name not in done:
                out.append((name, params[name]))
                done.add(name)
        else:
            out.append((name, value))
    out += [(name, value) for name, value in params.items() if name not in done]
    return urlunsplit(parts._replace(query=urlencode(out)))


def _size(p: Paginate) -> dict[str, str]:
    return {p.size_param: str(p.size)} if p.size_param and p.size else {}


def _int_param(url: str, name: str | None) -> int | None:
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key == name and value.isdigit():
            return int(value)
    return None
