"""Pagination and URL templates as pure functions (runtime/paging.py, runtime/templates.py):
one table of pages per style, the stop rules of DESIGN.md §6, no server needed."""

from __future__ import annotations

import pytest

from runtime.ir import Paginate
from runtime.normalize import InvalidData
from runtime.paging import first_url, next_url, with_params
from runtime.templates import expand, is_absolute

LINK = Paginate("link", None, None, None, None, None)
PAGE = Paginate("page", "page", None, "per_page", 2, None)
PAGE_NO_SIZE = Paginate("page", "page", None, None, None, None)
CURSOR = Paginate("cursor", "cursor", ("meta", "next_cursor"), None, None, None)
NEXT = Paginate("next", None, ("next_page",), None, None, None)
OFFSET = Paginate("offset", "startAt", None, "maxResults", 2, ("total",))
OFFSET_NO_TOTAL = Paginate("offset", "startAt", None, "maxResults", 2, None)
STRIPE = Paginate("last", "starting_after", ("id",), None, None, None, more=("has_more",))
LAST_NO_WHILE = Paginate("last", "since_id", ("id",), None, None, None)

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


def stripe_page(ids: list, has_more) -> dict:
    return {"object": "list", "data": [{"id": i} for i in ids], "has_more": has_more, "url": "/v1/customers"}


@pytest.mark.parametrize("p, url, body, expected", [
    (STRIPE, "http://h:1/v1/customers?limit=2", stripe_page(["cus_a", "cus_b"], True),
     "http://h:1/v1/customers?limit=2&starting_after=cus_b"),                   # the last item's id
    (STRIPE, "http://h:1/v1/customers?limit=2&starting_after=cus_b", stripe_page(["cus_c", "cus_d"], True),
     "http://h:1/v1/customers?limit=2&starting_after=cus_d"),                   # replaced in place
    (STRIPE, "http://h:1/v1/customers?limit=2", stripe_page(["cus_a"], False), None),  # has_more false
    (STRIPE, "http://h:1/v1/customers?limit=2", stripe_page([], True), None),       # empty: nothing to send
    (LAST_NO_WHILE, "http://h:1/t", stripe_page([7, 8], None), "http://h:1/t?since_id=8"),  # integer keys
    (LAST_NO_WHILE, "http://h:1/t?since_id=8", stripe_page([], None), None),     # without `while`: an empty page
])
def test_last_item_pages(p, url, body, expected):
    assert next_url(url, p, body, len(body["data"]), None, ["data"]) == expected


@pytest.mark.parametrize("body, where, message", [
    (stripe_page(["cus_a"], None), "$.has_more", "expected true or false (whether more pages follow), got null"),
    ({"object": "list", "data": [{"id": "cus_a"}]}, "$.has_more", "got null"),   # a `while` path the body lacks
    (stripe_page(["cus_a"], "true"), "$.has_more", 'got "true"'),
    ({"data": [{"id": "cus_a"}, {"name": "no id"}], "has_more": True}, "$.data[1].id",
     "expected a string or an integer to send as starting_after for the next page, got null"),
    ({"data": [{"id": "cus_a"}, {"id": True}], "has_more": True}, "$.data[1].id", "got true"),
])
def test_last_item_pages_never_stop_silently_on_bad_data(body, where, message):
    """A `while` path the body does not have, or a last item without its value, is a spec
    or service mistake: stopping there would list page 1 only and say nothing."""
    with pytest.raises(InvalidData) as bad:
        next_url("http://h:1/v1/customers", STRIPE, body, len(body["data"]), None, ["data"])
    assert bad.value.path == where and message in bad.value.reason


def test_first_pages():
    assert first_url(U, None) == U
    assert first_url(U, LINK) == U
    assert first_url(U, PAGE) == "http://h:1/items?state=all&page=1&per_page=2"
    assert first_url("http://h:1/s", OFFSET) == "http://h:1/s?startAt=0&maxResults=2"
    assert first_url("http://h:1/v1/customers?limit=100", STRIPE) == "http://h:1/v1/customers?limit=100"
    assert with_params("http://h:1/s?a=1&b=2&a=3", {"a": "9"}) == "http://h:1/s?a=9&b=2"


def test_templates_escape_unless_reserved_expansion_and_may_be_absolute():
    assert expand("http://h:1/", "/repos/{full_name}", {"full_name": "o/r"}) == "http://h:1/repos/o%2Fr"
    assert expand("http://h:1", "/repos/{+full_name}", {"full_name": "o/r"}) == "http://h:1/repos/o/r"
    assert expand("http://h:1", "{+url}/issues", {"url": "http://other:2/r"}) == "http://other:2/r/issues"
    assert is_absolute("{+url}/issues", {"url": "http://other:2/r"})
    assert not is_absolute("/repos/{+x}", {"x": "http://a"})
