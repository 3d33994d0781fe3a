"""Syntax-error wording: Lark's expected terminals → words a user knows.

Stage: used by `dsl.recover` when the parse fails. Takes terminal names (as Lark names
them: `RBRACE`, `__ANON_0`, ...; looked up by their text in `Wording.terminal`), the token found, and the parser state; gives phrases such as "a type
such as `string` or an entity name" and, for the common mistakes, a specific label.

Labels work like Lark's `UnexpectedInput.match_examples`: each is given by short broken
examples; parsing an example tells which parser state (and found token) it fails in, and
an error in the same state gets the same label. Unlike `match_examples` the stack depth is
ignored, so one example covers a mistake in the first declaration and in the tenth.
"""

from __future__ import annotations

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

DECL_WORDS = ("api", "entity", "workflow", "deploy", "import")

# Terminal name → phrase. Keywords and punctuation not listed are shown as `text`.
_WORDS = {
    "NAME": "a name",
    "STRING": "a string in double quotes",
    "DURATION": "a duration such as `10s`",
    "INT": "a whole number such as `5`",
    "$END": "the end of the file",
}

# Sets of keywords that are shown as one phrase when all of them are expected.
_GROUPS = (
    (("api", "entity", "workflow", "deploy", "import"),
     "a declaration (`api`, `entity`, `workflow`, `deploy` or `import`)"),
    (("base", "auth", "allow", "timeout", "retry", "rate"),
     "an api setting (`base`, `auth`, `allow`, `timeout`, `retry` or `rate`)"),
    (("source", "select", "token", "child"),
     "a workflow statement (`source`, `select`, `token` or `child`)"),
    (("autostart", "cancel", "subscribe", "from", "select", "paginate", "every", "max"),
     "a child option (`autostart`, `cancel on delete`, `subscribe update \"...\"`, "
     "`from API get \"...\"`, `select`, `paginate`, `every` or `max N pages`)"),
)

# What a NAME is, by the token before it (when the state alone does not say).
_NAME_AFTER = {
    "api": "a name for the api",
    "entity": "a name for the entity",
    "workflow": "a name for the workflow",
    "manages": "an entity name",
    "[": "a type such as `string` or an entity name",
    "source": "an api name",
    "token": "an api name",
    "child": "a field name (a relation of the managed entity)",
    "->": "a workflow name",
    "deploy": "a workflow name",
    "NAME": "a method such as `get`",  # only `source API •METHOD` takes two names in a row
}

# The common mistakes, as (label, examples, match any found token?). An example is broken
# text whose *first* error shows the mistake.
_EXAMPLES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("missing `manages`: write `workflow NAME manages ENTITY { ... }`",
     ("workflow W User {", "workflow W {", "workflow W"), True),
    ("missing `->` in `child`: write `child FIELD -> WORKFLOW`",
     ("workflow W manages E { child x Y", "workflow W manages E { child x {"), True),
    ("a field needs a type, such as `string`, `[string]` or an entity name",
     ("entity E { id }", "entity E { id ?", "entity E { id = "), True),
    ("`retry` needs `times`: write `retry 5 times`",
     ("api a { retry 5 }", "api a { retry 5 backoff", "api a { retry 5 timeout"), True),
    ("`retry` takes a whole number of attempts: write `retry 5 times`",
     ("api a { retry x", "api a { retry 5s"), True),
    ("a duration needs a unit: `500ms`, `10s`, `5m`, `2h` or `1d`",
     ("api a { timeout 10 }", "api a { retry 5 times backoff 1 ",
      "api a { retry 5 times backoff 1s .. 30 ", "workflow W manages E { source a get \"/\" every 5 }"),
     False),
    ("a backoff range is written `backoff MIN .. MAX`",
     ("api a { retry 5 times backoff 1s 30s",), True),
    ("missing `{`",
     ("entity E id string", "api a base", "workflow W manages E source",
      "deploy W \"x\" token"), False),
    ("a list type is written `[T]`: missing `]`",
     ("entity E { x [string }", "entity E { x [string y"), True),
    ("the request path must be a string in double quotes, such as \"/users/{id}\"",
     ("workflow W manages E { source a get /", "workflow W manages E { source a get users"), False),
    ("`source` takes an api, a method and a path: `source API get \"/path/{id}\"`",
     ("workflow W manages E { source a \"/x\"",), False),
    ("`token` in a workflow is `token none` or `token inherit`",
     ("workflow W manages E { token crm",), True),
    ("`auth` is `auth bearer`, `auth header \"NAME\" [prefix \"TEXT\"]`, `auth query \"NAME\"` or `auth none`",
     ("api a { auth basic",), True),
    ("write `cancel on delete`",
     ("workflow W manages E { child x -> Y { cancel }", "workflow W manages E { child x -> Y { cancel on }"), True),
    ("write `subscribe update \"SELECTOR\"`",
     ("workflow W manages E { child x -> Y { subscribe \"*\" }",
      "workflow W manages E { child x -> Y { subscribe update }"), True),
    ("a deploy token is written `token API from env \"VAR\"`",
     ("deploy W \"x\" { token crm env", "deploy W \"x\" { token crm from \"X\"",
      "deploy W \"x\" { token crm from env X"), True),
    ("`deploy` names a workflow and an id in double quotes: `deploy WORKFLOW \"id\"`",
     ("deploy W u1", "deploy W {"), True),
    ("`import` takes a file name in double quotes: `import \"common.swf\"`",
     ("import common",), True),
    ("a value is a string in double quotes or `env(\"VAR\")`, `env(\"VAR\", \"default\")`",
     ("api a { base http", "api a { base env(X", "api a { base env(\"X\" \"y\""), True),
)


