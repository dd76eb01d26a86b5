"""Two-factor sign-in with an authenticator app (TOTP, through django-otp): rules and writes.

Anyone signed in may turn it on at /accounts/two-factor/, in two steps: `totp_start` makes an
unconfirmed device whose secret is shown once (QR code and text), and `totp_confirm` confirms
it with a first code from the app. From then on signing in, on the site and in the admin,
asks for a current code as well (config/accounts.py). With the setting
TWO_FACTOR_REQUIRED_FOR_SUPERUSERS a superuser must use it: until their session has passed
a code they only reach the two-factor page (config/middleware.py), and they cannot turn it
off. Codes are checked by django-otp, which refuses a code used before and slows down
repeated wrong codes; the sign-in form also counts a wrong code as a failed sign-in.
"""

from __future__ import annotations

import base64

import django_otp
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

TOKEN_INVALID = _(
    "That code is not right, or it was already used. Enter the current code from your "
    "authenticator app."
)
NOTHING_TO_CONFIRM = _("Start again: there is no authenticator app waiting to be confirmed.")
REQUIRED_CANNOT_TURN_OFF = _(
    "Two-factor sign-in is required for superusers on this site, so it stays on."
)
DEVICE_NAME = "Authenticator app"


def two_factor_required(user) -> bool:
    return bool(settings.TWO_FACTOR_REQUIRED_FOR_SUPERUSERS and user.is_superuser)


def two_factor_missing(user) -> bool:
    """A signed-in user who must use two-factor sign-in but whose session has not."""
    is_verified = getattr(user, "is_verified", None)
    return two_factor_required(user) and not (is_verified is not None and is_verified())


def totp_device(user) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if they turned two-factor sign-in on."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def totp_pending(user) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=False).first()


def totp_secret(device: TOTPDevice) -> str:
    """The secret as people type it into an app: base32, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_start(*, user) -> TOTPDevice:
    """A fresh unconfirmed device for `user` (any earlier unconfirmed one is dropped)."""
    with transaction.atomic():
        TOTPDevice.objects.devices_for_user(user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def _verified(user, device: TOTPDevice, token: str) -> bool:
    token = "".join(token.split())
    return bool(token) and django_otp.verify_token(user, device.persistent_id, token) is not None


def totp_confirm(*, request: HttpRequest, token: str) -> TOTPDevice:
    """Confirm the pending device with a code from it; this session counts as verified.

    Raises ValidationError when there is no pending device or the code is wrong.
    """
    user = request.user
    device = totp_pending(user)
    if device is None:
        raise ValidationError(NOTHING_TO_CONFIRM, code="nothing_pending")
    if not _verified(user, device, token):
        raise ValidationError(TOKEN_INVALID, code="token")
    with transaction.atomic():
        TOTPDevice.objects.devices_for_user(user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    django_otp.login(request, device)
    return device


def totp_verify(*, request: HttpRequest, token: str) -> TOTPDevice:
    """A signed-in session passes a code from the user's app. Raises ValidationError."""
    device = totp_device(request.user)
    if device is None or not _verified(request.user, device, token):
        raise ValidationError(TOKEN_INVALID, code="token")
    django_otp.login(request, device)
    return device


def totp_check(*, user, token: str) -> TOTPDevice | None:
    """For signing in: the user's device if `token` is a current code from it, else None."""
    device = totp_device(user)
    if device is None or not _verified(user, device, token):
        return None
    return device


def totp_remove(*, user, token: str) -> None:
    """Turn two-factor sign-in off, proven with a current code. Raises ValidationError."""
    if two_factor_required(user):
        raise ValidationError(REQUIRED_CANNOT_TURN_OFF, code="required")
    device = totp_device(user)
    if device is None or not _verified(user, device, token):
        raise ValidationError(TOKEN_INVALID, code="token")
    TOTPDevice.objects.devices_for_user(user).delete()
