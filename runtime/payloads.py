"""Where payloads too big for Temporal go: its External Storage (DESIGN.md §7).

Stage: beside `runtime.temporal_client`, on both sides of Temporal: every client that swfc connects
(the CLI's, and so its workers') gets the same data converter, so what a worker stores a
client or another worker can read. Takes a payload-store location; gives the
`temporalio.converter.ExternalStorage` to put in the client's data converter:

- a directory (`.swfc/payloads` for the embedded server): `FileStorageDriver`, one file per
  payload named by its SHA-256 (the same bytes are stored once);
- `s3://bucket/prefix`: the SDK's `S3StorageDriver` (aioboto3; credentials, region and
  endpoint the AWS way: `AWS_ACCESS_KEY_ID`…, `AWS_REGION`, `AWS_ENDPOINT_URL`), each
  object key under `prefix/`.

A payload of `THRESHOLD` bytes or more (workflow input, continue-as-new state, an activity
result, a signal, a query answer) goes to the store; history keeps a reference of a few
hundred bytes. What is stored is the payload as it would have been in history: sealed
tokens stay sealed.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ExternalStorage,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)

DEFAULT_DIRECTORY = Path(".swfc") / "payloads"
_NEEDS_S3_DRIVER = "an s3:// payload store needs the S3 driver: pip install 'swfc[s3]'"
THRESHOLD = 256 * 1024  # the SDK's default: well under the server's 2 MB payload limit


class PayloadStoreError(ValueError):
    """A payload-store location swfc cannot use; the text says why."""


class FileStorageDriver(StorageDriver):
    """Payloads as files in one directory, named by the SHA-256 of their bytes. For one
    machine (the embedded dev server and the workers beside it)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def name(self) -> str:
        return "swfc.file"

    async def store(self, context: StorageDriverStoreContext, payloads: Sequence[Payload]) -> list[StorageDriverClaim]:
        return list(await asyncio.gather(*(asyncio.to_thread(self._write, p) for p in payloads)))

    async def retrieve(self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]) -> list[Payload]:
        return list(await asyncio.gather(*(asyncio.to_thread(self._read, c) for c in claims)))

    def _write(self, payload: Payload) -> StorageDriverClaim:
        data = payload.SerializeToString()
        name = hashlib.sha256(data).hexdigest()
        path = self.directory / name
        try:  # stored again now: `swfc payloads prune` gives it its grace again
            os.utime(path)
        except FileNotFoundError:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{id(data)}.part")
            partial.write_bytes(data)
            partial.replace(path)  # atomic: a reader never sees half a payload
        return StorageDriverClaim(claim_data={"sha256": name})

    def _read(self, claim: StorageDriverClaim) -> Payload:
        name = claim.claim_data["sha256"]
        try:
            data = (self.directory / name).read_bytes()
        except FileNotFoundError:
            raise RuntimeError(f"payload {name} is not in {self.directory} (is this the deployment's "
                               f"payload store? see --payload-store)") from None
        if hashlib.sha256(data).hexdigest() != name:
            raise RuntimeError(f"payload {name} in {self.directory} is corrupt")
        return Payload.FromString(data)


def external_storage(location: str | Path | None) -> ExternalStorage | None:
    """The External Storage for `location` (`s3://bucket/prefix` or a directory), or None.

    Raises:
        PayloadStoreError for an S3 location without a bucket, or without the S3 driver's
        packages installed.
    """
    if location is None or str(location) == "":
        return None
    text = str(location)
    driver = _s3_driver(text) if text.startswith("s3://") else FileStorageDriver(Path(text))
    return ExternalStorage(drivers=[driver], payload_size_threshold=THRESHOLD)


def stored_bytes(location: str | Path | None) -> int | None:
    """How many bytes a directory store holds (None for S3 or no store): for benchmarks."""
    if location is None or str(location).startswith("s3://"):
        return None
    directory = Path(location)
    return sum(p.stat().st_size for p in directory.iterdir()) if directory.is_dir() else 0


def _s3_driver(location: str) -> StorageDriver:
    try:
        from temporalio.contrib.aws.s3driver import S3StorageDriver
    except ImportError:
        raise PayloadStoreError(_NEEDS_S3_DRIVER) from None
    client, bucket = s3_client(location)
    return S3StorageDriver(client, bucket)


def s3_client(location: str) -> tuple[_S3Client, str]:
    """The client of `s3://bucket/prefix` (keys under `prefix/`), and the bucket."""
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    if not bucket:
        raise PayloadStoreError(f"{location}: expected s3://BUCKET or s3://BUCKET/PREFIX")
    try:
        import aioboto3
    except ImportError:
        raise PayloadStoreError(_NEEDS_S3_DRIVER) from None
    return _S3Client(aioboto3.Session(), prefix.strip("/")), bucket


class _S3Client:
    """The S3 driver's client: an aioboto3 client per operation (its lifetime is the
    operation's: no connection left open when a command ends), keys under `prefix/`."""

    def __init__(self, session: object, prefix: str) -> None:
        self._session, self._prefix = session, prefix

    def _key(self, key: str) -> str:
        return f"{self._prefix}/{key}" if self._prefix else key

    def describe(self) -> Mapping[str, str]:
        return {"prefix": self._prefix} if self._prefix else {}

    async def object_exists(self, *, bucket: str, key: str) -> bool:
        from temporalio.contrib.aws.s3driver.aioboto3 import new_aioboto3_client

        async with self._session.client("s3") as s3:  # type: ignore[attr-defined]
            return await new_aioboto3_client(s3).object_exists(bucket=bucket, key=self._key(key))

    async def put_object(self, *, bucket: str, key: str, data: bytes) -> None:
        async with self._session.client("s3") as s3:  # type: ignore[attr-defined]
            await s3.put_object(Bucket=bucket, Key=self._key(key), Body=data)

    async def get_object(self, *, bucket: str, key: str) -> bytes:
        async with self._session.client("s3") as s3:  # type: ignore[attr-defined]
            response = await s3.get_object(Bucket=bucket, Key=self._key(key))
            return await response["Body"].read()

    # Not the driver's: `swfc payloads prune` lists and removes through the same prefix.

    async def list_objects(self, *, bucket: str) -> list[tuple[str, int, float]]:
        """Every object under the prefix: (key without the prefix, size, modified epoch s)."""
        found = []
        async with self._session.client("s3") as s3:  # type: ignore[attr-defined]
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, **({"Prefix": f"{self._prefix}/"} if self._prefix else {}))
            async for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self._prefix) + 1:] if self._prefix else item["Key"]
                    found.append((key, item["Size"], item["LastModified"].timestamp()))
        return found

    async def delete_objects(self, *, bucket: str, keys: Sequence[str]) -> None:
        async with self._session.client("s3") as s3:  # type: ignore[attr-defined]
            for at in range(0, len(keys), 1000):  # S3 deletes at most 1,000 keys a request
                batch = [{"Key": self._key(k)} for k in keys[at:at + 1000]]
                await s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
