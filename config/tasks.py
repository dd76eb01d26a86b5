"""Django's Tasks API, from Django itself (6.0 and later) or from the django-tasks backport.

Every module that defines or enqueues a task imports it from here, so the code runs unchanged
on both. The rows that a task acts on stay the record of what is done (a receipt's sent time,
an event's processed time): a task only carries the work out, and a periodic sweep
(`donations.services.sweep`) enqueues again whatever a lost task left undone.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.db import transaction

try:
    from django.tasks import task, task_backends
    from django.tasks.base import Task

    IMMEDIATE_BACKEND = "django.tasks.backends.immediate.ImmediateBackend"
except ImportError:  # Django 5.2: the backport
    from django_tasks import task, task_backends
    from django_tasks.base import Task

    IMMEDIATE_BACKEND = "django_tasks.backends.immediate.ImmediateBackend"

__all__ = ["IMMEDIATE_BACKEND", "Task", "enqueue", "enqueue_on_commit", "task", "task_backends"]

logger = logging.getLogger(__name__)


def enqueue(work: Task, *args: Any, **kwargs: Any) -> bool:
    """Enqueue now; False (logged) when the queue cannot take it. Callers keep a row that
    says the work is due, so the sweep enqueues it again later: never lost, only delayed."""
    try:
        work.enqueue(*args, **kwargs)
    except Exception:
        logger.exception("Could not enqueue %s%r; the sweep will retry it.", work.name, args)
        return False
    return True


def enqueue_on_commit(work: Task, *args: Any, **kwargs: Any) -> None:
    """Enqueue once the current transaction commits (at once outside one), so a worker
    never picks up work whose rows it cannot see yet."""
    transaction.on_commit(functools.partial(enqueue, work, *args, **kwargs))
