"""The Temporal names that the CLI, the worker and the workflow must agree on.

Stage: pure constants shared by `cli/` (help texts, defaults: no temporalio imported) and
`runtime/` (what the worker registers, what the workflow calls). Standard library only.
"""

from __future__ import annotations

DEFAULT_TASK_QUEUE = "swfc"  # what `swfc deploy` and `swfc worker` poll unless told otherwise
LOAD_ACTIVITY = "load_entity"  # runtime.activities: GET, validate, normalize
LIST_ACTIVITY = "list_page"  # runtime.activities: one page of a collection
DELIVER_ACTIVITY = "deliver_effects"  # runtime.delivery: a round's starts, signals, cancels
UPGRADE_UPDATE = "upgrade"  # the workflow update that moves a hierarchy to another IR


def api_task_queue(workflow_queue: str, api: str) -> str:
    """The task queue of the requests to an api with a `rate`: one of its own beside the
    workflows' queue, so that the server's per-queue activity rate is that api's rate."""
    return f"{workflow_queue}/api/{api}"


def workflow_queue_of(api_queue: str, api: str) -> str:
    """The workflows' task queue whose api queue is `api_queue` (`api_task_queue` undone)."""
    return api_queue.removesuffix(f"/api/{api}")
