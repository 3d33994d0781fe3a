"""Collections on a real dev server and a real loopback API (DESIGN.md §6): a relation
filled from its own list endpoint, page by page, one request per page and none per child;
bad items left out with their JSON path; items that leave the list cancel their child;
a next link off the `allow` list is refused before any request reaches it. (The demo spec
specs/github.swf is deployed by tests/cli/test_deploy_github.py.)"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus

from runtime.sealing import deployment, seal
from sample_api import SampleAPI
from tests.helpers import assert_eventually, compile_text, new_worker, unique
from tests.runtime.util import execution_status, query, try_query


async def eventually(fn, *, timeout: float = 60.0):
    """`assert_eventually` with room for 300 starts on a loaded 2-core machine (it returns
    as soon as the condition holds)."""
    return await assert_eventually(fn, timeout=timeout)

SPEC = """
api gh {
  base  "BASE"
  auth  bearer
  allow "ORIGIN"
  retry 2 times backoff 100ms .. 200ms
}

entity GhUser {
  login string key
  id    integer
}

entity Repo {
  full_name string key
  url       string
  owner     GhUser
  issues    [Issue]
}

entity Issue {
  id     integer
  number integer
  title  string
  url    string
  user   GhUser
}

workflow RepoWorkflow manages Repo {
  source gh get "/repos/{+full_name}"
  child issues -> IssueWorkflow {
    from gh get "{+url}/issues?state=all"
    PAGINATE
    autostart
    cancel on delete
  }
}

