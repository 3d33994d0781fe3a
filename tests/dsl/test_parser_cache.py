"""The grammar cache: kept where the user may write, and never a reason to fail."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.dsl.mutations import ROOT

PARSE = "import dsl; print(len(dsl.parse(open('specs/marketplace.swf').read(), 'm')[0].decls))"


def run(env_changes: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_changes}
    return subprocess.run([sys.executable, "-c", PARSE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_cache_goes_to_the_user_cache_dir(tmp_path):
    done = run({"XDG_CACHE_HOME": str(tmp_path)})
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "4", "")
    assert [p.name for p in (tmp_path / "swfc").iterdir()][0].startswith("grammar-")
    again = run({"XDG_CACHE_HOME": str(tmp_path)})  # now loaded from the cache
    assert (again.returncode, again.stdout.strip(), again.stderr) == (0, "4", "")


def test_an_unwritable_cache_dir_is_not_an_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    done = run({"XDG_CACHE_HOME": str(locked / "sub"), "TMPDIR": str(locked)})
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "4", "")


def test_a_torn_cache_file_is_rebuilt(tmp_path):
    run({"XDG_CACHE_HOME": str(tmp_path)})
    (cache,) = (tmp_path / "swfc").iterdir()
    cache.write_bytes(cache.read_bytes()[:100])
    done = run({"XDG_CACHE_HOME": str(tmp_path)})
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "4", "")
