"""Error recovery: parse a broken file anyway, reporting each syntax error once.

Stage: the slow path of `dsl.parse`, run only when the plain parse failed; it takes over
from where that parse stopped. Takes the text; gives the declarations that parsed (a
partial spec, so the compiler can check the rest) and `(message, span, notes, hint)`
syntax errors, several per file where possible.

It drives Lark's LALR parser token by token (`Lark.parse_interactive`) and, on an error,
does what yacc's panic mode and Lark's `find_grammar_errors` do, trying in turn:

* a misspelt keyword (`sorce`) is read as the keyword it resembles;
* a missing keyword or punctuation (`manages`, `->`, `times`, `{`, `]`) is put back when
  the next token then fits;
* a declaration keyword at the start of a line where a statement was due means a `}` is
  missing: the open blocks are closed and the declaration is parsed (inside an entity,
  where `workflow` is a fine field name, the file is parsed again to get this right);
* otherwise tokens are skipped until one fits at a statement or declaration boundary of
  the innermost open block; the parser's stack is popped back to that boundary.

Errors are not reported again until a token has been accepted, nor twice on one line;
after 30 (or 5000 unreported) the rest of the file is not read.

Lark's public `InteractiveParser` does the driving: `choices()` (what the current state
takes), `feed_token`, `lexer_thread`/`parser_state`. Three things it has no public API for
are done on Lark's own objects, each in one method below, which is why `pyproject.toml`
pins Lark's minor version: popping the parser's stacks back to a boundary (`pop_to`,
`snapshot`/`restore`), the actions of a state deeper in the stack (`choices_at`), and moving
the lexer past characters no token starts with (`skip_text`, as Lark's own `on_error` does).
Terminal names are never spelt here: they come from the grammar (`Wording.terminal`).
"""

from __future__ import annotations

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from dsl.ast import Field, Name, Span
from dsl.diagnostics import Note
from dsl.syntax import DECL_WORDS, Wording

MAX_ERRORS = 30  # reported; then the rest of the file is not read
MAX_EVENTS = 5000  # errors met, reported or not: binary junk must not take minutes
MAX_RESTARTS = 10

Problem = tuple[str, Span, tuple[Note, ...], "str | None"]  # message, where, notes, hint


class _Restart(Exception):
    """Parse again from the top, treating the NAME at `where` (line, col) as a declaration."""

    def __init__(self, where: tuple[int, int]) -> None:
        self.where = where


def parse_recovering(parser: Lark, wording: Wording, text: str, file: str, failure=None):
    """Returns (declarations, problems). Never raises a Lark error.

    `failure`, the `UnexpectedInput` of a plain parse of the same text, lets the first run
    go on from where that parse stopped instead of parsing the text again."""
    forced: set[tuple[int, int]] = set()
    for _ in range(MAX_RESTARTS):
        run = _Run(parser, wording, text, file, forced)
        try:
            return run.parse(failure), run.problems
        except _Restart as r:
            forced.add(r.where)
            failure = None  # the restart changes how the text before it reads
    run = _Run(parser, wording, text, file, forced, restarts=False)
    return run.parse(), run.problems


