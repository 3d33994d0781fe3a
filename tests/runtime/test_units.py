"""The runtime's pure parts and the HTTP activity, without a Temporal server."""

from __future__ import annotations

import base64
import json
import os
import stat

import httpx
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from rules.origins import url_origin
from runtime import ir as ir_mod
from runtime import carried, registry
from runtime.activities import LoadActivities, build_url
from runtime.fetch import rate_limit_wait_ms
from runtime.normalize import InvalidData, nested, normalize
from runtime.sealing import SealError, deployment, fingerprint, is_sealed_token, load_key, open_sealed, seal
from runtime.selectors import any_match, changed_paths, matches
from tests.helpers import unique
from tests.runtime.irs import marketplace_ir


class _Api:
    url, port = "http://127.0.0.1:8787", 8787


IR_DOC = marketplace_ir(_Api())
IR = ir_mod.load(IR_DOC)
KEY = os.urandom(32)
TOKEN = "s3cr3t-token-value"
HERE = deployment("default", "test")  # where ActivityEnvironment runs an activity


# ---------------------------------------------------------------------------- ir


def test_load_reads_the_golden_ir():
    assert IR.workflows["UserWorkflow"].children[0].tokens == ("crm",)
    assert IR.workflows["PhotoWorkflow"].needs == ()
    assert IR.entities["Photo"].key == "id"
    assert [f.name for f in IR.entities["Listing"].relations] == ["owner", "photos"]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(swf_ir=2), "unsupported IR version 2"),
    (lambda d: d.pop("workflows"), "lacks the key 'workflows'"),
    (lambda d: d["workflows"]["UserWorkflow"].update(entity="Nope"), "unknown entity Nope"),
])
def test_load_refuses_documents_it_cannot_run(mutate, message):
    import copy

    doc = copy.deepcopy(IR_DOC)
    mutate(doc)
    with pytest.raises(ir_mod.IRError, match=message):
        ir_mod.load(doc)


def test_url_origin():
    assert str(url_origin("http://LocalHost/x")) == "http://localhost:80"
    assert url_origin("https://a.b:8443").host_port == "a.b:8443"
    assert url_origin("ftp://a.b") is None


# ---------------------------------------------------------------------- sealing


def test_seal_roundtrip_and_shape():
    sealed = seal("crm", TOKEN, KEY, deployment=HERE)
    assert is_sealed_token(sealed) and TOKEN not in repr(sealed)
    assert sealed["fingerprint"] == fingerprint(TOKEN, KEY) and len(fingerprint(TOKEN, KEY)) == len("sha256:") + 12
    assert open_sealed(sealed, KEY, deployment=HERE) == TOKEN


def test_sealed_token_is_bound_to_api_deployment_and_key():
    sealed = seal("crm", TOKEN, KEY, deployment=HERE)
    refusals = []
    for attempt in [lambda: open_sealed({**sealed, "api": "billing"}, KEY, deployment=HERE),
                    lambda: open_sealed(sealed, KEY, deployment=deployment("default", "other-queue")),
                    lambda: open_sealed(sealed, KEY, deployment=deployment("other-ns", "test")),
                    lambda: open_sealed({**sealed, "sealed": sealed["sealed"].replace("v2.", "v2.9", 1)}, KEY, deployment=HERE),
                    lambda: open_sealed(sealed, os.urandom(32), deployment=HERE)]:
        with pytest.raises(SealError) as refused:
            attempt()
        refusals.append(str(refused.value))
    assert TOKEN not in "".join(refusals)
    assert not is_sealed_token({**sealed, "extra": 1})
    assert not is_sealed_token({"api": "crm", "token": TOKEN})


def test_key_file_is_created_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("SWFC_SEAL_KEY", raising=False)
    path = tmp_path / ".swfc" / "seal.key"
    key = load_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path) == key
    monkeypatch.setenv("SWFC_SEAL_KEY", base64.b64encode(b"x" * 32).decode())
    assert load_key(path) == b"x" * 32


# -------------------------------------------------------------------- normalize


