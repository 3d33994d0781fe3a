"""Real services' bodies, as their public API docs show them, declared as a user would from
the README's language guide: `swfc validate`d, then deployed (roots as `swfc deploy`
starts them) on the real dev server against a real loopback API serving those bodies.

- GitHub `/repos/{owner}/{repo}/issues`: a bare array of ~3 KB issues (nested `user`,
  `labels` objects, `milestone`/`assignee` null on some, `pull_request` on some), `Link`
  pages, integer keys;
- Jira `/rest/api/3/search`: `{startAt, maxResults, total, issues: [{id, self, key, fields}]}`,
  declared in Jira's order: a field `key` after `id`, marked as the key;
- Zendesk `/api/v2/tickets.json`: `{tickets, next_page, previous_page, count}`;
- Stripe `/v1/customers`: `{object: "list", data, has_more, url}`, the next page asked for with
  `starting_after=<id of the page's last customer>` until `has_more` is false;
- what real lists also hold: unicode, an empty list, an item without its key, keys with
  `/` and spaces, the same key twice, a field that is sometimes null.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from runtime.ir import load
from runtime.roots import prepare_roots, start_roots
from runtime.sealing import deployment
from sample_api import SampleAPI
from tests.helpers import assert_eventually, compile_text, new_worker, run_swfc, unique
from tests.runtime.util import query, try_query


async def eventually(fn, *, timeout: float = 60.0):
    return await assert_eventually(fn, timeout=timeout)


def declared(api: SampleAPI, text: str, tmp_path, **names: str) -> dict[str, Any]:
    """The spec as the user writes it (`@BASE@`, `@ORIGIN@` and `@NAME@` of `names` filled in), checked by
    `swfc validate` as the user runs it, and compiled."""
    for name, value in {"BASE": api.url, "ORIGIN": api.origin, **names}.items():
        text = text.replace(f"@{name}@", value)
    path = tmp_path / "spec.swf"
    path.write_text(text)
    result = run_swfc("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    return compile_text(text, tmp_path)


async def deploy(client, ir: dict[str, Any], task_queue: str, **tokens: str) -> None:
    """Start the spec's `deploy` roots as `swfc deploy` does."""
    roots = prepare_roots(load(ir), {**os.environ, **tokens}, deployment=deployment("default", task_queue),
                          deployment_name="spec")
    await start_roots(client, roots, task_queue, ir["hash"])


async def settled(client, root: str, children: int) -> dict[str, dict[str, Any]]:
    """`{workflow_id: status}` of the root and its children once all have loaded."""
    async def check():
        st = await try_query(client, root)
        assert st is not None and st["loaded"], st and (st["status"], st["last_error"])
        assert len(st["children"]) == children, (len(st["children"]), st["children"][:5], st["last_error"])
        answers = {wid: await try_query(client, wid) for wid in st["children"]}
        assert all(a is not None and a["loaded"] for a in answers.values()), \
            {w: a and (a["status"], a["last_error"]) for w, a in answers.items() if not (a and a["loaded"])}
        return {root: st, **answers}

    return await eventually(check, timeout=90)


async def in_error(client, root: str) -> dict[str, Any]:
    """`root`'s status once it says `error`."""
    async def failed():
        st = await query(client, root)
        assert st["status"] == "error", st
        return st

    return await eventually(failed)


class Deployed:
    """This test's specs as the user deploys them, against this test's API: `swfc validate`d and
    compiled (`declared`), the roots started as `swfc deploy` starts them, a worker running them."""

    def __init__(self, client: Client, api: SampleAPI, tmp_path: Path) -> None:
        self.client, self.api, self.tmp_path = client, api, tmp_path

    @asynccontextmanager
    async def running(self, spec: str, *, tokens: dict[str, str] | None = None,
                      **placeholders: str) -> AsyncIterator[None]:
        """`spec` deployed (`tokens`: the token variables in its environment), its worker running
        until the block ends."""
        ir = declared(self.api, spec, self.tmp_path, **placeholders)
        async with new_worker(self.client, ir) as worker:
            await deploy(self.client, ir, worker.task_queue, **(tokens or {}))
            yield

    async def loaded(self, spec: str, root: str, children: int, *, tokens: dict[str, str] | None = None,
                     states: Iterable[str] = (), **placeholders: str) -> tuple[dict[str, dict[str, Any]], list[Any]]:
        """`spec` running until `root` and its `children` children have loaded: their statuses
        (`settled`), and the `state` query's answer of each workflow of `states`, in order."""
        async with self.running(spec, tokens=tokens, **placeholders):
            tree = await settled(self.client, root, children)
            return tree, [await query(self.client, wid, "state") for wid in states]


@pytest.fixture
def deployed(client, http_api, tmp_path) -> Deployed:
    return Deployed(client, http_api, tmp_path)


def number_base() -> int:
    """Integer keys no other test uses (workflow ids are `<Entity>-<key>` on one shared server)."""
    return uuid.uuid4().int % 10**12 * 1000


# ---------------------------------------------------------------------------- GitHub


