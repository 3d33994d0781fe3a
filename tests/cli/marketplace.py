"""A marketplace deployment of its own for one CLI test: unique ids (the dev server is
shared), its data in a test SampleAPI, the example specs re-pointed at that API."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sample_api import SampleAPI
from tests.helpers import copy_specs, run_swfc, spawn_swfc, unique


@dataclass
class Marketplace:
    """User ``uid`` with listings (and their photos) behind ``token``; ``spec`` deploys it
    on ``task_queue`` at ``address``."""

    api: SampleAPI
    address: str
    spec: Path
    uid: str
    token: str
    task_queue: str
    listings: dict[str, list[str]] = field(default_factory=dict)  # listing id -> photo ids

    @property
    def root(self) -> str:
        return f"User-{self.uid}"

    @property
    def workflow_ids(self) -> set[str]:
        return ({self.root} | {f"Listing-{lid}" for lid in self.listings}
                | {f"Photo-{p}" for photos in self.listings.values() for p in photos})

    def env(self, **extra: str) -> dict[str, str]:
        return {"CRM_TOKEN": self.token, "CRM_URL": self.api.url, **extra}

    def connection(self) -> list[str]:
        return ["--address", self.address, "--task-queue", self.task_queue]

    def swfc(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
        """``swfc ARGS`` in the spec's directory with this deployment's environment."""
        return run_swfc(*args, env=env if env is not None else self.env(), cwd=self.spec.parent,
                        timeout=timeout)

    def deploy(self, *flags: str, env: dict[str, str] | None = None, timeout: float = 120):
        return self.swfc("deploy", str(self.spec), *self.connection(), *flags, env=env, timeout=timeout)

    def status(self, workflow_id: str | None = None) -> dict[str, Any]:
        result = self.swfc("status", workflow_id or self.root, "--format", "json", "--address", self.address)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def spawn(self, *args: str, env: dict[str, str] | None = None):
        return spawn_swfc(*args, env=env if env is not None else self.env(), cwd=self.spec.parent)

    def spawn_worker(self):
        return self.spawn("worker", str(self.spec), *self.connection())


def make_marketplace(api: SampleAPI, directory: Path, address: str, *, photos: tuple[int, ...] = (2, 1),
                     token: str | None = None) -> Marketplace:
    """Put a user with ``len(photos)`` listings (``photos[i]`` photos each) into ``api``
    behind a fresh token, and write the specs (root = that user) into ``directory``."""
    token = token or unique("tok")
    uid = unique("u")
    market = Marketplace(api, address, directory / "marketplace.swf", uid, token, unique("tq"))
    for i, count in enumerate(photos):
        lid = unique("l")
        pics = [{"id": unique("p"), "url": f"https://img.example/{lid}/{j}.jpg"} for j in range(count)]
        api.set_entity(f"/listings/{lid}", {"id": lid, "title": f"listing {i}", "price": 10 + i,
                                            "owner": uid, "photos": pics})
        market.listings[lid] = [p["id"] for p in pics]
    api.set_entity(f"/users/{uid}", {"data": {"id": uid, "name": "Ann", "email": None, "tags": ["t"],
                                              "listings": list(market.listings)}})
    api.require_auth("/", token)
    copy_specs(directory, api)
    spec = market.spec
    spec.write_text(spec.read_text().replace('deploy UserWorkflow "u1"', f'deploy UserWorkflow "{uid}"'))
    return market


def nodes(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of a ``swfc status --format json`` tree, root first."""
    out = [tree]
    for child in tree["children"]:
        out += nodes(child)
    return out
