"""Semantic checks one by one, on small in-memory specs (`check_sources`)."""

from __future__ import annotations

import pytest

from compiler import check_sources, compile_sources

API = 'api crm {{\n  base {base}\n  auth bearer\n{extra}}}\n'
TAIL = ('entity User {\n  id string\n  name string\n  tags [string]\n}\n'
        'workflow UserWorkflow manages User {\n  source crm get "/users/{id}"\n}\n')


def found(text: str) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in check_sources({"a.swf": text}, ["a.swf"])]


def codes(text: str) -> list[str]:
    return [c for c, _ in found(text)]


def api(base='"http://127.0.0.1:8787"', extra="") -> str:
    return API.format(base=base, extra=extra) + TAIL


@pytest.mark.parametrize("base, expected", [
    ('"http://127.0.0.1:8787"', []),
    ('"https://api.example.com/v2"', []),
    ('env("CRM_URL", "http://localhost:8787")', []),
    ('"ftp://h:1"', ["SWF042"]),
    ('"http://"', ["SWF042"]),
    ('"http://h:99999"', ["SWF042"]),
    ('"http://h/x?y=1"', ["SWF042"]),
    ('env("CRM_URL")', ["SWF042"]),
    ('env("CRM-URL", "http://h:1")', ["SWF042"]),
    ('env("CRM_URL", "nope")', ["SWF042"]),
])
def test_base_urls(base, expected):
    assert codes(api(base=base)) == expected


@pytest.mark.parametrize("allow, expected", [
    ('"127.0.0.1:8787"', []),
    ('"127.0.0.1:8787", "localhost:8787"', []),
    ('"http://127.0.0.1:8787"', []),
    ('"127.0.0.1"', ["SWF043"]),          # default port 80 is not the base's 8787
    ('"localhost:8787"', ["SWF043"]),
    ('"127.0.0.1:8787", "a b:1"', ["SWF043"]),
    ('"127.0.0.1:8787", "h:0"', ["SWF043"]),
    ('"127.0.0.1:8787", "h/x:1"', ["SWF043"]),
])
def test_allow_origins(allow, expected):
    assert codes(api(extra=f"  allow {allow}\n")) == expected


@pytest.mark.parametrize("stmt, expected", [
    ("timeout 500ms", []), ("timeout 1d", []), ("timeout 0s", ["SWF040"]),
    ("timeout 1.5s", []), ("timeout 0.5ms", ["SWF040"]), ("timeout 5", ["SWF001"]),
    ("timeout 5S", ["SWF040"]), ("timeout 0.0s", ["SWF040"]), ("timeout 365d", []),
    ("timeout 366d", ["SWF040"]), ("timeout 99999999999999999999h", ["SWF040"]),
    ("retry 1000 times", []), ("retry 1001 times", ["SWF041"]),
    ("timeout 5w", ["SWF040"]),
    ("retry 3 times", []), ("retry 1 times backoff 1s .. 1s", []),
    ("retry 0 times", []), ("retry 3 times backoff 2m .. 1m", ["SWF041"]),
    ("retry 3 times backoff 0s .. 1m", ["SWF040"]),
])
def test_durations_and_retry(stmt, expected):
    assert codes(api(extra=f"  {stmt}\n")) == expected


def test_fractional_durations_are_exact():
    from compiler.values import duration_ms

    assert [duration_ms(t) for t in ("1.5s", "0.25m", "2h", "1.001s", "0.5ms")] == [
        1500, 15000, 7_200_000, 1001, None]


def test_bad_unit_message_lists_the_units():
    ((code, message),) = found(api(extra="  timeout 5w\n"))
    assert "unknown unit `w`: use ms, s, m, h or d" in message


@pytest.mark.parametrize("header, expected", [('"X-Api-Key"', []), ('"X Api"', ["SWF045"]),
                                              ('""', ["SWF045"])])
def test_auth_header(header, expected):
    text = api().replace("auth bearer", f"auth header {header}")
    assert codes(text) == expected


TEAM = ('api crm {\n  base "http://127.0.0.1:8787"\n  auth none\n}\n'
        'entity Team {\n  id string\n}\n'
        'workflow TeamWorkflow manages Team {\n  source crm get "/t/{id}"\n}\n')
WF = TEAM + 'entity User {\n  id string\n  tags [string]\n  team Team?\n}\n'


