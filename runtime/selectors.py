"""Change paths and subscription selectors. Pure.

Stage: used by the workflow to decide which subscribers hear of a change to its record.
`changed_paths(old, new)` gives the dotted paths of the leaves that differ
(`title`, `photos.1`, `meta.color`); `matches(selector, path)`:

- `*` alone matches every change;
- a selector matches a path when it matches the path or one of its prefixes
  (`photos` matches `photos.1`);
- inside a selector, `*` matches exactly one segment and `**` any number (`a.**`, `**`).
"""

from __future__ import annotations

from typing import Any, Iterable


def changed_paths(old: Any, new: Any, prefix: tuple[str, ...] = ()) -> list[str]:
    """Dotted paths where `old` and `new` differ (a whole record appearing: its keys)."""
    if old == new:
        return []
    if isinstance(new, dict) and (isinstance(old, dict) or (old is None and not prefix)):
        old = old or {}
        keys = sorted(set(old) | set(new))
        return [p for k in keys for p in changed_paths(old.get(k), new.get(k), prefix + (str(k),))]
    if isinstance(old, list) and isinstance(new, list):
        out = [p for i in range(min(len(old), len(new))) for p in changed_paths(old[i], new[i], prefix + (str(i),))]
        out += [".".join(prefix + (str(i),)) for i in range(min(len(old), len(new)), max(len(old), len(new)))]
        return out
    return [".".join(prefix)] if prefix else ["*"]


def matches(selector: str, path: str) -> bool:
    """Does `selector` cover a change at `path`?"""
    if selector in ("*", "**"):
        return True
    return _match(selector.split("."), path.split("."))


def _match(sel: list[str], path: list[str]) -> bool:
    if not sel:
        return True  # the selector is a prefix of the path
    head, rest = sel[0], sel[1:]
    if head == "**":
        return any(_match(rest, path[i:]) for i in range(len(path) + 1))
    if not path:
        return False
    return (head == "*" or head == path[0]) and _match(rest, path[1:])


def any_match(selectors: Iterable[str], paths: Iterable[str]) -> bool:
    """True if some selector covers some changed path."""
    paths = list(paths)
    return any(matches(s, p) for s in selectors for p in paths)


def valid_selector(selector: Any) -> bool:
    """A non-empty string of dotted non-empty segments."""
    return isinstance(selector, str) and bool(selector) and all(selector.split("."))


def can_match(selector: str, fields: Iterable[str]) -> bool:
    """Can `selector` match a change of a record with these top-level `fields`? Only if it
    starts with `*`, `**` or one of them (the compiler's SWF035 rule, at run time)."""
    head = selector.split(".")[0]
    return head in ("*", "**") or head in set(fields)
