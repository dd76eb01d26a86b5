"""Send queued receipts and donors' link emails once, or keep sending them (`--loop`) under
a process manager."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections
from django.utils import timezone

from donations.services.donors import donor_link_emails_send_due
from donations.services.receipts import receipt_send_due


class Command(BaseCommand):
    help = (
        "Send queued receipts and donors' link emails. Each is claimed before it is sent, so "
        "workers never overlap."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--loop", action="store_true", help="Keep running; stop cleanly on SIGTERM/SIGINT."
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=30.0,
            help="Seconds to wait between passes with --loop (default 30).",
        )
        parser.add_argument(
            "--limit", type=int, default=100, help="Receipts to send per pass (default 100)."
        )
        parser.add_argument(
            "--iterations",
            type=int,
            default=0,
            help="With --loop, stop after this many passes (0: run until stopped).",
        )

    def handle(self, *args, loop: bool, interval: float, limit: int, iterations: int, **options):
        stop = threading.Event()
        if not loop:
            self._send_pass(limit, stop)
            return
        previous = {
            signum: signal.signal(signum, lambda *_: stop.set())
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            passes = 0
            while not stop.is_set():
                # A long-running worker must not keep a connection the database has dropped
                # (or one older than CONN_MAX_AGE), as a request would not.
                close_old_connections()
                handled = self._send_pass(limit, stop)
                passes += 1
                if iterations and passes >= iterations:
                    break
                if handled < limit:  # a full pass may have left more due: go again at once
                    stop.wait(interval)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        self.stdout.write("Stopped.")

    def _send_pass(self, limit: int, stop: threading.Event) -> int:
        """Send up to `limit` receipts, one claim at a time, so a stop request waits for one."""
        sent = failed = 0
        while sent + failed < limit and not stop.is_set():
            report = receipt_send_due(now=timezone.now(), limit=1)
            for receipt in report.sent:
                self.stdout.write(f"sent {receipt.pk} for donation {receipt.donation_id}")
            for receipt in report.failed:
                self.stderr.write(
                    f"failed {receipt.pk} for donation {receipt.donation_id} "
                    f"(attempt {receipt.attempts}): {receipt.last_error}"
                )
            if not report.sent and not report.failed:
                break
            sent += len(report.sent)
            failed += len(report.failed)
        if sent or failed:
            self.stdout.write(f"{sent} sent, {failed} failed.")
        return sent + failed + self._send_link_emails(limit, stop)

    def _send_link_emails(self, limit: int, stop: threading.Event) -> int:
        """Send up to `limit` donors' link emails, one claim at a time."""
        handled = 0
        while handled < limit and not stop.is_set():
            report = donor_link_emails_send_due(now=timezone.now(), limit=1)
            for queued in report.failed:
                self.stderr.write(
                    f"failed donor link email {queued.pk} (attempt {queued.attempts})"
                )
            if not report.sent and not report.failed:
                break
            handled += len(report.sent) + len(report.failed)
        if handled:
            self.stdout.write(f"{handled} donor link emails handled.")
        return handled
