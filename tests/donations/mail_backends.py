"""Fake mail servers for receipt tests: the outside world, configured via EMAIL_BACKEND."""

from __future__ import annotations

import smtplib
import threading
import time

from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class FlakyEmailBackend(LocmemBackend):
    """A server that drops the connection for the next `failures` messages, then accepts."""

    failures = 0

    def send_messages(self, messages):
        if FlakyEmailBackend.failures > 0:
            FlakyEmailBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


class CountingEmailBackend(LocmemBackend):
    """A slow, thread-safe server that records every recipient it is handed."""

    lock = threading.Lock()
    recipients: list[str] = []

    def send_messages(self, messages):
        # Hold each send a moment, so a second worker has time to race for the same receipt.
        time.sleep(0.01)
        with CountingEmailBackend.lock:
            for message in messages:
                CountingEmailBackend.recipients.extend(message.to)
        return len(messages)
