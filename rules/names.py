"""The Temporal names that the CLI, the worker and the workflow must agree on.

Stage: pure constants shared by `cli/` (help texts, defaults: no temporalio imported) and
`runtime/` (what the worker registers, what the workflow calls). Standard library only.
"""

from __future__ import annotations

DEFAULT_TASK_QUEUE = "swfc"  # what `swfc deploy` and `swfc worker` poll unless told otherwise
LOAD_ACTIVITY = "load_entity"  # runtime.activities: GET, validate, normalize
DELIVER_ACTIVITY = "deliver_effects"  # runtime.delivery: a round's starts, signals, cancels
UPGRADE_UPDATE = "upgrade"  # the workflow update that moves a hierarchy to another IR