def gh_user(login: str, uid: int) -> dict[str, Any]:
    """A user as GitHub embeds it in an issue (docs.github.com, "List repository issues")."""
    api = f"https://api.github.com/users/{login}"
    return {"login": login, "id": uid, "node_id": "MDQ6VXNlcjE=",
            "avatar_url": "https://github.com/images/error/octocat_happy.gif", "gravatar_id": "", "url": api,
            "html_url": f"https://github.com/{login}", "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}", "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs", "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events", "type": "User", "site_admin": False}


BUG = {"id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
       "url": "https://api.github.com/repos/octocat/Hello-World/labels/bug", "name": "bug",
       "description": "Something isn't working", "color": "f29513", "default": True}
WONTFIX = {"id": 208045947, "node_id": "MDU6TGFiZWwyMDgwNDU5NDc=",
           "url": "https://api.github.com/repos/octocat/Hello-World/labels/wontfix", "name": "wontfix",
           "description": None, "color": "ffffff", "default": True}


def gh_issue(api: SampleAPI, repo: str, base: int, number: int) -> dict[str, Any]:
    """An issue as `GET /repos/{owner}/{repo}/issues` lists it: odd numbers are pull requests
    with a milestone and an assignee, even ones plain issues with `null`s there."""
    url = f"{api.url}/repos/{repo}/issues/{number}"
    octocat = gh_user("octocat", 1)
    milestone = {"url": f"https://api.github.com/repos/{repo}/milestones/1",
                 "html_url": f"https://github.com/{repo}/milestones/v1.0",
                 "labels_url": f"https://api.github.com/repos/{repo}/milestones/1/labels", "id": 1002604,
                 "node_id": "MDk6TWlsZXN0b25lMTAwMjYwNA==", "number": 1, "state": "open", "title": "v1.0",
                 "description": "Tracking milestone for version 1.0", "creator": octocat, "open_issues": 4,
                 "closed_issues": 8, "created_at": "2011-04-10T20:09:31Z", "updated_at": "2014-03-03T18:58:10Z",
                 "closed_at": "2013-02-12T13:22:01Z", "due_on": "2012-10-09T23:39:01Z"}
    pull = number % 2 == 1
    issue = {
        "id": base + number, "node_id": "MDU6SXNzdWUx", "url": url,
        "repository_url": f"{api.url}/repos/{repo}", "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments", "events_url": f"{url}/events",
        "html_url": f"https://github.com/{repo}/issues/{number}", "number": base + number, "state": "open",
        "title": f"Found a bug ✨ №{number} — 日本語", "body": "I'm having a problem with this.\r\n" * 20,
        "user": gh_user(f"user{number % 3}", 100 + number % 3),
        "labels": [BUG, WONTFIX] if pull else [BUG],
        "assignee": octocat if pull else None, "assignees": [octocat] if pull else [],
        "milestone": milestone if pull else None,
        "locked": pull, "active_lock_reason": "too heated" if pull else None, "comments": 0,
        "closed_at": None, "created_at": "2011-04-22T13:33:48Z", "updated_at": "2011-04-22T13:33:48Z",
        "closed_by": octocat if pull else None, "author_association": "COLLABORATOR", "state_reason": None,
    }
    if pull:
        issue["pull_request"] = {"url": f"https://api.github.com/repos/{repo}/pulls/{number}",
                                 "html_url": f"https://github.com/{repo}/pull/{number}",
                                 "diff_url": f"https://github.com/{repo}/pull/{number}.diff",
                                 "patch_url": f"https://github.com/{repo}/pull/{number}.patch"}
    return issue


GITHUB = """
api github {
  base  "@BASE@"
  auth  header "Authorization" prefix "token "
  allow "@ORIGIN@"
  retry 2 times backoff 100ms .. 200ms
}

entity GhUser    { login string key  id integer  type string  site_admin boolean }
entity Label     { id integer  name string  color string  description string?  default boolean }
entity Milestone { id integer  number integer  title string  state string  creator GhUser  due_on datetime? }

entity Repo {
  full_name string key
  url       string
  owner     GhUser
  issues    [Issue]
}

entity Issue {
  number       integer key
  id           integer
  url          string
  title        string
  state        string
  body         string?
  user         GhUser
  labels       [Label]
  assignee     GhUser?
  assignees    [GhUser]
  milestone    Milestone?
  pull_request json?
  locked       boolean
  closed_at    datetime?
  created_at   datetime
}

workflow RepoWorkflow manages Repo {
  source github get "/repos/{+full_name}"
  child issues -> IssueWorkflow {
    from github get "{+url}/issues?state=all&per_page=2"
    paginate link
    autostart
    cancel on delete
  }
}

workflow IssueWorkflow manages Issue {
  source github get "{+url}" every 1h
}

deploy RepoWorkflow "@REPO@" { token github from env "GITHUB_TOKEN" }
"""


