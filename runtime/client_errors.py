"""The problems a caller of the runtime can fix, as typed errors carrying the facts.

Stage: raised by the caller's side of the runtime (``runtime.temporal_client``,
``runtime.roots``, ``runtime.tokens``); worded by the caller (``cli/problems.py`` turns each
into a message and an exit status). Imports nothing, so that a command line may catch them
without loading temporalio. No error ever holds a token: only the names of the variables
and apis involved.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass


class ClientError(Exception):
    """A problem the user can fix: the environment, the key or the cluster is not right.
    Subclasses are dataclasses of the facts (``eq=False``: an exception stays hashable);
    ``str()`` lists them, for logs and programs that do not word them."""

    def __str__(self) -> str:
        if not is_dataclass(self):  # a subclass worded already (the CLI's own errors)
            return super().__str__()
        facts = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))  # type: ignore[arg-type]
        return f"{type(self).__name__}({facts})"


@dataclass(eq=False)
class TLSFileUnreadable(ClientError):
    """A TLS certificate or key file that cannot be read."""

    path: str
    reason: str


@dataclass(eq=False)
class Unusable(ClientError):
    """A setting the user gave (or left out) that cannot be used; ``reason``: why, in the
    words of the module that found it. Raised only as one of its kinds (``PayloadStoreUnusable``,
    ``SealKeyUnusable``, ``NoSealKey``), which the command line words each its own way."""

    reason: str


class PayloadStoreUnusable(Unusable):
    """The payload store named for this deployment cannot be used."""


@dataclass(eq=False)
class Unreachable(ClientError):
    """No connection to the Temporal frontend at ``address``."""

    address: str
    namespace: str
    reason: str


@dataclass(eq=False)
class NamespaceNotFound(ClientError):
    """The server at ``address`` has no namespace ``namespace``."""

    namespace: str
    address: str


@dataclass(eq=False)
class WorkflowNotFound(ClientError):
    """No workflow ``workflow_id`` in ``namespace`` at ``address``."""

    workflow_id: str
    namespace: str
    address: str


class SealKeyUnusable(Unusable):
    """The seal key (``SWFC_SEAL_KEY`` or the key file) is malformed or cannot be made."""


class NoSealKey(Unusable):
    """There is no usable seal key here, and a fresh one would not do: the tokens the
    workers hold are sealed with the deployment's existing key."""


@dataclass(frozen=True)
class MissingToken:
    """One token a ``deploy`` root needs whose variable is unset or empty."""

    variable: str
    api: str
    workflow: str
    entity_id: str
    workflow_id: str


@dataclass(eq=False)
class MissingTokens(ClientError):
    """Token variables the ``deploy`` roots need that are unset or empty."""

    missing: list[MissingToken]


@dataclass(eq=False)
class BadToken(ClientError):
    """The token in ``variable`` cannot be used for ``api``; ``problem`` says why (never
    quoting the token)."""

    variable: str
    api: str
    problem: str


@dataclass(eq=False)
class ApiNotUsed(ClientError):
    """``workflow_id`` holds no token for ``api`` (it would refuse one); ``held``: the apis
    it does hold tokens for."""

    workflow_id: str
    api: str
    held: list[str]
