"""Pure rules that the compiler and the runtime must apply alike (one rule, one place).

Modules here import only the standard library: `compiler/` and `runtime/` both import them,
and neither stage imports the other.
"""
