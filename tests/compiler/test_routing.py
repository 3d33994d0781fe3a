"""Token routing (docs/ir.md "Token routing") and the workflow graph, on hand-built ASTs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dsl.diagnostics import Collector

from compiler.check import check
from compiler.emit import emit
from compiler.resolve import resolve
from compiler.routing import route
from tests.compiler import build as b


def run(*decls):
    diags = Collector()
    symbols = resolve([b.spec(*decls)], diags)
    check(symbols, diags)
    routes = route(symbols, diags)
    return symbols, routes, diags.sorted()


def codes(diags):
    return [d.code for d in diags]


def tree(*, photo_token=None, thumb_source=None):
    """User -> Listing -> Photo [-> Thumb]: crm everywhere, `geo` on Listing's sibling."""
    thumbs = (b.child("thumbs", "ThumbWorkflow"),) if thumb_source else ()
    return [
        b.api("crm"),
        b.api("geo", header="X-Api-Key", auth="header"),
        b.entity("User", b.fld("id", "string"), b.fld("listings", "Listing", lst=True),
                 b.fld("home", "Place", opt=True)),
        b.entity("Listing", b.fld("id", "string"), b.fld("photos", "Photo", lst=True)),
        b.entity("Photo", b.fld("id", "string"), b.fld("thumbs", "Thumb", lst=True)),
        b.entity("Thumb", b.fld("id", "string")),
        b.entity("Place", b.fld("id", "string")),
        b.workflow("UserWorkflow", "User", b.child("listings", "ListingWorkflow"),
                   b.child("home", "PlaceWorkflow"), source=("crm", "/users/{id}")),
        b.workflow("ListingWorkflow", "Listing", b.child("photos", "PhotoWorkflow"),
                   source=("crm", "/listings/{id}")),
        b.workflow("PhotoWorkflow", "Photo", *thumbs, token=photo_token),
        b.workflow("ThumbWorkflow", "Thumb", source=thumb_source),
        b.workflow("PlaceWorkflow", "Place", source=("geo", "/places/{id}")),
        b.deploy("UserWorkflow", "u1", crm="CRM_TOKEN", geo="GEO_KEY"),
    ]


def test_marketplace_needs_and_edges():
    symbols, routes, diags = run(*b.marketplace().decls)
    assert diags == []
    assert routes.needs == {"UserWorkflow": ["crm"], "ListingWorkflow": ["crm"],
                            "PhotoWorkflow": []}
    ir = emit(symbols, routes)
    assert ir["workflows"]["UserWorkflow"]["children"][0]["tokens"] == ["crm"]
    assert ir["workflows"]["ListingWorkflow"]["children"][0]["tokens"] == []


def test_each_edge_carries_only_what_its_child_needs():
    _, routes, diags = run(*tree())
    assert diags == []
    assert routes.needs["UserWorkflow"] == ["crm", "geo"]
    assert routes.needs["ListingWorkflow"] == ["crm"]
    assert routes.needs["PlaceWorkflow"] == ["geo"]
    assert routes.needs["PhotoWorkflow"] == []


def test_token_none_cuts_a_branch_without_needs():
    symbols, routes, diags = run(*tree(photo_token="none", thumb_source=("geo", "/t/{id}")))
    (d,) = [d for d in diags if d.code == "SWF060"]
    assert "PhotoWorkflow -> ThumbWorkflow" in d.message and "`geo`" in d.message
    assert d.span == symbols.workflows["PhotoWorkflow"].token.span
    assert d.notes[0].span == symbols.workflows["ThumbWorkflow"].source.api.span
    # the cut is total: nothing above the `token none` inherits the need through it
    assert routes.needs["PhotoWorkflow"] == []
    assert routes.needs["ListingWorkflow"] == ["crm"]


def test_token_none_leaf_without_auth_api_is_fine():
    decls = tree(photo_token="none")
    _, routes, diags = run(*decls)
    assert codes(diags) == []
    assert routes.needs["PhotoWorkflow"] == []


def test_token_none_workflow_using_auth_api_itself():
    _, _, diags = run(*b.marketplace().decls[:-2],
                      b.workflow("PhotoWorkflow", "Photo", source=("crm", "/p/{id}"),
                                 token="none"),
                      b.deploy("UserWorkflow", "u1", crm="CRM_TOKEN"))
    (d,) = [d for d in diags if d.code == "SWF060"]
    assert "its own source uses api `crm`" in d.message


def test_root_lacking_a_token_and_giving_an_unneeded_one():
    decls = tree()[:-1] + [b.deploy("UserWorkflow", "u1", crm="CRM_TOKEN", nope="X")]
    _, _, diags = run(*decls)
    assert codes(diags) == ["SWF022", "SWF061"]
    assert "`geo`" in diags[1].message and "UserWorkflow -> PlaceWorkflow" in diags[1].message


def test_unneeded_token_for_api_without_auth():
    decls = [b.api("crm", auth="none"), *b.marketplace().decls[1:-1],
             b.deploy("UserWorkflow", "u1", crm="CRM_TOKEN")]
    _, _, diags = run(*decls)
    assert codes(diags) == ["SWF063"]
    assert "has no `auth`" in diags[0].message