async def test_github_issues_with_nulls_labels_pull_requests_and_integer_keys(deployed, http_api):
    repo, base, token = f"octocat/{unique('hello')}", number_base(), unique("ghp")
    issues = [gh_issue(http_api, repo, base, n) for n in range(1, 6)]
    http_api.set_entity(f"/repos/{repo}", {"id": 1296269, "full_name": repo, "url": f"{http_api.url}/repos/{repo}",
                                           "owner": gh_user("octocat", 1), "private": False, "description": None})
    http_api.set_list(f"/repos/{repo}/issues", issues, style="link")
    http_api.require_auth("/", token, scheme="token")
    tree, (state, pull, plain) = await deployed.loaded(
        GITHUB, f"Repo-{repo}", 5, tokens={"GITHUB_TOKEN": token},
        states=[f"Repo-{repo}", f"Issue-{base + 1}", f"Issue-{base + 2}"], REPO=repo)
    assert sorted(tree) == sorted([f"Repo-{repo}"] + [f"Issue-{base + n}" for n in range(1, 6)])
    assert all(st["last_error"] is None for st in tree.values()), {w: st["last_error"] for w, st in tree.items()}
    assert state["store"]["Repo"][repo]["issues"] == [str(base + n) for n in range(1, 6)]
    # three pages of two, one request each, none per issue
    assert [r.query for r in http_api.requests_to(f"/repos/{repo}/issues")] == [
        "state=all&per_page=2", "state=all&per_page=2&page=2", "state=all&per_page=2&page=3"]
    assert http_api.requests_to(f"/repos/{repo}/issues/*") == []
    record = pull["store"]["Issue"][str(base + 1)]
    assert record["number"] == base + 1 and record["title"] == issues[0]["title"]  # the key keeps its type
    assert record["labels"] == [str(BUG["id"]), str(WONTFIX["id"])] and record["milestone"] == "1002604"
    assert record["pull_request"]["diff_url"].endswith(".diff") and record["assignee"] == "octocat"
    assert pull["store"]["Milestone"]["1002604"]["creator"] == "octocat"
    assert pull["store"]["Label"][str(WONTFIX["id"])]["description"] is None
    assert plain["store"]["Issue"][str(base + 2)]["milestone"] is None
    assert "pull_request" not in plain["store"]["Issue"][str(base + 2)]


# ------------------------------------------------------------------------------ Jira

def jira_issue(api: SampleAPI, key: str, n: int) -> dict[str, Any]:
    """An issue as `GET /rest/api/3/search` gives it (developer.atlassian.com): string ids,
    the record under `fields`, `null` where a field has no value."""
    iid = str(10000 + n)
    return {"expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields", "id": iid,
            "self": f"{api.url}/rest/api/3/issue/{iid}", "key": f"{key}-{n}",
            "fields": {"summary": f"Résumé {n}: “quoted” ☃", "status": {"name": "To Do", "id": "10000"},
                       "assignee": None if n % 2 else {"accountId": "5b10a2844c20165700ede21g",
                                                       "displayName": "Mia Krystof"},
                       "priority": {"name": "Medium", "id": "3"}, "labels": [], "timetracking": None,
                       "description": {"type": "doc", "version": 1, "content": [
                           {"type": "paragraph", "content": [{"type": "text", "text": "Order entry fails"}]}]},
                       "customfield_10071": None, "updated": "2024-01-15T10:20:30.000+0000"}}


JIRA = """
api jira {
  base  "@BASE@"
  auth  bearer
  retry 2 times backoff 100ms .. 200ms
}

entity JiraProject { id string  key string key  name string  issues [JiraIssue] }
entity JiraIssue   { id string  self string  key string key  fields json }

workflow ProjectWorkflow manages JiraProject {
  source jira get "/rest/api/3/project/{key}"
  child issues -> JiraIssueWorkflow {
    from jira get "/rest/api/3/search?jql=project%3D@PROJ@"
    select "issues"
    paginate offset "startAt" size "maxResults" 2 total "total"
    autostart
    cancel on delete
  }
}

workflow JiraIssueWorkflow manages JiraIssue {
  source jira get "/rest/api/3/issue/{key}" every 1h
}

deploy ProjectWorkflow "@PROJ@" { token jira from env "JIRA_TOKEN" }
"""


async def test_jira_search_pages_by_offset_with_string_keys(deployed, http_api):
    key = unique("P").upper().replace("-", "")
    issues = [jira_issue(http_api, key, n) for n in range(1, 6)]
    http_api.set_entity(f"/rest/api/3/project/{key}", {"id": "10000", "key": key, "name": "Ünïcode ∂roject",
                                                        "self": f"{http_api.url}/rest/api/3/project/10000"})
    http_api.set_list("/rest/api/3/search", issues, style="offset", wrap="issues")
    tree, (issue,) = await deployed.loaded(JIRA, f"JiraProject-{key}", 5, tokens={"JIRA_TOKEN": "jira-t0k"},
                                           states=[f"JiraIssue-{key}-2"], PROJ=key)
    assert all(st["last_error"] is None for st in tree.values())
    assert [r.query.split("&", 1)[1] for r in http_api.requests_to("/rest/api/3/search")] == [
        "startAt=0&maxResults=2", "startAt=2&maxResults=2", "startAt=4&maxResults=2"]
    assert issue["store"]["JiraIssue"][f"{key}-2"]["fields"] == issues[1]["fields"]


