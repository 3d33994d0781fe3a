"""The `.swf` front end: text → typed AST (`dsl.ast`) and syntax diagnostics.

Stage: the first of the pipeline (grammar.lark → dsl → compiler → runtime). Takes the text
of one file; gives a `Spec` and the problems found in it (SWF001). Nothing from Lark leaves
this package.
"""

from __future__ import annotations

from dsl.api import parse

__all__ = ["parse"]
