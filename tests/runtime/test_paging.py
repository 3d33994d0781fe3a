"""Pagination and URL templates as pure functions (runtime/paging.py, runtime/templates.py):
one table of pages per style, the stop rules of DESIGN.md §6, no server needed."""

from __future__ import annotations

import pytest

from runtime.ir import Paginate
from runtime.paging import first_url, next_url, with_params
from runtime.templates import expand, is_absolute

LINK = Paginate("link", None, None, None, None, None)
PAGE = Paginate("page", "page", None, "per_page", 2, None)
PAGE_NO_SIZE = Paginate("page", "page", None, None, None, None)
CURSOR = Paginate("cursor", "cursor", ("meta", "next_cursor"), None, None, None)
NEXT = Paginate("next", None, ("next_page",), None, None, None)
OFFSET = Paginate("offset", "startAt", None, "maxResults", 2, ("total",))
OFFSET_NO_TOTAL = Paginate("offset", "startAt", None, "maxResults", 2, None)

U = "http://h:1/items?state=all"


@pytest.mark.parametrize("p, url, body, count, link, expected", [
    (None, U, [], 2, None, None),
    (LINK, U, [1, 2], 2, "http://h:1/items?page=2", "http://h:1/items?page=2"),
    (LINK, U, [1, 2], 2, "/items?page=2", "http://h:1/items?page=2"),         # relative: against the page
    (LINK, U, [1], 1, None, None),                                            # no rel="next": the last
    (PAGE, "http://h:1/items?state=all&page=1&per_page=2", [1, 2], 2, None,
     "http://h:1/items?state=all&page=2&per_page=2"),
    (PAGE, "http://h:1/items?page=3&per_page=2", [1], 1, None, None),        # shorter than the size
    (PAGE_NO_SIZE, "http://h:1/items?page=1", [1], 1, None, "http://h:1/items?page=2"),
    (PAGE_NO_SIZE, "http://h:1/items?page=4", [], 0, None, None),            # empty
    (CURSOR, U, {"meta": {"next_cursor": "abc"}}, 2, None, "http://h:1/items?state=all&cursor=abc"),
    (CURSOR, U + "&cursor=abc", {"meta": {"next_cursor": "def"}}, 2, None, "http://h:1/items?state=all&cursor=def"),
    (CURSOR, U, {"meta": {"next_cursor": None}}, 2, None, None),
    (CURSOR, U, {"meta": {"next_cursor": ""}}, 2, None, None),
    (CURSOR, U, {"meta": {}}, 2, None, None),
    (NEXT, U, {"next_page": "http://h:1/items?page=2"}, 2, None, "http://h:1/items?page=2"),
    (NEXT, U, {"next_page": None}, 2, None, None),
    (OFFSET, "http://h:1/s?startAt=0&maxResults=2", {"total": 5}, 2, None, "http://h:1/s?startAt=2&maxResults=2"),
    (OFFSET, "http://h:1/s?startAt=2&maxResults=2", {"total": 4}, 2, None, None),  # the total is reached
    # a page the service cut below the size (Jira: 100 at most) before the total: on, past what it held
    (OFFSET, "http://h:1/s?startAt=4&maxResults=2", {"total": 9}, 1, None, "http://h:1/s?startAt=5&maxResults=2"),
    (OFFSET, "http://h:1/s?startAt=4&maxResults=2", {"total": 9}, 0, None, None),  # empty
    (OFFSET_NO_TOTAL, "http://h:1/s?startAt=4&maxResults=2", {}, 1, None, None),  # shorter than the size
])
def test_next_page(p, url, body, count, link, expected):
    assert next_url(url, p, body, count, link) == expected


def test_first_pages():
    assert first_url(U, None) == U
    assert first_url(U, LINK) == U
    assert first_url(U, PAGE) == "http://h:1/items?state=all&page=1&per_page=2"
    assert first_url("http://h:1/s", OFFSET) == "http://h:1/s?startAt=0&maxResults=2"
    assert with_params("http://h:1/s?a=1&b=2&a=3", {"a": "9"}) == "http://h:1/s?a=9&b=2"


def test_templates_escape_unless_reserved_expansion_and_may_be_absolute():
    assert expand("http://h:1/", "/repos/{full_name}", {"full_name": "o/r"}) == "http://h:1/repos/o%2Fr"
    assert expand("http://h:1", "/repos/{+full_name}", {"full_name": "o/r"}) == "http://h:1/repos/o/r"
    assert expand("http://h:1", "{+url}/issues", {"url": "http://other:2/r"}) == "http://other:2/r/issues"
    assert is_absolute("{+url}/issues", {"url": "http://other:2/r"})
    assert not is_absolute("/repos/{+x}", {"x": "http://a"})