async def test_jira_pages_past_a_page_the_server_cut_to_its_own_maximum(deployed, http_api):
    """Jira answers at most 100 issues a page whatever `maxResults` asks (and says so in
    the page's `maxResults`): a short page before `total` is not the last one."""
    key = unique("Q").upper().replace("-", "")
    issues = [jira_issue(http_api, key, n) for n in range(1, 6)]
    http_api.set_entity(f"/rest/api/3/project/{key}", {"id": "10001", "key": key, "name": "Capped"})
    http_api.set_list("/rest/api/3/search", issues, style="offset", wrap="issues", max_size=2)
    spec = JIRA.replace('size "maxResults" 2', 'size "maxResults" 100')
    tree, _ = await deployed.loaded(spec, f"JiraProject-{key}", 5, tokens={"JIRA_TOKEN": "jira-t0k"}, PROJ=key)
    assert all(st["last_error"] is None for st in tree.values())
    assert [r.query.split("&", 1)[1] for r in http_api.requests_to("/rest/api/3/search")] == [
        "startAt=0&maxResults=100", "startAt=2&maxResults=100", "startAt=4&maxResults=100"]


# --------------------------------------------------------------------------- Zendesk

def zendesk_ticket(api: SampleAPI, tid: int, n: int) -> dict[str, Any]:
    """A ticket as `GET /api/v2/tickets` lists it (developer.zendesk.com): integer ids,
    `priority`, `assignee_id`, `due_at` null on some."""
    return {"id": tid, "url": f"{api.url}/api/v2/tickets/{tid}.json", "external_id": None,
            "created_at": "2009-07-20T22:55:29Z", "updated_at": "2011-05-05T10:38:52Z", "type": "incident",
            "subject": f"Help, my printer is on fire! 🔥 {n}", "raw_subject": f"Help, my printer is on fire! 🔥 {n}",
            "description": "The fire is very colorful.", "priority": None if n % 2 else "high",
            "status": "open", "recipient": "support@company.com", "requester_id": 20978392, "submitter_id": 76872,
            "assignee_id": None if n % 2 else 235323, "organization_id": 509974, "group_id": 98738,
            "collaborator_ids": [35334, 234], "follower_ids": [35334, 234], "email_cc_ids": [],
            "forum_topic_id": None, "problem_id": None, "has_incidents": False, "is_public": True,
            "due_at": None, "tags": ["enterprise", "other_tag"], "via": {"channel": "web"},
            "custom_fields": [{"id": 27642, "value": "745"}, {"id": 27648, "value": "yes"}],
            "satisfaction_rating": None, "sharing_agreement_ids": [], "followup_ids": [],
            "ticket_form_id": None, "brand_id": None, "allow_channelback": False, "allow_attachments": True}


ZENDESK = """
api zendesk {
  base  "@BASE@"
  auth  bearer
  retry 2 times backoff 100ms .. 200ms
}

entity Desk   { name string key  tickets [Ticket] }
entity Ticket {
  id          integer
  subject     string
  status      string
  priority    string?
  assignee_id integer?
  tags        [string]
  via         json
  due_at      datetime?
}

workflow DeskWorkflow manages Desk {
  child tickets -> TicketWorkflow {
    from zendesk get "/api/v2/tickets.json?per_page=2"
    select "tickets"
    paginate next "next_page"
    autostart
  }
}

workflow TicketWorkflow manages Ticket { token none }

deploy DeskWorkflow "@DESK@" { token zendesk from env "ZENDESK_TOKEN" }
"""


async def test_zendesk_tickets_follow_next_page_until_null(deployed, http_api):
    desk, base = unique("desk"), number_base()
    tickets = [zendesk_ticket(http_api, base + n, n) for n in range(1, 6)]
    http_api.set_list("/api/v2/tickets.json", tickets, style="next", wrap="tickets")
    tree, (ticket,) = await deployed.loaded(ZENDESK, f"Desk-{desk}", 5, tokens={"ZENDESK_TOKEN": "zd-t0k"},
                                            states=[f"Ticket-{base + 1}"], DESK=desk)
    assert all(st["last_error"] is None for st in tree.values())
    assert len(http_api.requests_to("/api/v2/tickets.json")) == 3
    assert ticket["store"]["Ticket"][str(base + 1)]["priority"] is None


# ---------------------------------------------------------------------------- Stripe

def stripe_customer(cid: str, n: int) -> dict[str, Any]:
    """A customer as `GET /v1/customers` lists it (docs.stripe.com)."""
    return {"id": cid, "object": "customer", "address": None, "balance": 0, "created": 1680893993 + n,
            "currency": None, "default_source": None, "delinquent": False, "description": None, "discount": None,
            "email": f"jenny{n}@example.com", "invoice_prefix": "0759376C",
            "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                                 "rendering_options": None},
            "livemode": False, "metadata": {}, "name": f"Jenny Rosen {n}", "next_invoice_sequence": 1,
            "phone": None, "preferred_locales": [], "shipping": None, "tax_exempt": "none", "test_clock": None}


