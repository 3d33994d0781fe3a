"""`swfc lsp`: the language server editors talk to (see `langserver.server`).

`langserver.index` answers an editor's questions (diagnostics, hover, definition, completion,
formatting) from the compiler's own passes, with no LSP type in sight; `langserver.server`
is the pygls wiring over stdio. Neither is imported by `swfc validate`.
"""