workflow IssueWorkflow manages Issue {
  source gh get "{+url}"
}
"""


def repo_spec(api: SampleAPI, paginate: str, tmp_path) -> dict[str, Any]:
    text = SPEC.replace("BASE", api.url).replace("ORIGIN", api.origin).replace("PAGINATE", paginate)
    return compile_text(text, tmp_path)


def github_user(login: str) -> dict[str, Any]:
    """A user object as GitHub embeds it (many fields the spec does not declare)."""
    return {"login": login, "id": abs(hash(login)) % 10**6, "node_id": "MDQ6VXNlcjE=", "type": "User",
            "site_admin": False, "avatar_url": f"https://avatars.example/{login}", "gravatar_id": ""}


def issue_base(repo: str) -> int:
    """Issue ids of a test's repo: apart from every other test's (workflow ids are
    `Issue-<id>` on one shared dev server, and a child left running by an earlier test
    would be attached to, not started)."""
    return int(hashlib.sha256(repo.encode()).hexdigest()[:8], 16) * 1000


def github_issue(api: SampleAPI, repo: str, number: int) -> dict[str, Any]:
    return {"id": issue_base(repo) + number, "number": number, "title": f"issue {number}", "state": "open",
            "url": f"{api.url}/repos/{repo}/issues/{number}", "user": github_user(f"user{number % 7}"),
            "labels": [], "assignee": None, "comments": number % 3, "body": None, "locked": False}


def put_repo(api: SampleAPI, repo: str, issues: list[dict[str, Any]], *, style: str, page_size: int, **kw: Any) -> None:
    api.set_entity(f"/repos/{repo}", {"full_name": repo, "url": f"{api.url}/repos/{repo}", "private": False,
                                      "owner": github_user(repo.split("/")[0]), "description": None,
                                      "open_issues_count": len(issues)})
    api.set_list(f"/repos/{repo}/issues", issues, style=style, page_size=page_size, **kw)


async def start_repo(client, ir: dict, task_queue: str, repo: str, token: str = "t0k"):
    wid = f"Repo-{repo}"
    return await client.start_workflow(
        "RepoWorkflow",
        {"ir_hash": ir["hash"], "entity_id": repo, "data": None, "tokens": {"gh": seal("gh", token, deployment=deployment("default", task_queue))},
         "api_bases": {"gh": ir["apis"]["gh"]["base"]}, "ancestors": [], "subscribers": [], "carried": None},
        id=wid, task_queue=task_queue, memo={"entity": "Repo", "id": repo})


async def all_children_loaded(client, root: str, count: int) -> dict:
    async def check():
        st = await query(client, root)
        assert st["loaded"], (st["status"], st["last_error"])
        assert len(st["children"]) == count, len(st["children"])
        answers = [await try_query(client, wid) for wid in st["children"]]
        assert all(a is not None and a["loaded"] for a in answers), \
            [(w, a and (a["status"], a["last_error"])) for w, a in zip(st["children"], answers) if not (a and a["loaded"])][:3]
        return st

    return await eventually(check, timeout=90)


@pytest.mark.parametrize("style, paginate", [
    ("link", "paginate link"),
    ("page", 'paginate page "page" size "per_page" 80'),
    ("cursor", 'select "data"\n    paginate cursor "meta.after_cursor" as "page[after]"'),  # Zendesk's shape
    ("next", 'select "results"\n    paginate next "next_page"'),  # Zendesk's offset pages
    ("offset", 'select "values"\n    paginate offset "startAt" size "maxResults" 80 total "total"'),  # Jira's
])
async def test_1_plus_300_over_4_pages_costs_one_request_a_page_and_none_per_child(client, http_api, tmp_path, style, paginate):
    repo = f"octo/{unique('r')}"
    issues = [github_issue(http_api, repo, n) for n in range(1, 301)]
    put_repo(http_api, repo, issues, style=style, page_size=80)  # pages of 80, 80, 80 and 60
    http_api.require_auth("/repos/", "t0k")
    ir = repo_spec(http_api, paginate, tmp_path)
    async with new_worker(client, ir) as worker:
        await start_repo(client, ir, worker.task_queue, repo)
        st = await all_children_loaded(client, f"Repo-{repo}", 300)
        child = await query(client, f"Issue-{issue_base(repo) + 7}", "state")
        parent = await query(client, f"Repo-{repo}", "state")
    pages = http_api.requests_to(f"/repos/{repo}/issues")
    assert len(pages) == 4, [r.query for r in pages]
    assert http_api.requests_to(f"/repos/{repo}/issues/*") == []  # none per child
    assert len(http_api.requests_to(f"/repos/{repo}")) == 1
    assert all(r.auth == "Bearer t0k" for r in pages)
    assert st["children"] == sorted(f"Issue-{issue_base(repo) + n}" for n in range(1, 301))
    assert child["store"]["Issue"][str(issue_base(repo) + 7)]["user"] == "user0"  # the embedded user: its own table
    assert parent["store"]["GhUser"]["user0"]["login"] == "user0"
    assert parent["store"]["Repo"][repo]["owner"] == "octo"


async def test_bad_items_are_left_out_with_their_path_and_leaving_items_cancel_their_child(client, http_api, tmp_path):
    repo = f"octo/{unique('r')}"
    issues = [github_issue(http_api, repo, n) for n in range(1, 6)]
    bad = {**github_issue(http_api, repo, 99), "user": {"id": 5}}  # the embedded user lacks its login
    put_repo(http_api, repo, [*issues[:3], bad, *issues[3:]], style="bare", page_size=100)
    ir = repo_spec(http_api, "", tmp_path)
    root = f"Repo-{repo}"
    async with new_worker(client, ir) as worker:
        handle = await start_repo(client, ir, worker.task_queue, repo)
        await all_children_loaded(client, root, 5)
        errors = (await query(client, root, "state"))["errors"]
        assert any("$[3].user" in e["message"] and "login" in e["message"] for e in errors), errors
        # issue 2 leaves the list: its child is cancelled, its record leaves the store
        http_api.set_list(f"/repos/{repo}/issues", [issues[0], *issues[2:]], style="bare")
        await handle.signal("update", {})

        async def gone():
            st = await query(client, root)
            gone = issue_base(repo) + 2
            assert f"Issue-{gone}" not in st["children"] and len(st["children"]) == 4
            assert await execution_status(client, f"Issue-{gone}") == WorkflowExecutionStatus.CANCELED
            assert str(gone) not in (await query(client, root, "state"))["store"]["Issue"]

        await eventually(gone)


async def test_a_next_link_to_another_origin_is_refused_and_nothing_reaches_it(client, http_api, tmp_path):
    repo = f"octo/{unique('r')}"
    with SampleAPI().start() as elsewhere:
        put_repo(http_api, repo, [github_issue(http_api, repo, n) for n in range(1, 11)], style="link",
                 page_size=4, next_base=elsewhere.url)
        elsewhere.set_list(f"/repos/{repo}/issues", [], style="link")
        ir = repo_spec(http_api, "paginate link", tmp_path)
        root = f"Repo-{repo}"
        async with new_worker(client, ir) as worker:
            await start_repo(client, ir, worker.task_queue, repo)

            async def refused():
                st = await query(client, root)
                assert st["status"] == "error" and "refusing to follow the next page link" in st["last_error"]
                assert elsewhere.origin in st["last_error"]
                return st

            st = await eventually(refused)
        assert elsewhere.log() == []
        assert st["children"] == []  # an unfinished listing changes nothing
        assert len(http_api.requests_to(f"/repos/{repo}/issues")) == 1


async def test_a_refresh_answered_by_304s_reads_no_item_again_and_signals_no_child(client, http_api, tmp_path):
    repo = f"octo/{unique('r')}"
    issues = [github_issue(http_api, repo, n) for n in range(1, 21)]
    put_repo(http_api, repo, issues, style="link", page_size=5)  # 4 pages, each with an ETag
    ir = repo_spec(http_api, "paginate link", tmp_path)
    root = f"Repo-{repo}"
    async with new_worker(client, ir) as worker:
        handle = await start_repo(client, ir, worker.task_queue, repo)
        st = await all_children_loaded(client, root, 20)
        lengths = [len((await client.get_workflow_handle(w).fetch_history()).events) for w in st["children"]]
        http_api.clear_log()
        await handle.signal("update", {})

        async def relisted():
            pages = http_api.requests_to(f"/repos/{repo}/issues")
            assert [r.status for r in pages] == [304, 304, 304, 304]
            assert all(r.headers.get("If-None-Match") for r in pages)
            st = await query(client, root)
            assert st["loaded"] and st["status"] == "running" and len(st["children"]) == 20

        await eventually(relisted)
        after = [len((await client.get_workflow_handle(w).fetch_history()).events) for w in st["children"]]
        assert after == lengths  # no child heard of it
        results = [e.activity_task_completed_event_attributes.result
                   for e in (await handle.fetch_history()).events if e.HasField("activity_task_completed_event_attributes")]
        assert b"not_modified" in results[-1].SerializeToString()  # the last page's result: no records
    assert http_api.requests_to(f"/repos/{repo}/issues/*") == []


async def test_max_pages_bounds_a_listing_and_says_so(client, http_api, tmp_path):
    repo = f"octo/{unique('r')}"
    issues = [github_issue(http_api, repo, n) for n in range(1, 11)]
    put_repo(http_api, repo, issues, style="link", page_size=2)
    ir = repo_spec(http_api, "paginate link\n    max 2 pages", tmp_path)
    root = f"Repo-{repo}"
    async with new_worker(client, ir) as worker:
        await start_repo(client, ir, worker.task_queue, repo)
        st = await all_children_loaded(client, root, 4)
    assert "stopped after 2 pages (max 2 pages)" in st["last_error"]
    assert len(http_api.requests_to(f"/repos/{repo}/issues")) == 2


async def test_a_child_started_from_an_item_holds_what_its_own_load_of_the_item_would(client, http_api, tmp_path):
    repo = f"octo/{unique('r')}"
    issues = [github_issue(http_api, repo, n) for n in range(1, 4)]
    put_repo(http_api, repo, issues, style="bare", page_size=100)
    for issue in issues:  # each issue's own URL answers what the list gave
        http_api.set_entity(f"/repos/{repo}/issues/{issue['number']}", issue)
    ir = repo_spec(http_api, "", tmp_path)
    wid = f"Issue-{issue_base(repo) + 1}"
    async with new_worker(client, ir) as worker:
        await start_repo(client, ir, worker.task_queue, repo)
        await all_children_loaded(client, f"Repo-{repo}", 3)
        started = await query(client, wid, "state")
        assert http_api.requests_to(f"/repos/{repo}/issues/*") == []  # no request of its own
        assert started["store"]["GhUser"]["user1"]["id"] == issues[0]["user"]["id"]  # the embedded user's record

        await client.get_workflow_handle(wid).signal("update", {})  # its own load of the same data

        async def reloaded():
            assert len(http_api.requests_to(f"/repos/{repo}/issues/1")) == 1
            st = await query(client, wid)
            assert st["loaded"] and st["status"] == "running", st
        await eventually(reloaded)
        own = await query(client, wid, "state")
    assert own["store"] == started["store"]


async def test_a_collection_is_listed_again_at_its_own_every_without_reloading_its_parent(client, http_api, tmp_path):
    repo = f"octo/{unique('r')}"
    issues = [github_issue(http_api, repo, n) for n in range(1, 4)]
    put_repo(http_api, repo, issues[:2], style="bare", page_size=100)
    ir = repo_spec(http_api, "every 1s", tmp_path)
    root = f"Repo-{repo}"
    async with new_worker(client, ir) as worker:
        await start_repo(client, ir, worker.task_queue, repo)
        await all_children_loaded(client, root, 2)
        http_api.set_list(f"/repos/{repo}/issues", issues, style="bare")  # a new issue, no signal
        await all_children_loaded(client, root, 3)
    assert len(http_api.requests_to(f"/repos/{repo}/issues")) >= 2
    assert len(http_api.requests_to(f"/repos/{repo}")) == 1  # the parent's own record: loaded once


async def test_a_rate_limited_page_waits_for_its_retry_after_then_the_listing_finishes(client, http_api, tmp_path):
    repo = f"octo/{unique('r')}"
    put_repo(http_api, repo, [github_issue(http_api, repo, n) for n in range(1, 7)], style="link", page_size=3)
    pages = f"/repos/{repo}/issues"
    http_api.rate_limit(pages, retry_after=3, after=1)  # the second page: 429, Retry-After: 3
    ir = repo_spec(http_api, "paginate link", tmp_path)
    root = f"Repo-{repo}"
    async with new_worker(client, ir) as worker:
        await start_repo(client, ir, worker.task_queue, repo)

        async def limited():
            st = await query(client, root)
            assert st["status"] == "rate_limited" and st["next_try"] and "rate limited" in st["last_error"], st
        await eventually(limited)
        await all_children_loaded(client, root, 6)
    statuses = [(r.status, r.query) for r in http_api.requests_to(pages)]
    assert [s for s, _ in statuses][:2] == [200, 429] and statuses[-1][0] == 200, statuses
    limited_at = http_api.requests_to(pages)[1].at
    assert all(r.at >= limited_at + 2.99 for r in http_api.requests_to(pages)[2:])  # nothing before Retry-After