STRIPE = """
api stripe {
  base  "@BASE@"
  auth  bearer
  retry 2 times backoff 100ms .. 200ms
}

entity Account  { id string  customers [Customer] }
entity Customer { id string  email string?  name string?  created integer  metadata json }

workflow AccountWorkflow manages Account {
  child customers -> CustomerWorkflow {
    from stripe get "/v1/customers?limit=100"
    select "data"
    paginate last "id" as "starting_after" while "has_more"
    autostart
  }
}

workflow CustomerWorkflow manages Customer { token none }

deploy AccountWorkflow "@ACCOUNT@" { token stripe from env "STRIPE_KEY" }
"""


def stripe_customers(count: int) -> list[dict[str, Any]]:
    return [stripe_customer(f"cus_{uuid.uuid4().hex[:14]}", n) for n in range(count)]


async def test_stripe_customers_page_after_the_last_id_until_has_more_is_false(deployed, http_api):
    account = unique("acct")
    customers = stripe_customers(250)
    http_api.set_list("/v1/customers", customers, style="last", page_size=10)
    http_api.require_auth("/v1/", "sk_test_t0k")
    tree, _ = await deployed.loaded(STRIPE, f"Account-{account}", 250, tokens={"STRIPE_KEY": "sk_test_t0k"},
                                    ACCOUNT=account)
    assert sorted(tree) == sorted([f"Account-{account}"] + [f"Customer-{c['id']}" for c in customers])
    assert all(st["last_error"] is None for st in tree.values())
    pages = http_api.requests_to("/v1/customers")
    assert [r.query for r in pages] == [  # 1 + 250 over 3 pages: one request a page, none per customer
        "limit=100", f"limit=100&starting_after={customers[99]['id']}",
        f"limit=100&starting_after={customers[199]['id']}"]
    assert all(r.auth == "Bearer sk_test_t0k" for r in pages)
    assert len(http_api.log()) == 3


async def test_stripe_pages_stop_at_max_pages_and_say_so(deployed, http_api):
    account = unique("acct")
    customers = stripe_customers(25)
    http_api.set_list("/v1/customers", customers, style="last")
    spec = STRIPE.replace("limit=100", "limit=10").replace("autostart", "max 2 pages\n    autostart")
    tree, _ = await deployed.loaded(spec, f"Account-{account}", 20, tokens={"STRIPE_KEY": "sk_test_t0k"},
                                    ACCOUNT=account)
    assert "stopped after 2 pages (max 2 pages)" in tree[f"Account-{account}"]["last_error"]
    assert len(http_api.requests_to("/v1/customers")) == 2


async def test_a_stripe_while_path_the_body_lacks_is_an_error_not_page_one_only(client, deployed, http_api):
    account = unique("acct")
    http_api.set_list("/v1/customers", stripe_customers(3), style="last")
    spec = STRIPE.replace('while "has_more"', 'while "hasMore"')
    async with deployed.running(spec, tokens={"STRIPE_KEY": "sk_test_t0k"}, ACCOUNT=account):

        async def refused():
            st = await try_query(client, f"Account-{account}")
            assert st is not None and st["last_error"], st
            return st

        st = await eventually(refused)
    assert "$.hasMore: expected true or false (whether more pages follow), got null" in st["last_error"]
    assert st["children"] == [] and not st["loaded"]
    assert len(http_api.requests_to("/v1/customers")) == 1  # bad data: not retried


# ------------------------------------------------------------- what real lists also hold

THINGS = """
api things {
  base  "@BASE@"
  auth  none
  retry 2 times backoff 100ms .. 200ms
}

entity Shelf { name string key  things [Thing] }
entity Thing { id string  title string  note string?  size integer }

workflow ShelfWorkflow manages Shelf {
  child things -> ThingWorkflow {
    from things get "/shelves/{name}/things"
    autostart
    cancel on delete
  }
}

workflow ThingWorkflow manages Thing {
  source things get "/things/{id}" every 1h
}

deploy ShelfWorkflow "@SHELF@" { }
"""


def thing(tid: str, title: str = "a thing", **more: Any) -> dict[str, Any]:
    return {"id": tid, "title": title, "note": None, "size": 1, **more}


async def test_an_empty_list_loads_with_no_children(deployed, http_api):
    shelf = unique("shelf")
    http_api.set_list(f"/shelves/{shelf}/things", [], style="bare")
    tree, (state,) = await deployed.loaded(THINGS, f"Shelf-{shelf}", 0, states=[f"Shelf-{shelf}"], SHELF=shelf)
    assert tree[f"Shelf-{shelf}"]["status"] == "running" and tree[f"Shelf-{shelf}"]["last_error"] is None
    assert state["store"]["Shelf"][shelf]["things"] == []


