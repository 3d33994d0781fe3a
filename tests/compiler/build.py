"""Hand-built ASTs for compiler unit tests: terse constructors with made-up spans, so the
passes can be tested without the parser. Each node gets its own line number."""

from __future__ import annotations

import itertools

from dsl import ast

_lines = itertools.count(1)
FILE = "t.swf"


def sp() -> ast.Span:
    n = next(_lines)
    return ast.Span(FILE, n, 1, n, 2)


def name(v: str) -> ast.Name:
    return ast.Name(v, sp())


def s(v: str) -> ast.Str:
    return ast.Str(v, sp())


def dur(t: str) -> ast.Duration:
    return ast.Duration(t, sp())


def api(n: str, base="http://127.0.0.1:8787", auth="bearer", header=None, allow=(),
        timeout=None, retry=None, env=None) -> ast.Api:
    body = []
    if base is not None:
        value = ast.EnvValue(s(env), s(base), sp()) if env else s(base)
        body.append(ast.BaseStmt(value, sp()))
    if auth is not None:
        body.append(ast.AuthStmt(auth, s(header) if header else None, sp()))
    if allow:
        body.append(ast.AllowStmt(tuple(s(o) for o in allow), sp()))
    if timeout:
        body.append(ast.TimeoutStmt(dur(timeout), sp()))
    if retry:
        times, lo, hi = retry
        body.append(ast.RetryStmt(ast.Integer(times, sp()), dur(lo) if lo else None,
                                  dur(hi) if hi else None, sp()))
    return ast.Api(name(n), tuple(body), sp())


def fld(n: str, t: str, *, lst=False, opt=False, key=False) -> ast.Field:
    return ast.Field(name(n), ast.TypeRef(name(t), lst, opt, sp()), key, sp())


def entity(n: str, *fields: ast.Field) -> ast.Entity:
    return ast.Entity(name(n), tuple(fields), sp())


def child(f: str, wf: str, autostart=True, cancel=False, subscribe=()) -> ast.ChildStmt:
    opts = []
    if autostart:
        opts.append(ast.AutostartOpt(sp()))
    if cancel:
        opts.append(ast.CancelOnDeleteOpt(sp()))
    opts += [ast.SubscribeOpt(s(x), sp()) for x in subscribe]
    return ast.ChildStmt(name(f), name(wf), tuple(opts), sp())


def workflow(n: str, ent: str, *body, source=None, every=None, select=None,
             token=None) -> ast.Workflow:
    stmts = []
    if source:
        a, path = source
        stmts.append(ast.SourceStmt(name(a), name("get"), s(path), dur(every) if every else None,
                                    sp()))
    if select:
        stmts.append(ast.SelectStmt(s(select), sp()))
    if token:
        stmts.append(ast.TokenStmt(token, sp()))
    return ast.Workflow(name(n), name(ent), tuple(stmts) + tuple(body), sp())


def deploy(wf: str, ident: str, **tokens: str) -> ast.Deploy:
    toks = tuple(ast.DeployToken(name(a), s(v), sp()) for a, v in tokens.items())
    return ast.Deploy(name(wf), s(ident), toks, sp())


def spec(*decls) -> ast.Spec:
    return ast.Spec(FILE, tuple(decls))


def marketplace() -> ast.Spec:
    """The DESIGN.md example, by hand."""
    return spec(
        api("crm", env="CRM_URL", allow=("127.0.0.1:8787", "localhost:8787"), timeout="10s",
            retry=(5, "1s", "30s")),
        entity("User", fld("id", "string"), fld("name", "string"),
               fld("email", "string", opt=True), fld("tags", "string", lst=True),
               fld("listings", "Listing", lst=True)),
        entity("Listing", fld("id", "string"), fld("title", "string"), fld("price", "number"),
               fld("owner", "User"), fld("photos", "Photo", lst=True)),
        entity("Photo", fld("id", "string", key=True), fld("url", "string")),
        workflow("UserWorkflow", "User",
                 child("listings", "ListingWorkflow", cancel=True, subscribe=("*",)),
                 source=("crm", "/users/{id}"), every="5m", select="data"),
        workflow("ListingWorkflow", "Listing", child("photos", "PhotoWorkflow", cancel=True),
                 source=("crm", "/listings/{id}")),
        workflow("PhotoWorkflow", "Photo", token="none"),
        deploy("UserWorkflow", "u1", crm="CRM_TOKEN"),
    )
