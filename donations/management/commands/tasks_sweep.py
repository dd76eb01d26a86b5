"""The sweep on its own, for task backends whose worker is not ours (RQ's `rqworker`)."""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections
from django.utils import timezone

from donations.services.sweep import work_sweep


class Command(BaseCommand):
    help = (
        "Enqueue again the work whose task was lost (events not processed, receipts due). "
        "db_worker does this itself; run this beside rqworker, once or with --loop."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loop", action="store_true", help="Sweep every TASKS_SWEEP_SECONDS until stopped."
        )

    def handle(self, *args, loop: bool, **options) -> None:
        stop = threading.Event()
        while True:
            close_old_connections()
            report = work_sweep(now=timezone.now())
            self.stdout.write(f"{report.events} events and {report.receipts} receipts enqueued.")
            if not loop or stop.wait(settings.TASKS_SWEEP_SECONDS):
                return
