"""The GitHub-shaped demo (specs/github.swf) on the demo data (sample_api/data.json), as a
user deploys it: `swfc deploy --until-loaded` against the session's dev server returns 0
once repo -> 5 issues (3 Link pages of 2) -> 6 comments have loaded, with one request per
page and none per issue or comment record."""

from __future__ import annotations

from sample_api import SampleAPI
from sample_api.__main__ import DATA
from tests.helpers import copy_specs, run_swfc, unique


async def test_the_github_demo_deploys_until_loaded(env, tmp_path):
    address = env.client.service_client.config.target_host
    with SampleAPI.from_file(DATA, env={"GITHUB_TOKEN": "gh-t0k"}).start() as api:
        spec = copy_specs(tmp_path, api) / "github.swf"
        result = run_swfc("deploy", str(spec), "--address", address, "--task-queue", unique("tq"),
                          "--until-loaded", "--timeout", "90",
                          env={"GITHUB_TOKEN": "gh-t0k", "GITHUB_URL": api.url}, cwd=tmp_path, timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "all 12 workflows of the hierarchy have loaded" in result.stdout, result.stdout
        repo = "/repos/octo/hello"
        assert len(api.requests_to(repo)) == 1
        assert [r.query for r in api.requests_to(f"{repo}/issues")] == [
            "state=all", "state=all&page=2&per_page=2", "state=all&page=3&per_page=2"]
        assert len(api.requests_to(f"{repo}/issues/*")) == 5  # one comment list per issue, no issue record
        assert all(r.path.endswith("/comments") for r in api.requests_to(f"{repo}/issues/*"))
    await env.client.get_workflow_handle("Repo-octo/hello").terminate("test done")
