"""The sample API as the runtime tests rely on it: data by path, credentials, the request
log, and every injected fault, over real HTTP on 127.0.0.1."""

import json
import time

import httpx
import pytest

from sample_api import SampleAPI
from sample_api.__main__ import DATA

GOOD = {"Authorization": "Bearer s3cret"}


@pytest.fixture
def api(http_api: SampleAPI) -> SampleAPI:
    http_api.set_entity("/users/u1", {"data": {"id": "u1", "name": "Ada"}})
    http_api.require_auth("/users/", "s3cret")
    return http_api


def get(api: SampleAPI, path: str, headers: dict | None = None, timeout: float = 5) -> httpx.Response:
    return httpx.get(api.url + path, headers=headers or {}, timeout=timeout)


def test_serves_entities_behind_bearer_token(api: SampleAPI) -> None:
    assert get(api, "/users/u1", GOOD).json() == {"data": {"id": "u1", "name": "Ada"}}
    assert get(api, "/users/u1").status_code == 401
    assert get(api, "/users/u1", {"Authorization": "Bearer wrong"}).status_code == 401
    assert get(api, "/users/nobody", GOOD).status_code == 404


def test_named_header_credentials_and_open_paths(http_api: SampleAPI) -> None:
    http_api.set_entity("/tickets/t1", {"id": "t1"})
    http_api.set_entity("/public/p1", {"id": "p1"})
    http_api.require_auth("/tickets/", "k3y", header="X-Api-Key")
    assert get(http_api, "/tickets/t1", {"X-Api-Key": "k3y"}).status_code == 200
    assert get(http_api, "/tickets/t1", {"Authorization": "Bearer k3y"}).status_code == 401
    assert get(http_api, "/public/p1").status_code == 200


def test_rotating_credentials_accepts_only_the_new_token(api: SampleAPI) -> None:
    api.require_auth("/users/", "n3w")
    assert get(api, "/users/u1", GOOD).status_code == 401
    assert get(api, "/users/u1", {"Authorization": "Bearer n3w"}).status_code == 200


def test_log_records_path_and_auth_header_received(api: SampleAPI) -> None:
    get(api, "/users/u1?expand=1", GOOD)
    get(api, "/users/u1")
    assert [(r.path, r.auth, r.status) for r in api.requests_to("/users/u1")] == [
        ("/users/u1", "Bearer s3cret", 200), ("/users/u1", None, 401)]


def test_n_times_500_then_data(api: SampleAPI) -> None:
    api.fail("/users/u1", times=2)
    assert [get(api, "/users/u1", GOOD).status_code for _ in range(3)] == [500, 500, 200]


def test_faults_are_not_consumed_by_unauthorized_requests(api: SampleAPI) -> None:
    api.fail("/users/u1", times=1)
    assert get(api, "/users/u1").status_code == 401
    assert get(api, "/users/u1", GOOD).status_code == 500


def test_429_with_retry_after(api: SampleAPI) -> None:
    api.rate_limit("/users/u1", retry_after=3)
    first = get(api, "/users/u1", GOOD)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    assert get(api, "/users/u1", GOOD).status_code == 200


def test_githubs_rate_limit_403(api: SampleAPI) -> None:
    api.rate_limit("/users/u1", status=403, retry_after=None, reset_in=5)
    limited = get(api, "/users/u1", GOOD)
    answered_at = api.log()[-1].epoch
    assert limited.status_code == 403 and "rate limit exceeded" in limited.json()["message"]
    assert limited.headers["X-RateLimit-Remaining"] == "0" and limited.headers["X-RateLimit-Resource"] == "core"
    assert answered_at + 5 <= int(limited.headers["X-RateLimit-Reset"]) <= answered_at + 6
    assert "Retry-After" not in limited.headers
    assert get(api, "/users/u1", GOOD).status_code == 200


