"""The proxy rule: a proxy only when asked for, its credentials never shown (issue 9 item 5)."""

from __future__ import annotations

import pytest

from rules.proxies import ProxyProblem, fixed_proxy, parse_proxy, proxy_from_env


def test_a_proxy_url_shows_only_its_origin_and_keeps_its_credentials_apart():
    proxy = parse_proxy("http://operator:s3%40cret@Proxy.example:3128/")
    assert proxy.url == "http://proxy.example:3128"
    assert proxy.auth == ("operator", "s3@cret")
    assert "operator" not in repr(proxy) and "s3" not in repr(proxy)  # the repr names the origin only
    assert parse_proxy("https://proxy.example").url == "https://proxy.example:443"
    assert parse_proxy("http://10.0.0.1:8080").auth is None


@pytest.mark.parametrize("url", [
    "socks5://user:secret-pw@proxy.example:1080",  # a scheme httpx needs an extra for
    "http://user:secret-pw@",  # no host
    "http://user:secret-pw@proxy.example:3128/path",
    "http://user:secret-pw@proxy.example:3128/?q",
    "http://user:secret-pw@proxy.example:99999",
    "proxy.example:3128",  # no scheme
    "http://user:secret-pw@proxy example:3128",
])
def test_an_unusable_proxy_url_is_refused_without_echoing_it(url):
    with pytest.raises(ProxyProblem) as refused:
        parse_proxy(url)
    assert "secret-pw" not in str(refused.value) and "proxy.example" not in str(refused.value)


def test_a_fixed_proxy_takes_every_request():
    choice = fixed_proxy("http://127.0.0.1:3128")
    assert choice.proxy_for("http", "api.example").url == choice.proxy_for("https", "10.1.2.3").url == "http://127.0.0.1:3128"


def test_proxy_from_env_reads_the_variables_curl_reads_and_honours_no_proxy():
    choice = proxy_from_env({"HTTP_PROXY": "http://a:1", "https_proxy": "http://b:2", "HTTPS_PROXY": "http://c:3",
                             "NO_PROXY": "internal.example, *.corp.example,.lan,10.0.0.5:8080"})
    assert choice.proxy_for("http", "api.example").url == "http://a:1"
    assert choice.proxy_for("https", "api.example").url == "http://b:2"  # lower case first
    for host in ("internal.example", "x.internal.example", "corp.example", "a.b.corp.example", "box.lan", "10.0.0.5"):
        assert choice.proxy_for("http", host) is None, host
    assert choice.proxy_for("http", "notinternal.example") is not None
    assert proxy_from_env({"ALL_PROXY": "http://all:9"}).proxy_for("https", "x").url == "http://all:9"
    assert proxy_from_env({"all_proxy": "http://all:9", "NO_PROXY": "*"}).proxy_for("http", "x") is None
    assert proxy_from_env({}).proxy_for("http", "x") is None


def test_proxy_from_env_names_the_variable_it_cannot_use_but_not_its_value():
    with pytest.raises(ProxyProblem) as refused:
        proxy_from_env({"HTTPS_PROXY": "ftp://user:secret-pw@proxy.example"})
    assert "HTTPS_PROXY" in str(refused.value) and "secret-pw" not in str(refused.value)
