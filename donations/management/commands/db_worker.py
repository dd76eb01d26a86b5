"""The task worker: django-tasks-db's `db_worker`, plus the sweep and worker threads.

It runs the library's worker as it is, and adds what the rows-are-the-record design needs:
the sweep (`donations.services.sweep`) when it starts and every TASKS_SWEEP_SECONDS, so a
restarted worker picks up what a killed one left; and `--threads N`, N workers in one
process, because most of a Stripe event's processing time is spent waiting for Stripe.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.core.management.base import CommandParser
from django.db import close_old_connections, connection
from django.utils import timezone
from django_tasks_db.management.commands import db_worker as library

from donations.services.sweep import work_sweep

logger = logging.getLogger(__name__)


def _sweep() -> None:
    try:
        report = work_sweep(now=timezone.now())
    except Exception:  # the database may be away for a moment: the next sweep tries again
        logger.exception("The sweep failed.")
        return
    if report.events or report.receipts:
        logger.warning("sweep enqueued_again events=%s receipts=%s", report.events, report.receipts)


def _sweep_every(seconds: float, stop: threading.Event) -> None:
    while not stop.wait(seconds):
        close_old_connections()
        _sweep()
    connection.close()


class Command(library.Command):
    help = (
        "Run the task worker (Stripe events, receipts, emails, Stripe calls). Sweeps for work "
        "whose task was lost when it starts and every TASKS_SWEEP_SECONDS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--threads",
            type=int,
            default=1,
            help="Workers in this process, each running one task at a time (default 1).",
        )

    def handle(self, *args, threads: int, **options) -> None:
        self.configure_logging(options["verbosity"])
        _sweep()
        if options["batch"] or options.get("reload"):
            super().handle(*args, **options)
            return
        stop = threading.Event()
        helpers = [threading.Thread(target=_sweep_every, args=(settings.TASKS_SWEEP_SECONDS, stop))]
        for number in range(1, max(threads, 1)):
            worker = library.Worker(
                queue_names=options["queue_name"].split(","),
                interval=options["interval"],
                batch=False,
                backend_name=options["backend_name"],
                startup_delay=options["startup_delay"],
                max_tasks=None,
                worker_id=f"{options['worker_id'][:56]}-{number}",
                excluded_queue_names=[],
            )
            helpers.append(threading.Thread(target=self._run, args=(worker,)))
        for thread in helpers:
            thread.daemon = True  # a stop ends them with the process, as SIGKILL would
            thread.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()

    @staticmethod
    def _run(worker: library.Worker) -> None:
        try:
            worker.run()
        finally:
            connection.close()