def test_unreachable_auth_api_only_with_a_deploy():
    base = [b.api("crm"), b.entity("T", b.fld("id", "string")),
            b.entity("U", b.fld("id", "string")),
            b.workflow("TW", "T", source=("crm", "/t/{id}")),
            b.workflow("UW", "U", source=("crm", "/u/{id}"))]
    assert codes(run(*base)[2]) == []
    assert codes(run(*base, b.deploy("UW", "1", crm="CRM_TOKEN"))[2]) == ["SWF062"]


def test_relation_cycle_marks_the_closing_edge():
    decls = [b.api("crm"),
             b.entity("User", b.fld("id", "string"), b.fld("listings", "Listing", lst=True)),
             b.entity("Listing", b.fld("id", "string"), b.fld("owner", "User")),
             b.workflow("UserWorkflow", "User", b.child("listings", "ListingWorkflow")),
             b.workflow("ListingWorkflow", "Listing", b.child("owner", "UserWorkflow"),
                        source=("crm", "/l/{id}")),
             b.deploy("UserWorkflow", "u1", crm="T")]
    symbols, routes, diags = run(*decls)
    assert codes(diags) == ["SWF080"]
    assert "UserWorkflow -> ListingWorkflow -> UserWorkflow" in diags[0].message
    assert routes.stops == {("ListingWorkflow", 0)}
    # needs flow around the cycle: the root needs what its listing's source needs
    assert routes.needs["UserWorkflow"] == ["crm"]
    ir = emit(symbols, routes)
    assert ir["workflows"]["ListingWorkflow"]["children"][0]["stops_recursion"] is True
    assert ir["workflows"]["UserWorkflow"]["children"][0]["stops_recursion"] is False


def test_self_cycle():
    decls = [b.api("crm"),
             b.entity("Cat", b.fld("id", "string"), b.fld("subs", "Cat", lst=True)),
             b.workflow("CatWorkflow", "Cat", b.child("subs", "CatWorkflow"),
                        source=("crm", "/c/{id}"))]
    _, routes, diags = run(*decls)
    assert codes(diags) == ["SWF080"]
    assert routes.stops == {("CatWorkflow", 0)}


def test_deep_chain_does_not_recurse():
    n = 3000
    decls = [b.api("crm")]
    for i in range(n):
        fields = [b.fld("id", "string")] + ([b.fld("next", f"E{i + 1}")] if i + 1 < n else [])
        decls.append(b.entity(f"E{i}", *fields))
        kids = [b.child("next", f"W{i + 1}")] if i + 1 < n else []
        src = ("crm", "/e/{id}") if i == n - 1 else None
        decls.append(b.workflow(f"W{i}", f"E{i}", *kids, source=src))
    _, routes, diags = run(*decls)
    assert diags == []
    assert routes.needs["W0"] == ["crm"]


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 7).flatmap(lambda n: st.tuples(
    st.just(n),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=12),
    st.lists(st.sampled_from([None, "a", "b", "open"]), min_size=n, max_size=n),
    st.lists(st.booleans(), min_size=n, max_size=n))))
def test_needs_are_the_fixpoint_of_docs_ir_md(graph):
    """Random workflow graphs: `needs` is exactly docs/ir.md's definition, edges carry the
    child's needs, and SWF060 appears exactly where a `token none` would need a token."""
    n, edges, sources, nones = graph
    edges = sorted(set(edges))
    decls = [b.api("a"), b.api("b"), b.api("open", auth="none")]
    for i in range(n):
        kids = [j for p, j in edges if p == i]
        decls.append(b.entity(f"E{i}", b.fld("id", "string"),
                              *[b.fld(f"r{j}", f"E{j}", lst=True) for j in kids]))
        decls.append(b.workflow(f"W{i}", f"E{i}", *[b.child(f"r{j}", f"W{j}") for j in kids],
                                source=(sources[i], "/x/{id}") if sources[i] else None,
                                token="none" if nones[i] else None))
    symbols, routes, diags = run(*decls)
    own = {i: {sources[i]} & {"a", "b"} for i in range(n)}
    raw = {i: set(own[i]) for i in range(n)}
    changed = True
    while changed:  # the definition, evaluated naively to a fixpoint
        changed = False
        for p, c in edges:
            if not nones[c] and not raw[c] <= raw[p]:
                raw[p] |= raw[c]
                changed = True
    for i in range(n):
        assert routes.needs[f"W{i}"] == ([] if nones[i] else sorted(raw[i]))
    crossing = sorted((f"W{i}", api) for i in range(n) if nones[i] for api in raw[i])
    reported = sorted((d.message.split("`")[1], d.message.split("`")[5]) for d in diags
                      if d.code == "SWF060")
    assert reported == crossing
    if not crossing:
        ir = emit(symbols, routes)
        for name, wf in ir["workflows"].items():
            for child in wf["children"]:
                assert child["tokens"] == ir["workflows"][child["workflow"]]["needs"]
