"""Removing what no running workflow needs from a payload store (`swfc payloads prune`).

Stage: the caller's side of the runtime, beside `runtime.payloads`. Takes a connected client
and the store's location (a directory or `s3://bucket/prefix`); gives a `Pruned` report.

Nothing else ever removes a stored payload: each continue-as-new of a parent of 10,000 2 KB
records writes another ~23 MB blob of its store, and a hierarchy that refreshes for days
fills the disk. A stored payload is needed while a history Temporal replays refers to it,
that is the history of a run still open (a closed run is never replayed by a worker).

So a payload is removed when no open run's history refers to it and it was written longer
than `grace` ago. The grace covers a payload written and not referred to yet: a
continue-as-new stores the next run's input before that run exists. The references are read
from the histories themselves (each stored payload leaves a reference payload in the event
that carried it, with the driver's claim: the file's SHA-256, or the S3 key), every open
run of the namespace, at most `CONCURRENCY` at a time. What is lost: the closed runs'
histories still kept by Temporal can no longer be decoded where they refer to a removed
payload (the Web UI and `temporal workflow show` show the reference instead), and a reset to
a closed run could not start.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.sdk.v1 import ExternalStorageReference
from temporalio.client import Client

from runtime.payloads import s3_client

GRACE_S = 3600.0
CONCURRENCY = 16
REFERENCE_TYPE = ExternalStorageReference.DESCRIPTOR.full_name.encode()  # what the SDK writes in its place


@dataclass
class Pruned:
    """What a prune found: `runs` open runs read, `kept` payloads referred to or too new,
    `removed` payloads (with `removed_bytes`), and whether it was a `dry_run`."""

    runs: int = 0
    kept: int = 0
    removed: int = 0
    removed_bytes: int = 0
    dry_run: bool = False


@dataclass(frozen=True)
class Stored:
    """One stored payload: its name in the store (file name or key below the prefix), size
    and when it was written (seconds since the epoch)."""

    name: str
    size: int
    written: float


async def prune(client: Client, location: str, *, grace_s: float = GRACE_S, dry_run: bool = False) -> Pruned:
    """Remove from `location` every payload that no open run refers to and that is older
    than `grace_s` (nothing is removed with `dry_run`)."""
    store = _store(location)
    stored = await store.list()  # before the histories: what is written after is never a candidate
    referenced, runs = await referenced_claims(client)
    now = time.time()
    report = Pruned(runs=runs, dry_run=dry_run)
    doomed = [s for s in stored if s.name not in referenced and now - s.written > grace_s]
    report.kept = len(stored) - len(doomed)
    report.removed, report.removed_bytes = len(doomed), sum(s.size for s in doomed)
    if doomed and not dry_run:
        await store.remove([s.name for s in doomed])
    return report


async def referenced_claims(client: Client) -> tuple[set[str], int]:
    """Every claim value (file name, S3 key) that a reference in an open run's history
    holds, and how many open runs there are."""
    limit, claims, runs = asyncio.Semaphore(CONCURRENCY), set(), 0

    async def one(workflow_id: str, run_id: str) -> None:
        async with limit:
            history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        for event in history.events:
            claims.update(claim_values(event))

    tasks = []
    async for execution in client.list_workflows("ExecutionStatus = 'Running'"):
        runs += 1
        tasks.append(asyncio.ensure_future(one(execution.id, execution.run_id)))
    await asyncio.gather(*tasks)
    return claims, runs


def claim_values(message: Any) -> Iterator[str]:
    """The claim values of every External Storage reference inside a protobuf message."""
    for payload in _payloads(message):
        if payload.metadata.get("messageType") != REFERENCE_TYPE:
            continue
        try:
            reference = json.loads(payload.data)
        except ValueError:
            continue
        claim = reference.get("claimData") or reference.get("claim_data") or {}
        yield from (str(v) for v in claim.values())


def _payloads(message: Any) -> Iterator[Payload]:
    """Every `Payload` inside a protobuf message, however deep (events hold them in lists,
    maps and nested messages)."""
    if isinstance(message, Payload):
        yield message
        return
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if descriptor.message_type.GetOptions().map_entry:
            values: Iterable[Any] = value.values()
            if descriptor.message_type.fields_by_name["value"].message_type is None:
                continue
        elif descriptor.is_repeated:
            values = value
        else:
            values = (value,)
        for item in values:
            yield from _payloads(item)


# -- the stores ------------------------------------------------------------------------------


def _store(location: str) -> _DirectoryStore | _S3Store:
    if location.startswith("s3://"):
        return _S3Store(location)
    return _DirectoryStore(Path(location))


class _DirectoryStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def list(self) -> list[Stored]:
        return await asyncio.to_thread(self._list)

    def _list(self) -> list[Stored]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            if path.suffix == ".part":  # being written (FileStorageDriver renames it when done)
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            found.append(Stored(path.name, stat.st_size, stat.st_mtime))
        return found

    async def remove(self, names: list[str]) -> None:
        await asyncio.to_thread(lambda: [(self.directory / n).unlink(missing_ok=True) for n in names])


class _S3Store:
    """Objects below the location's prefix, through the S3 driver's own client
    (`runtime.payloads.s3_client`): names are keys without the prefix, as claims hold them."""

    def __init__(self, location: str) -> None:
        self._client, self.bucket = s3_client(location)

    async def list(self) -> list[Stored]:
        return [Stored(name, size, modified) for name, size, modified in await self._client.list_objects(bucket=self.bucket)]

    async def remove(self, names: list[str]) -> None:
        await self._client.delete_objects(bucket=self.bucket, keys=names)
