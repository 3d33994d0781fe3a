"""The parser factory: `grammar.lark` → one cached LALR parser that builds the AST as it parses.

Stage: the first step of `dsl.parse`. Takes `.swf` text, gives the tuple of declarations
(`dsl.ast` nodes) or raises Lark's `UnexpectedInput`, from which `dsl.recover` carries on
(with `dsl.syntax` for the wording) to report every SWF001 of the file.

Two things keep it fast: the `ToAst` callbacks run inside the parse (no parse tree is ever
built), and Lark's grammar cache (a pickle of the LALR tables) in a user-writable directory
spares every cold start the table construction.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile

import lark
from lark import Lark, Token

from dsl.transform import ToAst, current_key_names


class AlwaysName:
    """The post-lexer. Its `always_accept` makes the contextual lexer try NAME in every
    state, so a keyword glued to a name (`entityUser`) lexes as one name and a keyword in
    the wrong place (`workflow` inside a workflow) reaches the parser as a NAME, where the
    error handler can see it, instead of a confusing lexer failure. And it turns the `key`
    words that `dsl.keys` found to be field names into NAMEs (most texts have none: then
    it does no per-token work)."""

    always_accept = ("NAME",)

    def process(self, stream):
        names = current_key_names()
        return _as_names(stream, names) if names else stream


def _as_names(stream, names: frozenset[int]):
    for tok in stream:
        if tok.type == "KEY" and tok.start_pos in names:
            tok = Token.new_borrow_pos("NAME", tok.value, tok)
        yield tok


def _cache_path() -> str | bool:
    """Where Lark keeps the pickled tables: `$XDG_CACHE_HOME/swfc` (else a per-user temp
    dir), never next to the grammar, which may sit in a read-only install. Lark checks the
    grammar's hash on load, so a stale or torn file is simply rebuilt."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    version = f"lark{lark.__version__}-py{sys.version_info[0]}{sys.version_info[1]}"
    for folder in (os.path.join(root, "swfc"), os.path.join(tempfile.gettempdir(), f"swfc-{uid}")):
        if _private_dir(folder):
            return os.path.join(folder, f"grammar-{version}.lark.pickle")
    return False  # no safe place: build the tables each time, still correct


def _private_dir(folder: str) -> bool:
    """True if `folder` exists (or was made) and only we can write to it: the cache is a
    pickle, and loading someone else's pickle would run their code."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.stat(folder)
    except OSError:
        return False
    if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
        return False
    return os.access(folder, os.W_OK)


@functools.lru_cache(maxsize=1)
def get_parser() -> Lark:
    """The shared parser. Its transformer keeps nothing of a parse, so one parser serves
    any number of threads: parse inside `dsl.transform.parse_run`."""
    return Lark.open(
        "grammar.lark",
        rel_to=__file__,
        parser="lalr",
        lexer="contextual",
        postlex=AlwaysName(),
        transformer=ToAst(),
        # Spans come from tokens in `ToAst`, so Lark's own position bookkeeping (which
        # only decorates Tree results) would be pure overhead here.
        propagate_positions=False,
        maybe_placeholders=False,
        cache=_cache_path(),
    )

