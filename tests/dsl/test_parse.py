"""Every construct of the v1 language (DESIGN.md §1) parses into the expected AST."""

from __future__ import annotations

import pytest

from dsl import parse
from dsl.ast import (
    AllowStmt,
    Api,
    AuthStmt,
    AutostartOpt,
    BaseStmt,
    CancelOnDeleteOpt,
    ChildStmt,
    Deploy,
    DeployToken,
    Duration,
    Entity,
    EnvValue,
    Field,
    Import,
    Integer,
    Name,
    RetryStmt,
    SelectStmt,
    SourceStmt,
    Spec,
    Str,
    SubscribeOpt,
    TimeoutStmt,
    TokenStmt,
    TypeRef,
    Workflow,
)
from tests.dsl.helpers import S, assert_plain_ast, parse_ok, shape
from tests.dsl.mutations import ROOT


def n(value: str) -> Name:
    return Name(value, S)


def s(value: str) -> Str:
    return Str(value, S)


def t(name: str, is_list=False, optional=False) -> TypeRef:
    return TypeRef(n(name), is_list, optional, S)


def only(text: str):
    (decl,) = parse_ok(text)
    return decl


# ---------------------------------------------------------------------------- api


def test_api_with_every_setting():
    decl = only(
        """
        api crm {
          base    "http://127.0.0.1:8787"
          auth    bearer
          allow   "127.0.0.1:8787", "localhost:8787"
          timeout 10s
          retry   5 times backoff 1s .. 30s
        }
        """
    )
    assert shape(decl) == shape(
        Api(n("crm"), (
            BaseStmt(s("http://127.0.0.1:8787"), S),
            AuthStmt("bearer", None, S),
            AllowStmt((s("127.0.0.1:8787"), s("localhost:8787")), S),
            TimeoutStmt(Duration("10s", S), S),
            RetryStmt(Integer(5, S), Duration("1s", S), Duration("30s", S), S),
        ), S)
    )


@pytest.mark.parametrize(
    "text, scheme, header",
    [
        ("auth bearer", "bearer", None),
        ('auth header "X-Api-Key"', "header", "X-Api-Key"),
        ("auth none", "none", None),
    ],
)
def test_auth_schemes(text, scheme, header):
    (stmt,) = only(f"api a {{ {text} }}").body
    assert stmt.scheme == scheme
    assert (stmt.header.value if stmt.header else None) == header


def test_auth_header_with_a_prefix_and_auth_query():
    (header,) = only('api a { auth header "Authorization" prefix "token " }').body
    assert (header.scheme, header.header.value, header.prefix.value, header.query) == (
        "header", "Authorization", "token ", None)
    (query,) = only('api a { auth query "api_key" }').body
    assert (query.scheme, query.header, query.prefix, query.query.value) == ("query", None, None, "api_key")


@pytest.mark.parametrize("text, count, unit", [("rate 10/s", 10, "s"), ("rate 5000 / h", 5000, "h"),
                                               ("rate 3/d", 3, "d")])  # the unit is checked later (SWF048)
def test_rate(text, count, unit):
    (stmt,) = only(f"api a {{ {text} }}").body
    assert (stmt.count.value, stmt.unit.value) == (count, unit)


@pytest.mark.parametrize(
    "text, value",
    [
        ('base "http://x"', s("http://x")),
        ('base env("CRM_URL")', EnvValue(s("CRM_URL"), None, S)),
        ('base env("CRM_URL", "http://x")', EnvValue(s("CRM_URL"), s("http://x"), S)),
    ],
)
def test_base_is_a_string_or_env(text, value):
    (stmt,) = only(f"api a {{ {text} }}").body
    assert shape(stmt.value) == shape(value)


def test_retry_without_backoff():
    (stmt,) = only("api a { retry 3 times }").body
    assert shape(stmt) == shape(RetryStmt(Integer(3, S), None, None, S))


def test_an_empty_api():
    assert shape(only("api a {}")) == shape(Api(n("a"), (), S))


@pytest.mark.parametrize("text", ["5x", "1.5s", "5m30s", "10S"])
def test_durations_are_kept_as_written_even_when_bad(text):
    # the compiler, not the parser, says what is wrong with them (SWF040)
    (stmt,) = only(f"api a {{ timeout {text} }}").body
    assert stmt.duration.text == text


def test_backoff_range_without_spaces():
    (stmt,) = only("api a { retry 1 times backoff 500ms..1d }").body
    assert (stmt.backoff_min.text, stmt.backoff_max.text) == ("500ms", "1d")


# ------------------------------------------------------------------------- entity


def test_entity_with_every_kind_of_type():
    decl = only(
        """
        entity User {
          id       string key
          age      integer
          score    number?
          ok       boolean
          at       datetime
          raw      json
          tags     [string]
          maybe    [string]?
          owner    User
          listings [Listing]
        }
        """
    )
    assert shape(decl) == shape(
        Entity(n("User"), (
            Field(n("id"), t("string"), True, S),
            Field(n("age"), t("integer"), False, S),
            Field(n("score"), t("number", optional=True), False, S),
            Field(n("ok"), t("boolean"), False, S),
            Field(n("at"), t("datetime"), False, S),
            Field(n("raw"), t("json"), False, S),
            Field(n("tags"), t("string", is_list=True), False, S),
            Field(n("maybe"), t("string", is_list=True, optional=True), False, S),
            Field(n("owner"), t("User"), False, S),
            Field(n("listings"), t("Listing", is_list=True), False, S),
        ), S)
    )