async def test_keys_with_slashes_spaces_and_unicode_name_their_workflows_and_escape_in_urls(client, deployed, http_api,
                                                                                          temporal_address):
    shelf, tag = unique("shelf"), uuid.uuid4().hex[:8]
    slashed, unicode_key = f"docs/{tag} draft", f"ключ-🔑-{tag}"
    items = [thing(slashed, "slashed"), thing(unicode_key, "ユニコード ✓")]
    http_api.set_list(f"/shelves/{shelf}/things", items, style="bare")
    http_api.set_entity(f"/things/docs%2F{tag}%20draft", thing(slashed, "slashed, reloaded"))
    async with deployed.running(THINGS, SHELF=shelf):
        tree = await settled(client, f"Shelf-{shelf}", 2)
        assert sorted(tree) == sorted([f"Shelf-{shelf}", f"Thing-{slashed}", f"Thing-{unicode_key}"])
        await client.get_workflow_handle(f"Thing-{slashed}").signal("update", {})  # reload: its own URL

        async def reloaded():
            state = await query(client, f"Thing-{slashed}", "state")
            assert state["store"]["Thing"][slashed]["title"] == "slashed, reloaded", state["errors"]

        await eventually(reloaded)
        # in a thread: this test's event loop runs the worker that answers the CLI's queries
        shown = await asyncio.to_thread(run_swfc, "status", f"Shelf-{shelf}", "--tree", "--address", temporal_address)
    assert [r.status for r in http_api.requests_to(f"/things/docs%2F{tag}%20draft")] == [200]
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"Thing-{slashed}" in shown.stdout and f"Thing-{unicode_key}" in shown.stdout


async def test_bad_items_are_left_out_with_their_path_and_at_most_120_characters(deployed, http_api):
    shelf, tag = unique("shelf"), uuid.uuid4().hex[:8]
    huge = "x" * 5000
    items = [
        thing(f"big-{tag}", "é" * 4000, note="🙂" * 2000),  # a record of several KB
        {"title": "no key", "size": 1},                       # no `id`
        thing(f"nul-{tag}", None),                            # `title` null where the spec says string
        thing(f"dup-{tag}", "first"),
        thing(f"dup-{tag}", "second"),                        # the same key twice in one list
        thing(f"huge-{tag}", "t", size=huge),                 # a long bad value: quoted, cut
        None,                                                 # not a record at all
        thing(f"ok-{tag}", "fine", note="sometimes a note"),
    ]
    http_api.set_list(f"/shelves/{shelf}/things", items, style="bare")
    root = f"Shelf-{shelf}"
    tree, (state, dup) = await deployed.loaded(THINGS, root, 3, states=[root, f"Thing-dup-{tag}"], SHELF=shelf)
    assert sorted(tree) == sorted([root, f"Thing-big-{tag}", f"Thing-dup-{tag}", f"Thing-ok-{tag}"])
    assert state["store"]["Shelf"][shelf]["things"] == [f"big-{tag}", f"dup-{tag}", f"ok-{tag}"]
    messages = [e["message"] for e in state["errors"] if e["kind"] == "item"]
    assert len(messages) == 4, messages
    assert 'missing required field "id"' in messages[0] and "$[1]" in messages[0]
    assert "$[2].title: expected a string, got null" in messages[1]
    assert f"$[5].size: expected an integer, got \"{'x' * 50}" in messages[2]
    assert all(len(m) < 400 for m in messages) and huge[:121] not in messages[2]
    assert "$[6]" in messages[3]
    assert dup["store"]["Thing"][f"dup-{tag}"]["title"] == "second"  # the later item wins
    assert tree[root]["status"] == "running"


GITHUB_AUTHORS = """
api github {
  base  "@BASE@"
  auth  bearer
  allow "@ORIGIN@"
  retry 2 times backoff 100ms .. 200ms
}

entity GhUser    { login string key  id integer  type string }
entity Milestone { id integer  title string  url string }
entity Repo      { full_name string key  url string  issues [Issue] }
entity Issue     { id integer  number integer  url string  user GhUser  milestone Milestone?  labels [Label] }
entity Label     { id integer  name string  url string }

workflow RepoWorkflow manages Repo {
  source github get "/repos/{+full_name}"
  child issues -> IssueWorkflow {
    from github get "{+url}/issues"
    paginate link
    autostart
  }
}

workflow IssueWorkflow manages Issue {
  child user -> AuthorWorkflow { autostart }
  child labels -> LabelWorkflow {
    from github get "/repos/@REPO@/milestones/{milestone.id}/labels"
    autostart
  }
}

workflow AuthorWorkflow manages GhUser { token none }
workflow LabelWorkflow manages Label { token none }

deploy RepoWorkflow "@REPO@" { token github from env "GITHUB_TOKEN" }
"""


async def test_a_child_started_from_a_list_item_holds_the_objects_embedded_in_it(client, deployed, http_api):
    """An item's embedded objects (`user`, `milestone`) go with it into its child: the
    child's own children start with their records, and its templates can name them."""
    repo, base = f"octocat/{unique('embedded')}", number_base()
    issue = gh_issue(http_api, repo, base, 1)  # a pull request: with a milestone
    issue["user"] = gh_user(f"author-{base}", base)
    issue["milestone"]["id"] = base
    http_api.set_entity(f"/repos/{repo}", {"full_name": repo, "url": f"{http_api.url}/repos/{repo}"})
    http_api.set_list(f"/repos/{repo}/issues", [issue], style="link")
    http_api.set_list(f"/repos/{repo}/milestones/{base}/labels", [BUG], style="link")
    async with deployed.running(GITHUB_AUTHORS, tokens={"GITHUB_TOKEN": "t0k"}, REPO=repo):
        await settled(client, f"Repo-{repo}", 1)
        tree = await settled(client, f"Issue-{base + 1}", 2)
        author = await query(client, f"GhUser-author-{base}", "state")
    assert sorted(tree) == sorted([f"Issue-{base + 1}", f"GhUser-author-{base}", f"Label-{BUG['id']}"])
    assert author["store"]["GhUser"][f"author-{base}"]["id"] == base