def test_normalize_extracts_nested_entities_and_keeps_ids():
    body = {"id": "l1", "title": "t", "price": 1, "owner": {"id": "u1", "name": "A", "tags": [], "listings": ["l1"]},
            "photos": [{"id": "p1", "url": "u"}, "p2"]}
    rid, store = normalize(IR, "Listing", body)
    assert rid == "l1"
    assert store["Listing"]["l1"]["owner"] == "u1" and store["Listing"]["l1"]["photos"] == ["p1", "p2"]
    assert store["User"]["u1"]["name"] == "A" and store["Photo"]["p1"] == {"id": "p1", "url": "u"}


def test_nested_gives_back_a_body_that_normalizes_to_the_same_records_each_nested_once():
    body = {"id": "l1", "title": "t", "price": 1, "owner": {"id": "u1", "name": "A", "tags": [], "listings": ["l1"]},
            "photos": [{"id": "p1", "url": "u"}, "p2", "p1"]}
    _, store = normalize(IR, "Listing", body)
    item = nested(IR, "Listing", store["Listing"]["l1"], store, frozenset({("Listing", "l1")}))
    assert item["photos"] == [{"id": "p1", "url": "u"}, "p2", "p1"]  # p2 is not held; p1 nested once
    assert item["owner"]["listings"] == ["l1"]  # the cycle back to the item keeps its key
    assert normalize(IR, "Listing", item) == ("l1", store)
    parent_left = nested(IR, "Listing", store["Listing"]["l1"], store, frozenset({("User", "u1")}))
    assert parent_left["owner"] == "u1"


def test_normalize_reports_the_json_path_of_the_first_problem():
    body = {"id": "u1", "name": "A", "tags": [], "listings": [
        "l0", {"id": "l1", "title": "t", "price": 1, "owner": "u1", "photos": [{"id": "p", "url": 5}]}]}
    with pytest.raises(InvalidData) as err:
        normalize(IR, "User", body, ["data"])
    assert err.value.path == "$.data.listings[1].photos[0].url"


# -------------------------------------------------------------------- selectors


def test_changed_paths_and_selectors():
    assert changed_paths({"a": 1, "p": [1]}, {"a": 1, "p": [1, 2]}) == ["p.1"]
    assert changed_paths(None, {"a": 1}) == ["a"]
    assert changed_paths({"m": {"x": 1}}, {"m": {"x": 2}}) == ["m.x"]
    assert matches("*", "anything.at.all")
    assert matches("photos", "photos.1") and matches("photos.*", "photos.1") and not matches("photos.*", "photos")
    assert matches("a.**", "a.b.c") and matches("**", "x") and not matches("title", "price")
    assert any_match(["title", "photos.*"], ["price", "photos.0"])


# --------------------------------------------------------------------- activity


@pytest.fixture
def load(http_api):
    """`load(base=None, **values)`: run the `load_entity` activity for listing "l 1/x"
    against the real loopback `http_api` (its IR registered), as a worker would."""
    doc = marketplace_ir(http_api)
    registry.register(ir_mod.load(doc))
    activities = LoadActivities(httpx.AsyncClient(), KEY)

    async def run(base: str | None = None, validators: dict | None = None):
        request = {"ir_hash": doc["hash"], "workflow": "ListingWorkflow", "entity_id": "l 1/x",
                   "base_url": base or http_api.url, "values": {"id": "l 1/x"},
                   "token": seal("crm", TOKEN, KEY, deployment=HERE), "validators": validators or {}}
        return await ActivityEnvironment().run(activities.load_entity, request)

    return run


LISTING_PATH = "/listings/l%201%2Fx"  # the placeholder's value, quoted: "l 1/x"
LISTING = {"id": "l 1/x", "title": "t", "price": 2, "owner": "u1", "photos": []}


async def test_activity_sends_bearer_token_and_quotes_placeholders(load, http_api):
    http_api.set_entity(LISTING_PATH, LISTING)
    result = await load()
    assert [(r.path, r.auth) for r in http_api.log()] == [(LISTING_PATH, f"Bearer {TOKEN}")]
    assert result["status"] == "ok" and result["store"]["Listing"]["l 1/x"]["price"] == 2