@pytest.mark.parametrize("body, expected", [
    ('source crm get "/users/{id}" every 5m\n  select "data.user"', []),
    ('source crm post "/users/{id}"', ["SWF034"]),
    ('source crm get "users/{id}"', ["SWF034"]),
    ('source crm get "/users/{id"', ["SWF034"]),
    ('source crm get "/users/{tags}"', ["SWF032"]),
    ('source crm get "/users/{nope}"', ["SWF032"]),
    ('source crm get "/users/{}"', ["SWF032"]),
    ('source crm get "/users/{id}"\n  select ""', ["SWF035"]),
    ('select "data"', ["SWF035"]),
    ('source crm get "/users/{id}"\n  child team -> TeamWorkflow { autostart subscribe update "a..b" }',
     ["SWF035"]),
    ('source crm get "/users/{id}"\n  child team -> TeamWorkflow { autostart subscribe update "*" }',
     []),
    ('source crm get "/users/{id}"\n  child team -> TeamWorkflow { autostart subscribe update "id" '
     'subscribe update "**" subscribe update "*.x" subscribe update "id.**" }', []),
    ('source crm get "/users/{id}"\n  child team -> TeamWorkflow { autostart subscribe update "nme" }',
     ["SWF035"]),
    ('source crm get "/users/{id}"\n  child team -> TeamWorkflow { autostart subscribe update "a***" }',
     ["SWF035"]),
    ('source crm get "/users/{id}"\n  child tags -> TeamWorkflow { autostart }', ["SWF030"]),
    ('source crm get "/users/{id}"\n  child team -> TeamWorkflow', ["SWF082"]),
    ('source crm get "/users/{id}"\n  child team -> TeamWorkflow { autostart autostart }',
     ["SWF012"]),
    ('source crm get "/users/{id}"\n  token none\n  token inherit', ["SWF012"]),
])
def test_workflow_statements(body, expected):
    text = WF + f"workflow UserWorkflow manages User {{\n  {body}\n}}\n"
    assert codes(text) == expected


def test_did_you_mean():
    ((code, _),) = found(WF + 'workflow W manages Usr {\n}\n')
    diags = check_sources({"a.swf": WF + 'workflow W manages Usr {\n}\n'}, ["a.swf"])
    assert code == "SWF020" and diags[0].hint == "did you mean `User`?"


@pytest.mark.parametrize("fields, expected", [
    ("id string", []),
    ("number integer key", []),
    ("name string", ["SWF033"]),
    ("id string?", ["SWF033"]),
    ("id [string]", ["SWF033"]),
    ("id number", ["SWF033"]),
    ("a string key\n  b string key", ["SWF033"]),
    ("id User", ["SWF033"]),
])
def test_keys(fields, expected):
    text = 'entity User {\n  ' + fields + '\n}\nworkflow UW manages User {\n}\n'
    assert codes(text) == expected


@pytest.mark.parametrize("deploy, expected", [
    ('deploy TeamWorkflow "t1"', []),
    ('deploy TeamWorkflow ""', ["SWF050"]),
    ('deploy TeamWorkflow "a\tb"', ["SWF050"]),
    ('deploy TeamWorkflow "t1" { token crm from env "1X" }', ["SWF050", "SWF063"]),
    ('deploy TeamWorkflow "t1"\ndeploy TeamWorkflow "t1"', ["SWF013"]),
    ('deploy TeamWorkflow "t1" { token crm from env "A" token crm from env "B" }',
     ["SWF012", "SWF063"]),
])
def test_deploys(deploy, expected):
    text = TEAM + deploy + "\n"
    assert sorted(codes(text)) == expected


def test_duplicates_note_the_first_definition():
    text = TEAM + 'api crm {\n  base "http://h:1"\n}\n'
    (d,) = check_sources({"a.swf": text}, ["a.swf"])
    assert d.code == "SWF010" and d.notes[0].message == "first defined here"
    assert d.notes[0].span.line == 1


def test_unused_warnings_and_no_ir_only_on_errors():
    text = TEAM + 'entity Lonely {\n  id string\n}\n'
    ir, diags = compile_sources({"a.swf": text}, ["a.swf"])
    assert [d.code for d in diags] == ["SWF081"] and diags[0].severity == "warning"
    assert ir is not None
    ir, diags = compile_sources({"a.swf": text + "entity Lonely {\n}\n"}, ["a.swf"])
    assert ir is None