async def test_an_item_whose_key_cannot_name_a_workflow_is_left_out_once(client, deployed, http_api):
    """Temporal refuses workflow ids over 1,000 bytes: such an item is a recorded error (its
    id cut to 120 characters), never tried again, not even when the list is read again; the
    others start and the parent settles."""
    shelf, tag = unique("shelf"), uuid.uuid4().hex[:8]
    long_key = f"long-{tag}-" + "k" * 1100
    items = [thing(long_key, "too long to be a workflow id"), thing(f"ok-{tag}", "fine")]
    http_api.set_list(f"/shelves/{shelf}/things", items, style="bare")
    root = f"Shelf-{shelf}"
    async with deployed.running(THINGS, SHELF=shelf):
        tree = await settled(client, root, 1)
        await client.get_workflow_handle(root).signal("update", {})  # list again
        await eventually(lambda: len(http_api.requests_to(f"/shelves/{shelf}/things")) == 2)
        await settled(client, root, 1)
        state = await query(client, root, "state")
    assert sorted(tree) == sorted([root, f"Thing-ok-{tag}"])
    errors = [e["message"] for e in state["errors"]]
    assert len(errors) == 1, errors
    assert errors[0].startswith("cannot start Thing-long-") and "maximum allowed length" in errors[0]
    assert errors[0].endswith("; left out") and len(errors[0]) < 300


async def test_a_wrapped_list_read_without_select_says_where_the_lists_are(client, deployed, http_api):
    """The user forgot `select "tickets"`: the error says the body is an object and names
    its fields that hold lists, in at most 120 characters of them."""
    desk, base = unique("desk"), number_base()
    http_api.set_list("/api/v2/tickets.json", [zendesk_ticket(http_api, base + 1, 1)], style="next", wrap="tickets")
    root = f"Desk-{desk}"
    async with deployed.running(ZENDESK.replace('select "tickets"', ""), tokens={"ZENDESK_TOKEN": "zd-t0k"}, DESK=desk):
        st = await in_error(client, root)
    assert "$: expected a list of Ticket records, got an object" in st["last_error"], st["last_error"]
    assert '"tickets"' in st["last_error"] and "Help, my printer" not in st["last_error"]


async def test_a_record_nested_hundreds_deep_is_left_out_without_failing_a_workflow_task(deployed, http_api):
    """JSON that parses (850 nested lists in a `json` field) but would stop the workflow's
    own code at Python's recursion limit: the item is left out as a recorded error."""
    account = unique("acct")
    deep: list = []
    for _ in range(850):
        deep = [deep]
    fine, odd = (stripe_customer(f"cus_{uuid.uuid4().hex[:14]}", n) for n in range(2))
    http_api.set_entity("/v1/customers", {"object": "list", "url": "/v1/customers", "has_more": False,
                                          "data": [fine, {**odd, "metadata": {"layers": deep}}]})
    root = f"Account-{account}"
    tree, _ = await deployed.loaded(STRIPE, root, 1, tokens={"STRIPE_KEY": "sk_test_t0k"}, ACCOUNT=account)
    assert sorted(tree) == [root, f"Customer-{fine['id']}"]
    assert "$.data[1].metadata.layers[0][0]" in tree[root]["last_error"]
    assert "nested deeper than 100 levels" in tree[root]["last_error"]


async def test_a_string_cut_inside_an_emoji_is_kept_as_sent(deployed, http_api):
    """JavaScript services cut strings between the halves of a surrogate pair and send a lone
    `\\ud83d` escape (valid JSON): the record loads and the child starts with it; a bad value
    holding one is quoted in an error that prints (the surrogate spelled `\\ud83d`)."""
    shelf, tag = unique("shelf"), uuid.uuid4().hex[:8]
    items = [thing(f"cut-{tag}", "truncated \ud83d"), thing(f"ok-{tag}"), thing(f"bad-{tag}", size="\ud83d")]
    http_api.set_list(f"/shelves/{shelf}/things", items, style="bare")
    root = f"Shelf-{shelf}"
    tree, (state,) = await deployed.loaded(THINGS, root, 2, states=[f"Thing-cut-{tag}"], SHELF=shelf)
    assert tree[root]["last_error"].endswith('$[2].size: expected an integer, got "\\ud83d"')
    tree[root]["last_error"].encode("utf-8")  # prints, logs, goes into JSON as it is
    assert state["store"]["Thing"][f"cut-{tag}"]["title"] == "truncated \ud83d"