def test_optional_key_field():
    (field,) = only("entity E { id string? key }").fields
    assert shape(field) == shape(Field(n("id"), t("string", optional=True), True, S))


# ----------------------------------------------------------------------- workflow


def test_workflow_with_every_statement():
    decl = only(
        """
        workflow UserWorkflow manages User {
          source crm get "/users/{id}" every 5m
          select "data"
          token inherit
          child listings -> ListingWorkflow {
            autostart
            cancel on delete
            subscribe update "*"
          }
          child photos -> PhotoWorkflow
        }
        """
    )
    assert shape(decl) == shape(
        Workflow(n("UserWorkflow"), n("User"), (
            SourceStmt(n("crm"), n("get"), s("/users/{id}"), Duration("5m", S), S),
            SelectStmt(s("data"), S),
            TokenStmt("inherit", S),
            ChildStmt(n("listings"), n("ListingWorkflow"), (
                AutostartOpt(S), CancelOnDeleteOpt(S), SubscribeOpt(s("*"), S),
            ), S),
            ChildStmt(n("photos"), n("PhotoWorkflow"), (), S),
        ), S)
    )


def test_source_without_every_and_token_none():
    decl = only('workflow P manages Photo { source crm get "/p/{id}" token none }')
    assert shape(decl.body) == shape((
        SourceStmt(n("crm"), n("get"), s("/p/{id}"), None, S),
        TokenStmt("none", S),
    ))


def test_the_method_is_any_name():
    # the compiler checks it is `get` (SWF034)
    decl = only('workflow P manages Photo { source crm post "/p" }')
    assert decl.body[0].method.value == "post"


def test_child_with_an_empty_block():
    decl = only("workflow W manages E { child x -> X {} }")
    assert decl.body[0].options == ()


# ------------------------------------------------------------------ deploy, import


def test_deploy_with_tokens():
    decl = only(
        """
        deploy UserWorkflow "u1" {
          token crm from env "CRM_TOKEN"
          token billing from env "BILLING_TOKEN"
        }
        """
    )
    assert shape(decl) == shape(
        Deploy(n("UserWorkflow"), s("u1"), (
            DeployToken(n("crm"), s("CRM_TOKEN"), S),
            DeployToken(n("billing"), s("BILLING_TOKEN"), S),
        ), S)
    )


def test_deploy_without_a_block():
    assert shape(only('deploy W "x"')) == shape(Deploy(n("W"), s("x"), (), S))


def test_imports_anywhere_at_top_level():
    decls = parse_ok('import "a.swf"\nentity E { id string }\nimport "b/c.swf"')
    assert [type(d).__name__ for d in decls] == ["Import", "Entity", "Import"]
    assert shape(decls[2]) == shape(Import(s("b/c.swf"), S))


# ------------------------------------------------------------------- lexical bits


@pytest.mark.parametrize(
    "literal, value",
    [
        (r'"plain"', "plain"),
        (r'"a \"quoted\" word"', 'a "quoted" word'),
        (r'"back\\slash"', "back\\slash"),
        (r'""', ""),
        ('"ünïcødé ✓"', "ünïcødé ✓"),
    ],
)
def test_string_escapes(literal, value):
    assert only(f"import {literal}").path.value == value


def test_comments_and_newlines_do_not_matter():
    one_line = 'api a { base "http://x" auth none } entity E { id string } # trailing'
    spread = "# head\napi\n a\n {\n base\n \"http://x\" # c\n auth\n none\n }\nentity E{id string}"
    assert shape(parse_ok(one_line)) == shape(parse_ok(spread))


def test_an_empty_file_or_only_comments_is_an_empty_spec():
    assert parse("", "e.swf") == (Spec("e.swf", ()), [])
    assert parse("# nothing here\n\n", "e.swf") == (Spec("e.swf", ()), [])


def test_a_byte_order_mark_is_not_a_column():
    (decl,) = parse_ok("\ufeffapi a {}")
    assert decl.span.col == 1


def test_no_lark_object_leaves_the_front_end():
    for path in sorted((ROOT / "specs").glob("*.swf")):
        assert_plain_ast(parse(path.read_text(encoding="utf-8"), path.name)[0])
    assert_plain_ast(parse("entity E { id string\n workflow W E { child x Y", "broken.swf")[0])


def test_keywords_glued_to_names_are_names():
    # `entityUser` is not `entity User`
    assert parse("entityUser { }", "t.swf")[1][0].code == "SWF001"


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.swf")), ids=lambda p: p.name)
def test_every_example_spec_parses(path):
    spec, diags = parse(path.read_text(encoding="utf-8"), path.name)
    assert diags == []
    assert spec.file == path.name and spec.decls
