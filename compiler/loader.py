"""Loading: read the root files, parse them, and follow their `import`s.

Stage: first pass of `compiler/`. Takes root file names and a `Source` (the file system,
or an in-memory dict for tests and fuzzing); gives every loaded `Spec` in load order
(each file once, so diamonds are fine) plus SWF001/002/070/071 findings.
File names stay as the user gave them (imports are joined to the importing file's name
and normalised), so diagnostics read like the command line that produced them.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

from dsl.ast import Import, Span, Spec
from dsl.diagnostics import Collector
from dsl.files import LoadError, decode, read_bytes, shown, unreadable


class Source:
    """Where file text comes from. `read` returns the text or raises `LoadError`."""

    def display_name(self, name: str) -> str:
        return name

    def key(self, name: str) -> str:
        """The identity of a file (two names of one file load it once)."""
        return name

    def join(self, importer: str, path: str) -> str:
        return posixpath.normpath(posixpath.join(posixpath.dirname(importer), path))

    def read(self, name: str) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class FileSource(Source):
    """Files on disk, named relative to the current directory where possible."""

    def display_name(self, name: str) -> str:
        if not os.path.isabs(name):
            return os.path.normpath(name)
        rel = os.path.relpath(name)
        return name if rel.startswith("..") else rel

    def key(self, name: str) -> str:
        return os.path.realpath(name)

    def join(self, importer: str, path: str) -> str:
        return os.path.normpath(os.path.join(os.path.dirname(importer), path))

    def read(self, name: str) -> str:
        return decode(read_bytes(name))


class DictSource(Source):
    """In-memory files: `{name: text}`; imports resolve within the dict."""

    def __init__(self, files: dict[str, str]):
        self.files = {posixpath.normpath(k): v for k, v in files.items()}

    def display_name(self, name: str) -> str:
        return posixpath.normpath(name)

    def read(self, name: str) -> str:
        try:
            return self.files[name]
        except KeyError:
            raise LoadError("no such file", missing=True) from None


@dataclass
class Loaded:
    """The result of loading: `specs` in load order, `texts` by file name (for rendering)."""

    specs: list[Spec] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)


class Loader:
    """Depth-first loading; the stack of files being loaded detects import cycles."""

    def __init__(self, source: Source, diags: Collector, parse):
        self.source = source
        self.diags = diags
        self.parse = parse
        self.result = Loaded()
        self.done: set[str] = set()
        self.stack: list[tuple[str, str]] = []  # (key, display name)

    def load_root(self, name: str) -> None:
        self.load(self.source.display_name(name), None)

    def load(self, name: str, via: Import | None) -> None:
        """Load `name` and, depth-first, everything it imports. An explicit stack of
        frames (not recursion), so a long chain of imports cannot exhaust Python's."""
        frames: list[tuple[str, object]] = []
        self.enter(name, via, frames)
        while frames:
            importer, imports = frames[-1]
            imp = next(imports, None)
            if imp is None:
                frames.pop()
                self.stack.pop()
            elif not imp.path.value:
                self.diags.add("SWF071", "`import` needs a file name", imp.path.span)
            else:
                self.enter(self.source.join(importer, imp.path.value), imp, frames)

    def enter(self, name: str, via: Import | None, frames: list) -> None:
        """Read and parse one file and push a frame for its imports (unless it is on the
        stack already: a cycle, or loaded already: a diamond)."""
        key = self.source.key(name)
        on_stack = [k for k, _ in self.stack]
        if key in on_stack:
            self.report_cycle(name, on_stack.index(key), via)
            return
        if key in self.done:
            return
        self.done.add(key)
        text = self.read(name, via)
        if text is None:
            return
        self.result.texts[name] = text
        spec, found = self.parse(text, name)
        self.diags.extend(found)
        if not spec.decls and not found:
            self.diags.add("SWF003", "the file declares nothing: it is empty or holds only comments",
                           Span(name, 1, 1, 1, 2), hint="a spec declares `api`, `entity`, `workflow` "
                           "and `deploy` blocks, or `import`s files that do")
        self.result.specs.append(spec)
        self.stack.append((key, name))
        frames.append((name, (d for d in spec.decls if isinstance(d, Import))))

    def read(self, name: str, via: Import | None) -> str | None:
        try:
            return self.source.read(name)
        except LoadError as exc:
            if exc.missing and via is not None:
                self.diags.add("SWF071", f"imported file `{shown(name)}` not found", via.path.span)
            elif via is not None and exc.line == 1 and exc.col == 1:
                self.diags.add("SWF002", f"cannot read `{shown(name)}`: {exc}", via.path.span)
            else:
                if exc.text is not None:
                    self.result.texts[name] = exc.text
                self.diags.add("SWF002", *unreadable(name, exc))
            return None

    def report_cycle(self, name: str, start: int, via: Import | None) -> None:
        chain = [n for _, n in self.stack[start:]] + [name]
        span = via.path.span if via is not None else Span(name, 1, 1, 1, 1)
        self.diags.add("SWF070", "import cycle: " + " -> ".join(shown(n) for n in chain), span)
