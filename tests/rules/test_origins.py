"""One origin rule, two stages: every URL of the table means the same to the compiler (a
spec whose `base` it is validates clean, or is refused with the code given) and to the
runtime (a token of that api may go to it, or not). Issue 10's drift was a base the
compiler took and the runtime then refused (`http://me@127.0.0.1:8787`)."""

from __future__ import annotations

import pytest

from compiler import FileSource, analyse
from rules.origins import url_origin
from runtime import ir as ir_mod

SPEC = 'api crm {{ base "{base}" auth bearer }}\nentity User {{ id string }}\n' \
       'workflow W manages User {{ source crm get "/u/{{id}}" }}\n'

# (base URL, the compiler's finding or None, the origin both stages give it or None)
CASES = [
    ("http://127.0.0.1:8787", None, "http://127.0.0.1:8787"),
    ("http://LocalHost/api", None, "http://localhost:80"),
    ("https://api.example.com", None, "https://api.example.com:443"),
    ("https://api.example.com:8443/v1/", None, "https://api.example.com:8443"),
    ("http://me@127.0.0.1:8787", "SWF046", None),
    ("http://127.0.0.1:8787@evil.example", "SWF046", None),
    ("http://h\\@evil.example/", "SWF046", None),
    ("http://b\u00fccher.example/", "SWF046", None),
    ("http://xn--a.example/", "SWF046", None),
    ("ftp://127.0.0.1/", "SWF042", None),
    ("http://127.0.0.1:0/", "SWF042", None),
    ("http://[::1]:8787/", "SWF042", None),
    ("http:///path", "SWF042", None),
    ("http://h:8787 /", "SWF042", None),
]


def _compile(base: str, tmp_path) -> tuple[list[str], dict | None]:
    path = tmp_path / "spec.swf"
    path.write_text(SPEC.format(base=base.replace("\\", "\\\\")))
    ir, diags, _ = analyse([str(path)], FileSource(), emit_ir=True)
    return [d.code for d in diags if d.severity == "error"], ir


@pytest.mark.parametrize("base, finding, origin", CASES)
def test_compiler_and_runtime_agree_on_each_origin(base, finding, origin, tmp_path):
    errors, ir = _compile(base, tmp_path)
    assert errors == ([finding] if finding else [])
    assert str(url_origin(base)) == origin if origin else url_origin(base) is None
    if finding is None:  # the runtime sends the api's token to its own base, and only over its scheme
        api = ir_mod.load(ir).apis["crm"]
        assert api.allows(base)
        if base.startswith("https://"):
            assert not api.allows("http://" + base.removeprefix("https://"))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8787/x", "https://127.0.0.1:8787/x"])
def test_an_http_api_may_go_over_https_and_an_https_api_never_over_http(url, tmp_path):
    _, http_ir = _compile("http://127.0.0.1:8787", tmp_path)
    _, https_ir = _compile("https://127.0.0.1:8787", tmp_path)
    assert ir_mod.load(http_ir).apis["crm"].allows(url)
    assert ir_mod.load(https_ir).apis["crm"].allows(url) == url.startswith("https://")