async def test_a_key_no_workflow_id_can_hold_keeps_no_other_child_from_starting(deployed, http_api):
    """A key with a lone surrogate cannot be a Temporal workflow id (ids are UTF-8): that
    item is left out once, as a recorded error; the children beside it start."""
    shelf, tag = unique("shelf"), uuid.uuid4().hex[:8]
    items = [thing(f"ok-{tag}-{n}") for n in range(3)]
    items.insert(1, thing(f"cut-{tag}-\ud83d"))
    http_api.set_list(f"/shelves/{shelf}/things", items, style="bare")
    root = f"Shelf-{shelf}"
    tree, (state,) = await deployed.loaded(THINGS, root, 3, states=[root], SHELF=shelf)
    assert sorted(tree) == sorted([root] + [f"Thing-ok-{tag}-{n}" for n in range(3)])
    errors = [e["message"] for e in state["errors"]]
    assert len(errors) == 1 and errors[0].startswith(f"cannot start Thing-cut-{tag}-\\ud83d: "), errors


async def test_a_body_nested_too_deep_to_parse_is_malformed_not_retried(client, deployed, http_api):
    account = unique("acct")
    deep = b'{"object": "list", "url": "/v1/customers", "has_more": false, "data": [' + b"[" * 5000 + b"]" * 5000 + b"]}"
    http_api.invalid("/v1/customers", deep, times=None)  # valid JSON, 5,000 lists deep
    root = f"Account-{account}"
    async with deployed.running(STRIPE, tokens={"STRIPE_KEY": "sk_test_t0k"}, ACCOUNT=account):
        st = await in_error(client, root)
    assert "MalformedResponse" in st["last_error"] and "maximum recursion depth" in st["last_error"]
    assert len(http_api.requests_to("/v1/customers")) == 1  # no retry cures it


async def test_an_item_that_turns_invalid_keeps_its_last_valid_record_and_its_child(client, deployed, http_api):
    """A field that is sometimes null where the spec says it never is: the item that turns
    invalid is a recorded error, and the state stays as it was (its last valid record, its
    key in the relation, its child running, not cancelled); valid again, it is taken."""
    shelf, tag = unique("shelf"), uuid.uuid4().hex[:8]
    a, b = thing(f"a-{tag}", "A"), thing(f"b-{tag}", "B")
    http_api.set_list(f"/shelves/{shelf}/things", [a, b], style="bare")
    root, listed = f"Shelf-{shelf}", f"/shelves/{shelf}/things"
    async with deployed.running(THINGS, SHELF=shelf):
        await settled(client, root, 2)
        http_api.set_list(listed, [a, {**b, "title": None}], style="bare")
        await client.get_workflow_handle(root).signal("update", {})
        await eventually(lambda: len(http_api.requests_to(listed)) == 2)
        tree = await settled(client, root, 2)
        state = await query(client, root, "state")
        assert state["store"]["Shelf"][shelf]["things"] == [a["id"], b["id"]]
        assert state["store"]["Thing"][b["id"]]["title"] == "B"
        assert "$[1].title: expected a string, got null" in tree[root]["last_error"]

        http_api.set_list(listed, [a, {**b, "title": "B, again"}], style="bare")
        await client.get_workflow_handle(root).signal("update", {})

        async def taken():
            child = await query(client, f"Thing-{b['id']}", "state")
            assert child["store"]["Thing"][b["id"]]["title"] == "B, again"

        await eventually(taken)


async def test_a_page_of_non_ascii_records_is_read_in_slices_that_fit_a_payload(deployed, http_api):
    """20 records of 20,000 "ß" each: 400,000 characters, but 2.4 MB as Temporal's JSON
    writes them (`\\u00df`), over its 2 MB payload limit in one activity result."""
    shelf, tag = unique("shelf"), uuid.uuid4().hex[:8]
    items = [thing(f"de-{tag}-{n}", f"Straße {n}", note="ß" * 20_000) for n in range(20)]
    http_api.set_list(f"/shelves/{shelf}/things", items, style="bare")
    root = f"Shelf-{shelf}"
    tree, _ = await deployed.loaded(THINGS, root, 20, SHELF=shelf)
    assert tree[root]["last_error"] is None, tree[root]["last_error"]
    assert len(http_api.requests_to(f"/shelves/{shelf}/things")) == 3  # one slice per MB


async def test_children_started_with_their_items_do_not_echo_them_back(client, deployed, http_api):
    """`subscribe update "*"` on a collection: a child started with its item holds what its
    parent holds, so it sends nothing back until its record changes (no signal per child;
    no refusal once the parent's records pass the 1 MB an update may grow a state to)."""
    shelf, tag = unique("shelf"), uuid.uuid4().hex[:8]
    items = [thing(f"big-{tag}-{n}", f"thing {n}", note="x" * 20_000) for n in range(60)]  # 60 × 20 KB
    http_api.set_list(f"/shelves/{shelf}/things", items, style="bare")
    spec = THINGS.replace("    cancel on delete\n", '    cancel on delete\n    subscribe update "*"\n')
    root = f"Shelf-{shelf}"
    async with deployed.running(spec, SHELF=shelf):
        tree = await settled(client, root, 60)
        history = await client.get_workflow_handle(root).fetch_history()
    signals = [e for e in history.events if e.HasField("workflow_execution_signaled_event_attributes")]
    assert tree[root]["last_error"] is None, tree[root]["last_error"]
    assert signals == []