async def test_activity_refuses_to_send_a_token_outside_allow(load, http_api):
    http_api.set_entity(LISTING_PATH, LISTING)
    with pytest.raises(ApplicationError) as err:
        await load(base=f"http://evil.example:{http_api.port}")
    assert err.value.non_retryable and err.value.type == "OriginNotAllowed" and not http_api.log()


@pytest.mark.parametrize("fault, kind, retryable", [
    (lambda api: api.fail(LISTING_PATH, status=503), "HttpServerError", True),
    (lambda api: api.remove_entity(LISTING_PATH), "HttpClientError", False),
    (lambda api: api.malformed(LISTING_PATH), "MalformedResponse", False),
    (lambda api: api.invalid(LISTING_PATH, {"id": "l 1/x"}), "SchemaInvalid", False),
])
async def test_activity_error_kinds(load, http_api, fault, kind, retryable):
    http_api.set_entity(LISTING_PATH, LISTING)
    fault(http_api)
    with pytest.raises(ApplicationError) as err:
        await load()
    assert err.value.type == kind and err.value.non_retryable is (not retryable)


async def test_activity_401_is_a_result_not_an_error(load, http_api):
    http_api.set_entity(LISTING_PATH, LISTING)
    http_api.unauthorized(LISTING_PATH)
    assert await load() == {"status": "unauthorized", "http_status": 401, "proxy": None}


async def test_activity_rate_limits_are_results_saying_how_long_to_wait(load, http_api):
    http_api.set_entity(LISTING_PATH, LISTING)
    http_api.rate_limit(LISTING_PATH, retry_after=2)
    assert await load() == {"status": "rate_limited", "http_status": 429, "retry_after_ms": 2000, "proxy": None}
    http_api.rate_limit(LISTING_PATH, status=403, retry_after=None, reset_in=30)  # GitHub's primary limit
    result = await load()
    # X-RateLimit-Reset is read against the response's Date (both whole seconds)
    assert (result["status"], result["http_status"]) == ("rate_limited", 403)
    assert 29_000 <= result["retry_after_ms"] <= 31_000


async def test_activity_a_plain_403_is_a_refused_token(load, http_api):
    http_api.set_entity(LISTING_PATH, LISTING)
    http_api.fail(LISTING_PATH, status=403)
    assert await load() == {"status": "unauthorized", "http_status": 403, "proxy": None}


async def test_activity_remembers_validators_and_a_304_is_not_modified(load, http_api):
    http_api.set_entity(LISTING_PATH, LISTING)
    first = await load()
    url = http_api.url + LISTING_PATH
    assert set(first["validators"]) == {url} and first["validators"][url]["etag"].startswith('W/"')
    assert await load(validators=first["validators"]) == {"status": "not_modified", "proxy": None}
    sent = http_api.log()[-1].headers
    assert sent["If-None-Match"] == first["validators"][url]["etag"] and "If-Modified-Since" in sent
    http_api.set_entity(LISTING_PATH, {**LISTING, "price": 3})
    changed = await load(validators=first["validators"])
    assert changed["store"]["Listing"]["l 1/x"]["price"] == 3, (changed, http_api.log())
    assert [r.status for r in http_api.log()] == [200, 304, 200]


async def test_activity_errors_never_contain_the_token(load, http_api):
    base = http_api.url
    http_api.stop()  # an allowed origin where nothing listens any more: a transport error
    with pytest.raises(ApplicationError) as err:
        await load(base=base)
    text = str(err.value) + repr(err.value.details) + repr(err.value.__cause__) + repr(err.value.__context__)
    assert TOKEN not in text and err.value.type == "HttpTransportError"


def test_build_url():
    assert build_url("http://h:1/", "/users/{id}", {"id": "a b"}) == "http://h:1/users/a%20b"


