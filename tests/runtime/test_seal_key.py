"""The seal key and fingerprints (issue 9, item 8 and "also observed"): the key file is
created atomically even by processes racing for it; an empty `SWFC_SEAL_KEY` is an error,
not a reason to look elsewhere; a fingerprint is keyed, so it is no help in guessing a token."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from runtime.sealing import SealError, fingerprint, load_key
from tests.helpers import REPO

RACE = """
import sys, base64
from pathlib import Path
from runtime.sealing import load_key
for r in range(int(sys.argv[2])):
    print(base64.b64encode(load_key(Path(sys.argv[1]) / str(r) / "seal.key")).decode())
"""


def test_processes_racing_to_create_the_key_file_all_get_the_one_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SWFC_SEAL_KEY"}
    env["PYTHONPATH"] = str(REPO)
    rounds = 40

    def run(_: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", RACE, str(tmp_path), str(rounds)], env=env,
                              capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(run, range(6)))
    assert [r.stderr for r in results if r.returncode] == []
    keys_per_round = list(zip(*(r.stdout.split() for r in results)))
    assert len(keys_per_round) == rounds and all(len(set(keys)) == 1 for keys in keys_per_round)
    assert all(len(base64.b64decode(keys[0])) == 32 for keys in keys_per_round)


def test_an_empty_seal_key_variable_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SWFC_SEAL_KEY", "")
    with pytest.raises(SealError, match="SWFC_SEAL_KEY is set but empty"):
        load_key(tmp_path / "seal.key")
    assert not (tmp_path / "seal.key").exists()


def test_fingerprints_are_keyed():
    token, one, two = "abc-known-prefix-1234", os.urandom(32), os.urandom(32)
    assert fingerprint(token, one) != fingerprint(token, two)
    assert fingerprint(token, one) != "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]
    assert fingerprint(token, one) == fingerprint(token, one)
