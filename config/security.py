"""Security events worth a log line: failed sign-ins (refusals, 403, are logged by
config/middleware.py). Logger `solidaria.security`, one line each, key=value."""

from __future__ import annotations

import logging

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from config.clients import client_ip

logger = logging.getLogger("solidaria.security")


@receiver(user_login_failed, dispatch_uid="solidaria-sign-in-failed")
def sign_in_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    logger.warning(
        "sign-in failed username=%r path=%s ip=%s",
        credentials.get("username", ""),
        request.path if request is not None else "-",
        client_ip(request) if request is not None else "-",
    )