def test_many_findings_in_one_run():
    text = ('api a {\n  base "ftp://x"\n  timeout 0s\n}\nentity E {\n  x strng\n}\n'
            'workflow W manages F {\n  source b get "nope"\n}\ndeploy Q ""\n')
    assert sorted(set(codes(text))) == ["SWF020", "SWF021", "SWF022", "SWF024", "SWF033",
                                        "SWF034", "SWF040", "SWF042", "SWF050"]


@pytest.mark.parametrize("base", ['"http://[::1]:8787"', '"http://[oops"', '"http://h:1]"'])
def test_bracketed_hosts_are_findings_not_crashes(base):
    assert codes(api(base=base)) == ["SWF042"]
    assert codes(api(extra=f"  allow {base}, \"127.0.0.1:8787\"\n")) == ["SWF043"]


def test_a_library_without_workflows_has_no_unused_warnings():
    assert codes('api crm {\n  base "http://h:1"\n}\nentity E {\n  id string\n}\n') == []


# ------------------------------------------------------------------ language v2 (DESIGN.md §6)

GH = ('api gh {\n  base "http://127.0.0.1:8787"\n  auth bearer\n}\n'
      'entity GhUser {\n  login string key\n  meta json\n}\n'
      'entity Repo {\n  full_name string key\n  url string\n  stars integer\n  owner GhUser\n'
      '  topics [string]\n  issues [Issue]\n  lead Issue\n}\n'
      'entity Issue {\n  id integer\n  url string\n}\n'
      'workflow IssueWorkflow manages Issue {\n  source gh get "{+url}"\n}\n')


def repo(body: str, deploy: str = "") -> str:
    return GH + f"workflow RepoWorkflow manages Repo {{\n  {body}\n}}\n" + deploy


@pytest.mark.parametrize("path, expected", [
    ('"/repos/{+full_name}"', []),
    ('"/repos/{full_name}/x{?stars}"', []),
    ('"/users/{owner.login}"', []),
    ('"/users/{owner.meta.anything}"', []),             # into a json field: anything below
    ('"{+url}"', []),
    ('"http://127.0.0.1:8787/repos/{+full_name}"', []),
    ('"/users/{owner.name}"', ["SWF032"]),              # GhUser has no name
    ('"/users/{stars.x}"', ["SWF032"]),                 # a scalar has no fields
    ('"/t/{topics}"', ["SWF032"]),                      # a list is not a URL part
    ('"/t/{!x}"', ["SWF036"]),
    ('"/t/{a b}"', ["SWF034"]),
    ('"https://evil.example/{full_name}"', ["SWF036"]),  # not in allow
    ('"repos/{full_name}"', ["SWF034"]),
])
def test_source_templates(path, expected):
    assert codes(repo(f"source gh get {path}")) == expected


@pytest.mark.parametrize("child, expected", [
    ('{ from gh get "{+url}/issues" paginate link autostart }', []),
    ('{ from gh get "/repos/{+full_name}/issues" select "data.items" paginate page "page" size "per_page" 100 '
     'max 10 pages every 5m autostart }', []),
    ('{ from gh get "{+url}/issues" paginate cursor "meta.next" as "cursor" autostart }', []),
    ('{ from gh get "{+url}/issues" paginate next "next_page" autostart }', []),
    ('{ from gh get "{+url}/issues" paginate offset "startAt" size "maxResults" 50 total "total" autostart }', []),
    ('{ from gh get "{+nope}/issues" autostart }', ["SWF032"]),       # names are the parent's fields
    ('{ from gh post "{+url}/issues" autostart }', ["SWF038"]),
    ('{ from gh get "issues" autostart }', ["SWF038"]),
    ('{ paginate link autostart }', ["SWF038"]),                      # no `from`
    ('{ every 5m autostart }', ["SWF038"]),
    ('{ from gh get "{+url}/issues" every 5x autostart }', ["SWF040"]),
    ('{ from gh get "{+url}/issues" select "a..b" autostart }', ["SWF035"]),
    ('{ from gh get "{+url}/issues" paginate page "a b" autostart }', ["SWF039"]),
    ('{ from gh get "{+url}/issues" max 0 pages autostart }', ["SWF039"]),
    ('{ from gh get "{+url}/issues" paginate link paginate link autostart }', ["SWF012"]),
    ('{ from nope get "{+url}/issues" autostart }', ["SWF022"]),
])
def test_collections(child, expected):
    assert codes(repo('source gh get "/repos/{+full_name}"\n  child issues -> IssueWorkflow ' + child)) == expected


