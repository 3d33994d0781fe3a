"""A continue-as-new's input, encoded after its workflow task and parsed before the next.

Stage: between the interpreter and Temporal. The interpreter hands its continue-as-new
input to `carried_payload`; a worker built by `runtime.worker.build_worker` has
`ParseCarried` as its data converter's payload codec (`with_carried_parsed`) and
`defers_encoding` on its task queue. There the input leaves the workflow task unencoded
and the codec writes it (the SDK's own JSON, marked) once the task is over; and a marked
payload of `PARSE_AHEAD_BYTES` or more is parsed as the SDK fetches an activation's
payloads, and the interpreter `take`s the parsed value instead of parsing it itself.

Why: the SDK encodes a continue-as-new's input, and decodes a run's input, inside the
workflow task, under the 2 s deadlock detector. A parent's carried store of 10,000 records
of 8 KB of issue-tracker text is a 110 MB payload: ~0.7 s to encode and ~1.4 s to parse,
with the rest of a task, on a busy worker, over 2 s; such a task fails the same way on every
retry, and the parent is wedged. A codec runs outside the task (after the SDK's external
storage has fetched a payload, and before it stores one).

The marked payload is the SDK's `json/plain` payload with one more metadata key; whatever
reads it without this module (another worker, `temporal workflow show`, a replay) decodes
it as usual. Elsewhere (a worker not built by `build_worker`, the replayer) the input is
encoded in the task as before. A value is kept only until the codec or the interpreter
takes it; a few never taken (a task that failed in between) are dropped, oldest first:
an input to encode that is gone fails the task's completion (it is retried), a parsed one
that is gone is parsed by the interpreter.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.common import RawValue
from temporalio.converter import DataConverter, JSONPlainPayloadConverter, PayloadCodec

MARK = "swfc-carried"  # metadata key of a carried input (value b"1")
PARSED = "swfc-parsed"  # metadata key a worker adds: where its parsed value waits to be taken
UNENCODED = "swfc-unencoded"  # metadata key of an input the codec is still to encode: where it waits
PARSE_AHEAD_BYTES = 1024 * 1024  # smaller ones parse in milliseconds
KEEP_PARSED = 8  # parsed inputs not taken yet (each taken by its run's first task, at once)
KEEP_UNENCODED = 256  # inputs not encoded yet (each encoded right after its task)

_json = JSONPlainPayloadConverter()
_parsed: OrderedDict[bytes, Any] = OrderedDict()
_unencoded: OrderedDict[bytes, Any] = OrderedDict()
_keys = itertools.count()
_deferring: set[str] = set()  # task queues whose workers encode carried inputs with the codec
NOT_PARSED = object()


def defers_encoding(task_queue: str) -> None:
    """Workflows on `task_queue` run in this process only on workers with `ParseCarried`."""
    _deferring.add(task_queue)


def carried_payload(value: Any, task_queue: str) -> RawValue:
    """`value` as a marked carried input: to be encoded by the codec once the task is over
    on a task queue that `defers_encoding`, else now, as the SDK's JSON converter does."""
    if task_queue not in _deferring:
        return RawValue(_encoded(value))
    key = _keep(_unencoded, value, KEEP_UNENCODED)
    return RawValue(Payload(metadata={"encoding": b"json/plain", MARK: b"1", UNENCODED: key}))


def _encoded(value: Any) -> Payload:
    payload = _json.to_payload(value)
    assert payload is not None  # a dict always converts
    payload.metadata[MARK] = b"1"
    return payload


def _keep(where: OrderedDict[bytes, Any], value: Any, at_most: int) -> bytes:
    """Keeps `value` in `where` under a new key, dropping the oldest beyond `at_most`."""
    key = str(next(_keys)).encode()
    where[key] = value
    while len(where) > at_most:
        where.popitem(last=False)
    return key


def take(payload: Payload) -> Any:
    """The value this worker parsed for `payload` ahead of its task, or `NOT_PARSED`."""
    key = payload.metadata.get(PARSED)
    return _parsed.pop(key, NOT_PARSED) if key is not None else NOT_PARSED


class ParseCarried(PayloadCodec):
    """Encodes the carried inputs left unencoded, and parses marked payloads of
    `PARSE_AHEAD_BYTES` or more as they are decoded; around `inner`, the codec the data
    converter had, if any (its encoding last, its decoding first)."""

    def __init__(self, inner: PayloadCodec | None = None) -> None:
        self._inner = inner

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        encoded = [_encode_now(p) if p.metadata.get(UNENCODED) else p for p in payloads]
        return await self._inner.encode(encoded) if self._inner is not None else encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = await self._inner.decode(payloads) if self._inner is not None else list(payloads)
        return [_parse_ahead(p) if p.metadata.get(MARK) and len(p.data) >= PARSE_AHEAD_BYTES else p
                for p in decoded]


# Both on the worker's event loop: a thread would not help, JSON's C code holds the GIL.
def _encode_now(payload: Payload) -> Payload:
    value = _unencoded.pop(payload.metadata[UNENCODED], NOT_PARSED)
    if value is NOT_PARSED:  # the completion fails and the task is retried: nothing is lost
        raise RuntimeError("the input of a continue-as-new is no longer held to be encoded")
    return _encoded(value)


def _parse_ahead(payload: Payload) -> Payload:
    value = json.loads(payload.data)  # as JSONPlainPayloadConverter does
    payload.metadata[PARSED] = _keep(_parsed, value, KEEP_PARSED)  # in place: not a copy of its data
    return payload


def with_carried_parsed(client: Client) -> Client:
    """`client`, with `ParseCarried` as its data converter's codec (wrapping its own)."""
    converter: DataConverter = client.data_converter
    if isinstance(converter.payload_codec, ParseCarried):
        return client
    config = client.config()
    config["data_converter"] = dataclasses.replace(converter, payload_codec=ParseCarried(converter.payload_codec))
    return Client(**config)