async def test_activity_refuses_a_token_sealed_for_another_api_or_deployment_or_before_v2(http_api):
    doc = marketplace_ir(http_api)
    registry.register(ir_mod.load(doc))
    activities = LoadActivities(httpx.AsyncClient(), KEY)
    v1 = {"api": "crm", "fingerprint": "sha256:" + "0" * 12, "sealed": "v1." + "A" * 60}
    for token, kind in [(seal("billing", TOKEN, KEY, deployment=HERE), "TokenMismatch"),
                        (seal("crm", TOKEN, KEY, deployment=deployment("default", "another-queue")), "SealError"),
                        (v1, "SealError")]:
        request = {"ir_hash": doc["hash"], "workflow": "ListingWorkflow", "entity_id": "l1",
                   "base_url": http_api.url, "values": {"id": "l1"}, "token": token}
        with pytest.raises(ApplicationError) as err:
            await ActivityEnvironment().run(activities.load_entity, request)
        assert (err.value.type, err.value.non_retryable) == (kind, True) and TOKEN not in str(err.value)
    assert http_api.log() == []


async def test_activity_refuses_unparseable_hosts_and_plain_http_for_an_https_api(load, http_api):
    with pytest.raises(ApplicationError) as err:
        await load(base=f"http://xn--a.example:{http_api.port}")
    assert err.value.non_retryable and err.value.type in ("BadUrl", "OriginNotAllowed")
    https = IR_DOC | {"apis": {"crm": IR_DOC["apis"]["crm"] | {"base": f"https://127.0.0.1:{http_api.port}",
                                                                 "allow": [f"127.0.0.1:{http_api.port}"]}}}
    api = ir_mod.load(https).apis["crm"]
    assert not api.allows(http_api.url) and api.allows(f"https://127.0.0.1:{http_api.port}/x")
    assert http_api.log() == []


# --------------------------------------------------------------------- rate limits, error text


def _headers(**h: str) -> httpx.Headers:
    return httpx.Headers({k.replace("_", "-"): v for k, v in h.items()})


DATE = "Mon, 30 Nov 2026 20:00:00 GMT"
EPOCH_AT_DATE = 1796068800  # DATE as epoch seconds


@pytest.mark.parametrize("status, headers, wait_ms", [
    (429, _headers(retry_after="7"), 7000),
    (429, _headers(retry_after="Mon, 30 Nov 2026 20:00:09 GMT", date=DATE), 9000),  # an HTTP date
    (403, _headers(x_ratelimit_remaining="0", x_ratelimit_reset=str(EPOCH_AT_DATE + 30), date=DATE), 30_000),
    (429, _headers(ratelimit_reset="12"), 12_000),  # IETF draft: seconds from now
    (403, _headers(retry_after="5", x_ratelimit_remaining="0", x_ratelimit_reset=str(EPOCH_AT_DATE + 60), date=DATE),
     60_000),  # the latest wins
    (429, _headers(), 60_000),  # no time given: GitHub's "wait at least one minute"
    (403, _headers(retry_after="nan"), 60_000),
    (429, _headers(retry_after="999999"), 3_600_000),  # at most an hour, then ask again
    (403, _headers(x_ratelimit_remaining="12"), None),  # a refused token, not a limit
    (403, _headers(), None),
    (401, _headers(retry_after="5"), None),
    (200, _headers(retry_after="5"), None),
])
def test_rate_limit_wait(status, headers, wait_ms):
    assert rate_limit_wait_ms(status, headers) == wait_ms


def test_schema_errors_quote_at_most_120_characters_of_the_value_as_json():
    doc = marketplace_ir(type("Api", (), {"url": "http://127.0.0.1:1", "port": 1})())
    ir = ir_mod.load(doc)
    body = [{"id": f"l{i}", "title": "x" * 40, "ok": True, "none": None} for i in range(300)]
    with pytest.raises(InvalidData) as err:
        normalize(ir, "Listing", body)
    assert err.value.path == "$"
    assert err.value.reason.startswith('expected an object, got [{"id": "l0", "title": "xxx')
    assert len(err.value.reason) <= len("expected an object, got ") + 120
    with pytest.raises(InvalidData) as err:
        normalize(ir, "Listing", {"id": "l1", "title": None, "price": 2, "owner": "u", "photos": []})
    assert (err.value.path, err.value.reason) == ("$.title", "expected a string, got null")