def test_conditional_requests_get_304s(api: SampleAPI) -> None:
    first = get(api, "/users/u1", GOOD)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('W/"')
    assert get(api, "/users/u1", {**GOOD, "If-None-Match": etag}).status_code == 304
    assert get(api, "/users/u1", {**GOOD, "If-Modified-Since": modified}).status_code == 304
    api.set_entity("/users/u1", {"data": {"id": "u1", "name": "Ada L."}})
    changed = get(api, "/users/u1", {**GOOD, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    api.validators = {"last-modified"}
    assert "ETag" not in get(api, "/users/u1", GOOD).headers
    assert [r.status for r in api.log()] == [200, 304, 304, 200, 200]


def test_query_parameter_credentials(http_api: SampleAPI) -> None:
    http_api.set_entity("/repos/r1", {"id": "r1"})
    http_api.require_auth("/repos/", "k3y", query="api_key")
    assert get(http_api, "/repos/r1?api_key=k3y").status_code == 200
    assert get(http_api, "/repos/r1", {"Authorization": "Bearer k3y"}).status_code == 401
    assert [(r.auth, r.query) for r in http_api.log()] == [("k3y", "api_key=k3y"), (None, "")]


def test_stall_holds_the_answer(api: SampleAPI) -> None:
    api.stall("/users/u1", seconds=1.5, times=1)
    with pytest.raises(httpx.ReadTimeout):
        get(api, "/users/u1", GOOD, timeout=0.5)
    started = time.monotonic()
    assert get(api, "/users/u1", GOOD).status_code == 200
    assert time.monotonic() - started < 1.5  # the stall was used up: this answer was not held


def test_malformed_json_401_and_schema_invalid_body(api: SampleAPI) -> None:
    api.malformed("/users/u1")
    api.unauthorized("/users/u1")
    api.invalid("/users/u1", {"data": {"id": 7}})
    with pytest.raises(json.JSONDecodeError):
        get(api, "/users/u1", GOOD).json()
    assert get(api, "/users/u1", GOOD).status_code == 401
    assert get(api, "/users/u1", GOOD).json() == {"data": {"id": 7}}
    assert get(api, "/users/u1", GOOD).json()["data"]["name"] == "Ada"


def test_forever_fault_until_cleared(api: SampleAPI) -> None:
    api.fail("/users/u1", times=None, status=503)
    assert {get(api, "/users/u1", GOOD).status_code for _ in range(3)} == {503}
    api.clear_faults()
    assert get(api, "/users/u1", GOOD).status_code == 200


def test_a_dropped_connection_gets_no_answer(api: SampleAPI) -> None:
    api.drop("/users/u1")
    with pytest.raises(httpx.RemoteProtocolError):
        get(api, "/users/u1", GOOD)
    assert get(api, "/users/u1", GOOD).status_code == 200
    assert [r.status for r in api.requests_to("/users/u1")] == [0, 200]


def test_redirect_points_elsewhere(api: SampleAPI) -> None:
    api.redirect("/users/u1", "http://127.0.0.1:9/steal")
    first = get(api, "/users/u1", GOOD)
    assert (first.status_code, first.headers["Location"]) == (302, "http://127.0.0.1:9/steal")


def test_prefix_routes_and_request_counts(http_api: SampleAPI) -> None:
    for i in range(3):
        http_api.set_entity(f"/items/i{i}", {"id": f"i{i}"})
    http_api.fail("/items/*", after=2)  # the third request under /items/ gets it
    statuses = [get(http_api, f"/items/i{i}").status_code for i in range(3)]
    assert statuses == [200, 200, 500]
    assert len(http_api.requests_to("/items/*")) == 3


def test_a_rate_hits_about_that_share_repeatably() -> None:
    def statuses(seed: int) -> list[int]:
        with SampleAPI({"/x": {}}, seed=seed).start() as api, httpx.Client() as http:
            api.fail("/x", times=None, rate=0.3)
            return [http.get(api.url + "/x").status_code for _ in range(200)]

    first = statuses(7)
    assert 30 <= first.count(500) <= 90  # 60 expected; the bounds are ~4 sigma wide
    assert statuses(7) == first


def test_mixed_faults_on_one_route(http_api: SampleAPI) -> None:
    http_api.set_entity("/x", {})
    http_api.fail("/x", times=None, rate=0.5)
    http_api.rate_limit("/x", retry_after=2, times=None)  # whatever the 500s leave
    assert {get(http_api, "/x").status_code for _ in range(40)} == {500, 429}


def test_requests_carry_their_arrival_time(api: SampleAPI) -> None:
    before = time.monotonic()
    get(api, "/users/u1", GOOD)
    assert before <= api.log()[0].at <= time.monotonic()


def test_demo_data_file_uses_env_tokens_with_defaults() -> None:
    with SampleAPI.from_file(DATA, env={}).start() as demo:
        assert get(demo, "/users/u1", {"Authorization": "Bearer demo-crm-token"}).status_code == 200
    with SampleAPI.from_file(DATA, env={"CRM_TOKEN": "mine"}).start() as demo:
        assert get(demo, "/listings/l1", {"Authorization": "Bearer mine"}).json()["id"] == "l1"
        assert get(demo, "/listings/l1", {"Authorization": "Bearer demo-crm-token"}).status_code == 401