class Wording:
    """Phrases for one parser: built once per process, on the first syntax error."""

    def __init__(self, parser: Lark) -> None:
        self.parser = parser
        self.text_of = {
            t.name: t.pattern.value for t in parser.terminals if t.pattern.type == "str"
        }
        self.terminal = {text: name for name, text in self.text_of.items()}  # `{` → its name
        self.keywords = {v: k for k, v in self.text_of.items() if v.isidentifier()}
        self._labels: dict[tuple[int, str], str] | None = None

    # ------------------------------------------------------------------ phrases

    def expected(self, names: set[str], prev: Token | None) -> str:
        """`names` (terminal names) in words, e.g. "a field name or `}`"."""
        texts = {self.text_of.get(n, n) for n in names}
        if "NAME" in texts and self.terminal["["] in names:
            texts.discard("[")  # "a type such as ..." covers `[T]`
        phrases = []
        for members, phrase in _GROUPS:
            if texts.issuperset(members):
                texts -= set(members)
                phrases.append(phrase)
                if members[0] == "api":
                    texts.discard("$END")  # "a declaration" already says the file may go on
        for t in sorted(texts, key=_order):
            phrases.append(self.word(t, names, prev))
        return _join(phrases)

    def word(self, text: str, names: set[str], prev: Token | None) -> str:
        if text == "NAME":
            return self.name_word(names, prev)
        if text in _WORDS:
            return _WORDS[text]
        return f"`{text}`"

    def name_word(self, names: set[str], prev: Token | None) -> str:
        type_due = self.terminal["["] in names
        if self.terminal["}"] in names or type_due:
            # inside an entity: a field starts, or a type is due
            return "a type such as `string`, `[string]` or an entity name" if type_due else "a field name"
        if prev is None:
            return "a name"
        key = "NAME" if prev.type == "NAME" else str(prev.value)
        return _NAME_AFTER.get(key, "a name")

    def did_you_mean(self, word: str, names: set[str]) -> str | None:
        """The expected keyword `word` is a likely typo of (`bas` → `base`), or None."""
        if not word.isidentifier():
            return None
        keywords = [self.text_of[n] for n in names if self.text_of.get(n, "").isidentifier()]
        if word in keywords:
            return None
        import difflib  # only on a syntax error

        close = difflib.get_close_matches(word.lower(), keywords, n=1, cutoff=0.6)
        return close[0] if close else None

    @staticmethod
    def found(token: Token) -> str:
        """The token found, as the user wrote it."""
        if token.type == "$END":
            return "the end of the file"
        text = str(token.value)
        if len(text) > 30:
            text = text[:27] + "..."
        return f"`{text}`"

    @staticmethod
    def char(ch: str) -> str:
        """A character that starts no token; invisible ones by code point."""
        return f"`{ch}`" if ch.isprintable() and not ch.isspace() else f"U+{ord(ch):04X}"

    # ------------------------------------------------------------------- labels

    def label(self, state: int, found_type: str) -> str | None:
        """The label for an error in parser `state` on a token of `found_type`
        (`"<char>"` for a character no token starts with), or None."""
        if self._labels is None:
            self._labels = self._build_labels()
        return self._labels.get((state, found_type)) or self._labels.get((state, "*"))

    def _build_labels(self) -> dict[tuple[int, str], str]:
        labels: dict[tuple[int, str], str] = {}
        for label, examples, any_token in _EXAMPLES:
            for example in examples:
                where = self._failure(example)
                if where is None:
                    continue
                labels.setdefault(where, label)
                if any_token:
                    labels.setdefault((where[0], "*"), label)
        return labels

    def _failure(self, example: str) -> tuple[int, str] | None:
        """(state, found token type) where `example` first fails, without recovery."""
        from dsl.transform import parse_run

        ip = self.parser.parse_interactive(example)
        try:
            with parse_run("<example>"):
                ip.exhaust_lexer()
                ip.feed_eof()
        except UnexpectedToken as e:
            return ip.parser_state.position, e.token.type
        except UnexpectedCharacters:
            return ip.parser_state.position, "<char>"
        return None


def _order(text: str) -> tuple[int, str]:
    # names and literals first, closing braces and the end last: "a field name or `}`"
    return (2 if text in ("}", "$END") else 1 if not text.isupper() else 0, text)


def _join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases) or "nothing more"
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]
