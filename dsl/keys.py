"""Which `key` words of entity bodies are field names (Jira's issue key is a field `key`).

Stage: in `dsl.parse`, when a first parse reading every `key` after a type as the key mark
left an entity broken (a syntax error, two fields marked, a type `key`). Takes the text;
gives the offsets of the `key` words that the second parse must read as field names
although they follow a field's type (`dsl.parser.AlwaysName` hands them over as NAMEs).

Newlines carry no meaning, so `id string key string key` reads two ways: a field `id`
marked as the key and then `string key`, a field of an unknown type `key`; or `id string`
and a field `key string` marked as the key. The rule (README "Choices where the design is
silent"): `key` after a type marks that field as the key, unless the entity then does not
read; then it is a field name, if that gives the one reading of the entity in which every
field has a type (none spelt `key`) and at most one field is marked. That reading, when it
exists, is the only one (tests/dsl/test_keywords.py checks every body of up to 7 words):
nothing is read another way silently. When none exists the marker reading stands, and the
errors are those of the text as the grammar reads it.

Linear in the text: one regular-expression scan, and per entity body a dynamic programme
that counts readings up to 2.
"""

from __future__ import annotations

import re

# The grammar's terminals as far as entity bodies go: strings (whole, so that a `{` or a
# `key` inside one is no token), comments, names, numbers and durations, single characters.
_TOKEN = re.compile(r'"[^"\\\n]*(?:\\[^\n][^"\\\n]*)*"|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|[0-9][A-Za-z0-9_.]*|\S')
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_WORD = re.compile(r"\bkey\b")


def key_field_names(text: str) -> frozenset[int]:
    """The offsets in `text` of the `key` words that follow a field's type and name a field."""
    if _KEY_WORD.search(text) is None:
        return frozenset()
    tokens = [(m.group(), m.start()) for m in _TOKEN.finditer(text) if m.group()[0] != "#"]
    found: set[int] = set()
    depth, i = 0, 0
    while i < len(tokens):
        word = tokens[i][0]
        if word == "{":
            depth += 1
        elif word == "}":
            depth = max(depth - 1, 0)
        elif depth == 0 and word == "entity" and i + 2 < len(tokens) and tokens[i + 2][0] == "{" \
                and _NAME.fullmatch(tokens[i + 1][0]):
            end = i + 3
            while end < len(tokens) and tokens[end][0] not in ("{", "}"):
                end += 1
            if end < len(tokens) and tokens[end][0] == "}":
                found |= _names_in(tokens[i + 3:end])
            i = end
            continue
        i += 1
    return frozenset(found)


def _names_in(body: list[tuple[str, int]]) -> set[int]:
    """The offsets of the `key` words after a type that the one good reading of an
    entity body (module docstring) takes as field names; none if it has no such reading."""
    words = [w for w, _ in body]
    if any(w not in ("?", "[", "]") and not _NAME.fullmatch(w) for w in words):
        return set()  # not a body of fields: the parser reports it
    n = len(words)
    # ways[i][marked]: readings (counted up to 2) of words[i:] as fields, with `marked`
    # fields already marked as the key before i
    ways = [[0, 0] for _ in range(n + 1)]
    ways[n] = [1, 1]
    for i in range(n - 1, -1, -1):
        for marked in (0, 1):
            ways[i][marked] = min(2, sum(ways[j][m] for j, m in _fields_at(words, i, marked)))
    if ways[0][0] != 1:
        return set()
    names, i, marked, after_type = set(), 0, 0, False
    while i < n:
        if words[i] == "key" and after_type:
            names.add(body[i][1])
        i, now = next((j, m) for j, m in _fields_at(words, i, marked) if ways[j][m])
        after_type, marked = now == marked, now
    return names


def _fields_at(words: list[str], i: int, marked: int) -> list[tuple[int, int]]:
    """Where a field starting at `i` can end (the index after it) and how many fields are
    marked then: a name, a type (`T`, `T?`, `[T]`, `[T]?`, never `key`), a `key` mark."""
    if not _is_name(words, i):
        return []
    ends = []
    t = i + 1
    if _is_name(words, t) and words[t] != "key":
        ends.append(t + 1)
    elif t + 2 < len(words) and words[t] == "[" and _is_name(words, t + 1) and words[t + 1] != "key" \
            and words[t + 2] == "]":
        ends.append(t + 3)
    ends += [e + 1 for e in ends if e < len(words) and words[e] == "?"]
    out = [(e, marked) for e in ends]
    if not marked:
        out += [(e + 1, 1) for e in ends if e < len(words) and words[e] == "key"]
    return out


def _is_name(words: list[str], i: int) -> bool:
    return i < len(words) and words[i] not in ("?", "[", "]")
