"""Reading spec files: bytes → text, or why not (a bad byte named at its line:col).

Stage: the front end's input. The one reader of spec files: the compiler's loader
(`swfc validate`, `compile`, `deploy`, ...) and `swfc fmt` both read through it, so a file
one of them refuses, the other refuses alike, at the same place.
"""

from __future__ import annotations

from dsl.ast import Span


class LoadError(Exception):
    """A file that cannot be loaded: `missing` (SWF071 when imported) or not (SWF002);
    `line`/`col` point at a bad byte when the file is not UTF-8."""

    def __init__(self, message: str, *, missing: bool = False, line: int = 1, col: int = 1,
                 text: str | None = None):
        super().__init__(message)
        self.missing = missing
        self.line = line
        self.col = col
        self.text = text  # what could be read, for showing the bad line


def read_bytes(name: str) -> bytes:
    """The bytes of the file `name`, or a `LoadError` saying why not (then `decode` them)."""
    try:
        with open(name, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise LoadError("no such file", missing=True) from None
    except IsADirectoryError:
        raise LoadError("is a directory") from None
    except OSError as exc:
        raise LoadError(exc.strerror or str(exc)) from None


def unreadable(name: str, exc: LoadError) -> tuple[str, Span]:
    """The SWF002 message for a file that cannot be read, and where: its first bad byte."""
    return f"cannot read `{shown(name)}`: {exc}", Span(name, exc.line, exc.col, exc.line, exc.col + 1)


# Byte-order marks of the encodings an editor may have saved a spec in instead of UTF-8.
_OTHER_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
               (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM is dropped), or a `LoadError` at the first bad byte; its column
    counts characters, as every other finding's does."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line_start = before.rfind(b"\n") + 1
        line = before.count(b"\n") + 1
        col = len(before[line_start:].decode("utf-8")) + 1  # valid: the first bad byte is later
        message = f"not valid UTF-8 (byte 0x{data[exc.start]:02x})"
        encoding = next((name for bom, name in _OTHER_BOMS if data.startswith(bom)), None)
        if encoding:
            message += f": the file starts with a {encoding} byte-order mark; save it as UTF-8"
        raise LoadError(message, line=line, col=col,
                        text=data.decode("utf-8", errors="replace")) from None
    return text[1:] if text.startswith("\ufeff") else text


def shown(name: str, limit: int = 200) -> str:
    """A file name for a message: a name of 10 MB (an `import` of a huge string) is cut."""
    return name if len(name) <= limit else name[: limit - 1] + "…"