def test_until_loaded_counts_distinct_workflows():
    from runtime.protocol import StatusNode
    from runtime.status_tree import distinct, failed_for_good, not_loaded

    def node(wid, loaded, failed=False, children=()):
        return StatusNode(wid, None, None, None, "running", loaded, None, failed=failed, children=list(children))

    shared = node("Photo-p", False, failed=True)
    trees = [node("User-u", True, children=[node("Listing-a", True, children=[shared]),
                                            node("Listing-b", True, children=[shared])])]
    assert len(distinct(trees)) == 4 and [n.workflow_id for n in not_loaded(trees)] == ["Photo-p"]
    assert failed_for_good(not_loaded(trees)) and not failed_for_good([node("X-1", False)]) and not failed_for_good([])


async def test_a_next_link_never_carries_a_query_token(http_api):
    from runtime.fetch import get_json

    http_api.set_entity("/items", [])
    http_api.require_auth("/", "k3y", query="api_key")
    http_api.set_headers("/items", {"Link": '</items?page=2&api_key=k3y>; rel="next"'})
    api = ir_mod.Api("q", http_api.url, None, ir_mod.Auth("query", None, None, "api_key"), (http_api.origin,), 3000,
                     ir_mod.Retry(1, 100, 100))
    async with httpx.AsyncClient() as client:
        outcome = await get_json(client, api, http_api.url + "/items?page=1", "k3y")
    assert outcome.kind == "ok" and outcome.next_url == http_api.url + "/items?page=2"
    assert http_api.log()[0].query == "page=1&api_key=k3y"


class _Reversing(PayloadCodec):
    """A user's own codec (reverses the data), which the worker's must wrap, not replace."""

    async def encode(self, payloads):
        return [Payload(metadata=dict(p.metadata), data=p.data[::-1]) for p in payloads]

    async def decode(self, payloads):
        return [Payload(metadata=dict(p.metadata), data=p.data[::-1]) for p in payloads]


STATE = {"store": {"Member": {f"m{i}": {"bio": "Müller “ok” 日本語 " * 40} for i in range(2000)}}}


@pytest.mark.parametrize("deferred", [True, False], ids=["encoded by the codec", "encoded in the task"])
async def test_a_big_carried_input_is_the_sdks_json_parsed_before_its_task_and_taken_once(deferred):
    queue = unique("carried")
    if deferred:
        carried.defers_encoding(queue)
    codec = carried.ParseCarried(_Reversing())
    raw = carried.carried_payload(STATE, queue).payload
    assert (raw.data == b"") is deferred  # the task itself does no encoding
    [stored] = await codec.encode([raw])
    [decoded] = await codec.decode([stored])
    assert len(decoded.data) >= carried.PARSE_AHEAD_BYTES
    assert DataConverter.default.payload_converter.from_payload(decoded) == STATE  # anyone reads it as JSON
    assert carried.take(decoded) == STATE
    assert carried.take(decoded) is carried.NOT_PARSED  # once: another reader parses it itself


async def test_small_or_unmarked_payloads_pass_through_and_a_lost_input_fails_the_completion():
    codec = carried.ParseCarried()
    small = carried.carried_payload({"store": {}}, unique("carried")).payload
    unmarked = DataConverter.default.payload_converter.to_payload(STATE)
    for other in (small, unmarked):
        [passed] = await codec.decode(await codec.encode([other]))
        assert passed.data == other.data and carried.take(passed) is carried.NOT_PARSED
    queue = unique("carried")
    carried.defers_encoding(queue)
    raws = [carried.carried_payload({"n": n}, queue).payload for n in range(carried.KEEP_UNENCODED + 1)]
    with pytest.raises(RuntimeError, match="no longer held"):
        await codec.encode(raws[:1])  # dropped for a newer one: the task is retried
    assert [json.loads(p.data) for p in await codec.encode(raws[1:])] == [{"n": n} for n in range(1, len(raws))]


async def test_parsed_inputs_nobody_takes_are_dropped_oldest_first():
    big = carried.carried_payload({"bio": "x" * carried.PARSE_AHEAD_BYTES}, unique("carried")).payload
    codec = carried.ParseCarried()
    decoded = [(await codec.decode([Payload(metadata=dict(big.metadata), data=big.data)]))[0]
               for _ in range(carried.KEEP_PARSED + 2)]
    assert [carried.take(p) is carried.NOT_PARSED for p in decoded] == [True, True] + [False] * carried.KEEP_PARSED