class _Run:
    """One recovering parse."""

    def __init__(self, parser, wording, text, file, forced, restarts=True) -> None:
        self.parser, self.wording, self.text, self.file = parser, wording, text, file
        self.forced, self.restarts = forced, restarts
        terminal = wording.terminal
        self.lbrace, self.rbrace, self.lsqb = terminal["{"], terminal["}"], terminal["["]
        self.entity_kw = terminal["entity"]
        self.problems: list[Problem] = []
        self.prev: Token | None = None  # the last token the parser accepted
        self.skipping = False  # an error was reported and nothing accepted since
        self.last_line = 0
        self.skip_depth = 0  # `{` skipped over, whose `}` must be skipped too
        self.lines: list[str] | None = None  # the text's lines, split when first needed

    # ------------------------------------------------------------------ driving

    def parse(self, failure=None):
        ip = getattr(failure, "interactive_parser", None)
        if ip is None:
            failure, ip = None, self.parser.parse_interactive(self.text)
        self.ip, self.ps, self.lexer = ip, ip.parser_state, ip.lexer_thread
        if failure is not None and not self.resume(failure):
            return self.finish()
        events = 1
        while True:
            if len(self.problems) >= MAX_ERRORS or events >= MAX_EVENTS:
                self.give_up(events)
                break
            try:
                for tok in self.lexer.lex(self.ps):
                    self.take(tok)
                break
            except UnexpectedCharacters as e:
                self.bad_char(e)
            except UnexpectedToken as e:
                self.bad_token(e.token)
            events += 1
        return self.finish()

    def give_up(self, met: int) -> None:
        """Too many errors: a note on the last one says where reading stopped (it is no
        syntax error of the text, so not one more error); what parsed so far is kept."""
        line, column = self.lexer_position()
        span = Span(self.file, line, column, line, column + 1)
        reported = len(self.problems)
        more = f", and {met - reported} more met while recovering" if met > reported else ""
        note = Note(f"too many syntax errors ({reported} reported{more}): reading stopped here, "
                    "the rest of the file was not checked", span)
        if not self.problems:  # every error met followed from none reported: never seen, but say so
            self.problems.append((note.message, span, (), None))
            return
        message, where, notes, hint = self.problems[-1]
        self.problems[-1] = (message, where, (*notes, note), hint)

    def resume(self, failure) -> bool:
        """Takes over where a plain parse failed: handles its error; False if that was
        the end of the file."""
        values = self.values()
        self.prev = _as_token(values[-1]) if values else None
        if isinstance(failure, UnexpectedCharacters):
            self.bad_char(failure)
        elif failure.token.type == "$END":
            return False
        else:
            self.bad_token(failure.token)
        return True

    def take(self, tok: Token) -> None:
        """Feeds one token from the lexer (raises UnexpectedToken if it does not fit)."""
        if self.forced and tok.type == "NAME" and (tok.line, tok.column) in self.forced:
            raise UnexpectedToken(tok, set())
        self.feed(tok)

    def feed(self, tok: Token) -> None:
        self.ip.feed_token(tok)
        self.prev = tok
        self.skipping = False

    def try_feed(self, tok: Token, depth: int | None = None) -> bool:
        """Pops the stack to `depth` states (if given) and feeds `tok`; undoes all of it
        and returns False if `tok` does not fit there."""
        saved = self.snapshot()
        if depth is not None:
            self.pop_to(depth)
        try:
            self.feed(tok)
            return True
        except UnexpectedToken:
            self.restore(saved)
            return False

    # ----------------------------------------- Lark internals (minor version pinned)

    def snapshot(self) -> tuple[list, list, Token | None]:
        """The parser's stacks (and the last token accepted), to `restore` after a trial."""
        return list(self.ps.state_stack), list(self.ps.value_stack), self.prev

    def restore(self, saved: tuple[list, list, Token | None]) -> None:
        self.ps.state_stack[:], self.ps.value_stack[:], self.prev = saved

    def pop_to(self, depth: int) -> None:
        """Drops what was half-parsed above the `depth`-th state of the stack."""
        del self.ps.state_stack[depth + 1 :]
        del self.ps.value_stack[depth:]

    def depth(self) -> int:
        return len(self.ps.state_stack)

    def values(self) -> list:
        """What the stack holds: tokens and the nodes reduced so far, outermost first."""
        return self.ps.value_stack

    def choices_at(self, depth: int) -> dict:
        """`choices()` of the `depth`-th state of the stack: terminal or rule → action."""
        return self.ps.parse_conf.parse_table.states[self.ps.state_stack[depth]]

    def lexer_position(self) -> tuple[int, int]:
        """(line, column) where the lexer will read next."""
        counter = self.lexer.state.line_ctr
        return counter.line, counter.column

    def skip_text(self, text: str) -> None:
        """Moves the lexer past `text` (characters no token starts with)."""
        self.lexer.state.line_ctr.feed(text)

    # --------------------------------------------------------------- reporting

    def report(self, message: str, span: Span, notes: tuple[Note, ...] = (), hint=None) -> None:
        if self.skipping or span.line == self.last_line:
            return
        self.problems.append((message, span, notes, hint))
        self.last_line = span.line

    def span_of(self, tok: Token) -> Span:
        end_line = tok.end_line or tok.line
        end_col = tok.end_column or tok.column + max(len(tok.value), 1)
        return Span(self.file, tok.line, tok.column, end_line, end_col)

    def expected_names(self) -> set[str]:
        return {n for n in self.ip.choices() if n.isupper() or n == "$END"}

    def expected(self) -> str:
        return self.wording.expected(self.expected_names(), self.prev)

    def message(self, found: str, found_type: str, word: str = "") -> tuple[str, str | None]:
        """(message, hint): "expected X, found Y"; or, for a labelled mistake, the label
        (found Y) with "expected X" as the hint. A misspelt keyword (`word`) gets a
        "did you mean" either way."""
        expected = self.expected()
        label = self.wording.label(self.ps.position, found_type)
        if label:
            message, hint = f"{label} (found {found})", f"expected {expected}"
        else:
            message, hint = f"expected {expected}, found {found}", None
        guess = self.wording.did_you_mean(word, self.expected_names())
        return (f"{message}; did you mean `{guess}`?", hint) if guess else (message, hint)

    # ----------------------------------------------------------- bad characters

    def bad_char(self, e: UnexpectedCharacters) -> None:
        """A character no token starts with: say which, skip it (or the rest of the line
        for an unterminated string) and go on."""
        pos = e.pos_in_stream
        ch, hint = self.text[pos], None
        if ch == '"':
            end = self.text.find("\n", pos)
            end = len(self.text) if end < 0 else end
            message = "unterminated string: a string ends with `\"` on the same line"
        elif ch == ";":
            end = pos + 1
            message = "unexpected `;`: statements need no separator, a new line or a space will do"
        else:
            end = pos + 1
            while end < len(self.text) and _is_junk(self.text[end]):
                end += 1  # one error for a run of characters no token can start with
            message, hint = self.message(f"the character {self.wording.char(ch)}", "<char>")
        span = Span(self.file, e.line, e.column, e.line, e.column + max(end - pos, 1))
        self.report(message, span, hint=hint)
        self.skipping = True
        self.skip_text(self.text[pos:end])

    # --------------------------------------------------------------- bad tokens

    def bad_token(self, tok: Token) -> None:
        found_type = "NAME" if tok.value in self.wording.keywords and tok.type != "NAME" else tok.type
        if self.missing_brace(tok):
            return
        message, hint = self.message(self.wording.found(tok), found_type, str(tok.value))
        self.report(message, self.span_of(tok), hint=self.key_hint() or hint)
        self.skipping = True
        if self.fix_typo(tok) or self.insert_missing(tok):
            return
        self.check_entity_swallowed(tok)
        self.resync(tok)

    def key_hint(self) -> str:
        """`id string` then `key string` on the next line reads as `id string key`, then a
        field `string` without a type: say why, when a type is due after such a field."""
        values = self.values()
        if len(values) < 2 or self.lsqb not in self.ip.choices():
            return ""
        field = values[-2]
        if hasattr(field, "children"):  # Lark's list of the fields so far
            field = field.children[-1] if field.children else None
        if not isinstance(field, Field) or not field.is_key:
            return ""
        end = field.span  # the field ends with its `key`
        if not self.starts_line(Name("key", Span(self.file, end.end_line, end.end_col - 3, 0, 0))):
            return ""
        return ("`key` after a field's type marks that field as the key (and this entity "
                "does not read with `key` as a field name either)")

    def fix_typo(self, tok: Token) -> bool:
        """A misspelt keyword (`sorce`): read it as the keyword it resembles."""
        guess = self.wording.did_you_mean(str(tok.value), self.expected_names())
        if guess is None:
            return False
        return self.try_feed(Token.new_borrow_pos(self.wording.keywords[guess], guess, tok))

    def insert_missing(self, tok: Token) -> bool:
        """If exactly one keyword or punctuation fits here and `tok` fits after it, the
        user most likely left that one out: put it in and carry on."""
        names = self.expected_names() - {"$END"}
        if len(names) != 1:
            return False
        (name,) = names
        text = self.wording.text_of.get(name)
        if text is None:
            return False
        saved = self.snapshot()
        if self.try_feed(Token.new_borrow_pos(name, text, tok)):
            for candidate in self.variants(tok):
                if self.try_feed(candidate):
                    return True
        self.restore(saved)
        self.skipping = True
        return False

    def missing_brace(self, tok: Token) -> bool:
        """A declaration keyword inside a block: the block's `}` is missing. Close the
        open blocks and go on with the declaration."""
        if tok.value not in DECL_WORDS or not self.open_braces() or not self.starts_line(tok):
            return False
        kw = Token.new_borrow_pos(self.wording.keywords[tok.value], tok.value, tok)
        opened = self.open_braces()[-1]
        note = Note("this `{` is not closed", self.span_of(opened))
        self.report(
            f"missing `}}` before this `{tok.value}`: the block opened at line {opened.line} "
            f"is not closed",
            self.span_of(tok),
            (note,),
        )
        self.skipping = True
        self.close_blocks(until=kw)
        if not self.try_feed(kw):
            self.resync(tok)
        return True

    def check_entity_swallowed(self, tok: Token) -> None:
        """Inside an entity, `workflow W manages E {` after a missing `}` parses as fields
        until the `{` (or the string of `import "x"`). If the line of the error starts with
        a field named by a declaration keyword, parse again with that word as one."""
        braces = self.open_braces()
        if not self.restarts or not braces or tok.type not in (self.lbrace, "STRING"):
            return
        names = [n for n in self.names_after(braces[-1]) if n.span.line == tok.line]
        if names and names[0].value in DECL_WORDS and self.starts_line(names[0]):
            where = (names[0].span.line, names[0].span.col)
            if where not in self.forced:
                raise _Restart(where)

    def names_after(self, brace: Token):
        """The names given after `brace` (in the entity body) that sit on the stack."""
        values = self.values()
        i = max(i for i, v in enumerate(values) if v is brace)
        for v in values[i + 1 :]:
            items = getattr(v, "children", [v])
            for item in items:
                if isinstance(item, Field):
                    yield item.name
                elif isinstance(item, Name):
                    yield item

    def starts_line(self, item) -> bool:
        """Whether only blanks precede `item` (a Token or a node with a span) on its line."""
        span = getattr(item, "span", None)
        line, col = (span.line, span.col) if span else (item.line, item.column)
        if self.lines is None:
            self.lines = self.text.split("\n")
        return self.lines[line - 1][: col - 1].strip() == ""

    # ------------------------------------------------------------------- resync

    def resync(self, tok: Token) -> None:
        """Take `tok` at the innermost statement or declaration boundary where it fits,
        popping what was half-parsed; or skip it. Never pops out of an open block: only
        its `}` (or `missing_brace`) closes it, so a stray word keeps the block."""
        if tok.type == self.rbrace and self.skip_depth:
            self.skip_depth -= 1
            return
        values = self.values()
        # Nor back into a block already closed: a `}` still on the stack (its declaration
        # is reduced only once a token that may follow it comes) stays where it is; popping
        # it made each stray word after `entity E { ... }` a field of E.
        inner = max((i for i, v in enumerate(values) if self.is_brace(v)), default=-1)
        for depth in range(self.depth() - 1, inner, -1):
            if not self.is_boundary(depth):
                continue
            for candidate in self.variants(tok):
                if self.try_feed(candidate, depth):
                    self.skip_depth = 0
                    return
        if tok.type == self.lbrace:
            self.skip_depth += 1

    def is_boundary(self, depth: int) -> bool:
        """Whether the `depth`-th state is between statements (a `}` may come) or between
        declarations (`entity` may come)."""
        actions = self.choices_at(depth)
        return self.rbrace in actions or self.entity_kw in actions

    def variants(self, tok: Token) -> list[Token]:
        """`tok` as lexed, and as the keyword or NAME the same text also is."""
        out = [tok]
        if tok.type == "NAME" and tok.value in self.wording.keywords:
            out.append(Token.new_borrow_pos(self.wording.keywords[tok.value], tok.value, tok))
        elif tok.type != "NAME" and tok.value in self.wording.keywords:
            out.append(Token.new_borrow_pos("NAME", tok.value, tok))
        return out

    def open_braces(self) -> list[Token]:
        return [v for v in self.values() if isinstance(v, Token) and v.type == self.lbrace]

    def is_brace(self, value) -> bool:
        return isinstance(value, Token) and value.type in (self.lbrace, self.rbrace)

    # --------------------------------------------------------------------- end

    def finish(self):
        """Feeds the end of the file, closing what is still open; returns the result."""
        last = self.lexer.state.last_token or self.prev
        end = _end_token(last)
        reported = False
        for _ in range(self.depth() + 2):
            if "$END" in self.ip.choices():
                try:
                    return self.ip.feed_token(end)
                except UnexpectedToken:
                    pass
            if not reported and len(self.problems) < MAX_ERRORS:
                self.report_end(end)
                reported = True
            self.close_one(end)
        return ()

    def report_end(self, end: Token) -> None:
        braces = self.open_braces()
        message, hint = self.message(self.wording.found(end), "$END")
        notes = ()
        if braces:
            message, hint = "missing `}` at the end of the file", f"expected {self.expected()}"
            notes = (Note("this `{` is not closed", self.span_of(braces[-1])),)
        span = Span(self.file, end.line, end.column, end.line, end.column + 1)
        self.report(message, span, notes, hint)
        self.skipping = True

    def close_blocks(self, until: Token) -> None:
        """Closes blocks with `}` until `until` fits (at most as many as are open)."""
        for _ in range(self.depth()):
            if until.type in self.ip.choices():
                return
            if not self.close_one(self.prev or until):
                return

    def close_one(self, at: Token) -> bool:
        """Pops to the innermost state that takes `}` and feeds one; else pops to the
        innermost declaration boundary. False when there is nothing left to pop."""
        rbrace = Token.new_borrow_pos(self.rbrace, "}", at)
        for depth in range(self.depth() - 1, -1, -1):
            if self.rbrace in self.choices_at(depth) and self.try_feed(rbrace, depth):
                return True
        for depth in range(self.depth() - 2, -1, -1):
            if "$END" in self.choices_at(depth):
                self.pop_to(depth)
                return True
        return False


def _as_token(value) -> Token | None:
    """A value from the parser's stack as a token (for a node: a stand-in where it ends)."""
    if isinstance(value, Token):
        return value
    span = getattr(value, "span", None)
    if span is None:  # a list of nodes (Lark's Tree for `x*`)
        children = getattr(value, "children", None)
        return _as_token(children[-1]) if children else None
    kind = "NAME" if type(value).__name__ == "Name" else type(value).__name__
    text = getattr(value, "value", "")
    return Token(kind, text if isinstance(text, str) else "", None, span.line, span.col,
                 span.end_line, span.end_col)


def _is_junk(ch: str) -> bool:
    """No token starts with a control or non-ASCII character (strings and comments may
    hold them, but start with `"` or `#`)."""
    return not (ch.isascii() and ch.isprintable()) and not ch.isspace()


def _end_token(last: Token | None) -> Token:
    """`$END`, placed just after the last token (line 1, column 1 for an empty file)."""
    if last is None or last.end_line is None:
        return Token("$END", "", 0, 1, 1, 1, 2, 0)
    return Token("$END", "", last.end_pos, last.end_line, last.end_column,
                 last.end_line, last.end_column + 1, last.end_pos)