def test_from_on_a_single_relation():
    assert codes(repo('source gh get "/repos/{+full_name}"\n  child lead -> IssueWorkflow '
                      '{ from gh get "{+url}/lead" autostart }')) == ["SWF038"]


DEPLOY = 'deploy RepoWorkflow "o/r" {{\n  token gh from env "GH"\n{with_}}}\n'


@pytest.mark.parametrize("source, with_, expected", [
    ('"/repos/{+full_name}"', "", []),
    ('"/repos/{+full_name}/{stars}"', "", ["SWF037"]),
    ('"/repos/{+full_name}/{stars}"', '  with stars "5"\n', []),
    ('"{+url}"', '  with url "http://127.0.0.1:8787/r"\n', []),
    ('"/u/{owner.login}"', "", ["SWF037"]),              # known only once the record has loaded
    ('"/repos/{+full_name}"', '  with stars "five"\n', ["SWF051"]),
    ('"/repos/{+full_name}"', '  with full_name "x"\n', ["SWF051"]),
    ('"/repos/{+full_name}"', '  with owner "x"\n', ["SWF051"]),
    ('"/repos/{+full_name}"', '  with nope "x"\n', ["SWF023"]),
    ('"/repos/{+full_name}"', '  with url "a"\n  with url "b"\n', ["SWF012"]),
])
def test_roots_start_with_their_key_and_with_values(source, with_, expected):
    body = f"source gh get {source}\n  child issues -> IssueWorkflow {{ from gh get \"{{+url}}/i\" autostart }}"
    assert codes(repo(body, DEPLOY.format(with_=with_))) == expected


def test_a_collection_relation_is_left_out_of_the_record_schema_and_needs_the_token():
    text = repo('source gh get "/repos/{+full_name}"\n  child issues -> IssueWorkflow '
                '{ from gh get "{+url}/issues" autostart }', DEPLOY.format(with_=""))
    ir, diags = compile_sources({"a.swf": text}, ["a.swf"])
    assert diags == [] and ir is not None
    schema = ir["entities"]["Repo"]["schema"]
    assert "issues" not in schema["properties"] and "issues" not in schema["required"]
    assert ir["entities"]["Repo"]["fields"]["issues"]["collection"] is True
    assert ir["workflows"]["RepoWorkflow"]["needs"] == ["gh"]
    edge = ir["workflows"]["RepoWorkflow"]["children"][0]
    assert edge["collection"]["template"] == "{+url}/issues" and edge["collection"]["max_pages"] == 1000


LAST = ('api pay {{\n  base "http://127.0.0.1:8787"\n  auth query "api_key"\n}}\n'
        'entity Account {{ id string  charges [Charge] }}\n'
        'entity Charge {{ id string  created integer  meta json  tags [string] }}\n'
        'workflow AccountWorkflow manages Account {{\n  child charges -> ChargeWorkflow {{\n'
        '    from pay get "/v1/charges"\n    select "data"\n    paginate {paginate}\n    autostart\n  }}\n}}\n'
        'workflow ChargeWorkflow manages Charge {{ token none }}\n')


@pytest.mark.parametrize("paginate, expected", [
    ('last "id" as "starting_after" while "has_more"', []),
    ('last "created" as "created_after"', []),                       # any scalar field of the item
    ('last "meta.cursor" as "after" while "page.has_more"', []),     # a path into a json field
    ('last "uid" as "starting_after"', ["SWF039"]),                  # not a field of Charge
    ('last "tags" as "starting_after"', ["SWF039"]),                 # a list: no one value to send
    ('last "created.at" as "after"', ["SWF039"]),                    # an integer has no fields
    ('last "id" as "starting after"', ["SWF039"]),                   # not a query parameter name
    ('last "id" as "starting_after" while "has..more"', ["SWF039"]),  # not a body path
    ('last "id" as "api_key"', ["SWF064"]),                          # the token's own parameter
])
def test_paginate_last_names_a_field_of_the_listed_entity_and_a_parameter(paginate, expected):
    assert [c for c in codes(LAST.format(paginate=paginate)) if c != "SWF081"] == expected
