"""Spec texts shared by the pathological-input tests and `bench/pathological.py`."""

from __future__ import annotations

API = 'api crm {\n  base "http://127.0.0.1:8787"\n  auth bearer\n}\n'


def hierarchy_spec(levels: int = 5000) -> str:
    """A `levels`-deep parent/child chain of workflows, the token needed at the bottom."""
    parts = [API]
    for i in range(levels):
        last = i == levels - 1
        parts.append(f"entity E{i} {{\n  id string\n" + ("" if last else f"  next E{i + 1}\n") + "}\n")
        body = '  source crm get "/e/{id}"\n' if last else f"  child next -> W{i + 1} {{ autostart }}\n"
        parts.append(f"workflow W{i} manages E{i} {{\n{body}}}\n")
    parts.append('deploy W0 "root" { token crm from env "CRM_TOKEN" }\n')
    return "".join(parts)
