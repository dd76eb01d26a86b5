"""Signing in, resetting a password and two-factor sign-in, for volunteers and organizers.

Django's auth views with three additions: the sign-in forms (the site's and the admin's) ask
for an authenticator code from people who turned two-factor sign-in on (config/twofactor.py);
password-reset emails are limited per address and per client; and the two-factor page.
Repeated failed sign-ins are refused by django-axes (settings: AXES_*), which counts a wrong
authenticator code as a failure too.
"""

from __future__ import annotations

import hashlib
import logging

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView, PasswordResetView
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from config import twofactor
from config.clients import client_ip, client_key
from config.ratelimit import count_in_window

logger = logging.getLogger("solidaria.security")

RESET_WINDOW_SECONDS = 60 * 60
RESET_LIMITED = _(
    "Too many password reset requests from your connection. Wait an hour, then try again."
)
TWO_FACTOR_ON = _("Two-factor sign-in is on. Signing in now also asks for a code from your app.")
TWO_FACTOR_VERIFIED = _("Code accepted.")
TWO_FACTOR_OFF = _("Two-factor sign-in is off.")


def _token_field() -> forms.CharField:
    return forms.CharField(
        label=_("Code from your authenticator app"),
        help_text=_("Only if you turned on two-factor sign-in."),
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class TwoFactorSignIn(forms.Form):
    """Asks people who turned two-factor sign-in on for a current code from their app."""

    otp_token = _token_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # AuthenticationForm sets the username's max_length after the field is built, so
        # nothing checks it: an over-long name would reach django-axes, whose record of the
        # failure cannot hold it (a database error on PostgreSQL). No account has such a name.
        username = self.fields.get("username")
        if username is not None and username.max_length:
            username.validators.append(MaxLengthValidator(username.max_length))

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and twofactor.totp_device(user) is not None:
            device = twofactor.totp_check(user=user, token=cleaned.get("otp_token") or "")
            if device is None:
                # Counted like a wrong password: django-axes and the security log see it.
                user_login_failed.send(
                    sender=type(self),
                    credentials={"username": cleaned.get("username")},
                    request=self.request,
                )
                raise ValidationError(twofactor.TOKEN_INVALID, code="otp_token")
            user.otp_device = device  # django-otp marks the session verified at login
        return cleaned


class SignInForm(TwoFactorSignIn, AuthenticationForm):
    pass


class AdminSignInForm(TwoFactorSignIn, AdminAuthenticationForm):
    pass


class SignInView(LoginView):
    authentication_form = SignInForm


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """django-axes' answer to a sign-in refused for too many failures (AXES_LOCKOUT_CALLABLE)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)


def _reset_key(kind: str, value: str) -> str:
    return f"password-reset-{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def password_reset_refusal(*, email: str, ip: str, now) -> str | None:
    """Count a reset request; "client" or "address" when one is over its hourly limit."""
    by_client = count_in_window(
        key=_reset_key("client", client_key(ip)), seconds=RESET_WINDOW_SECONDS, now=now
    )
    if by_client > settings.PASSWORD_RESET_LIMIT_PER_CLIENT:
        return "client"
    by_address = count_in_window(
        key=_reset_key("address", email.strip().lower()), seconds=RESET_WINDOW_SECONDS, now=now
    )
    if by_address > settings.PASSWORD_RESET_LIMIT_PER_ADDRESS:
        return "address"
    return None


class LimitedPasswordResetView(PasswordResetView):
    """Django's reset view, sending at most so many emails per address and per client.

    Over the client's limit the page says so (429). Over an address's limit it answers as if
    the email went, so the page reveals nothing, and no email is sent.
    """

    def form_valid(self, form):
        ip = client_ip(self.request)
        refusal = password_reset_refusal(
            email=form.cleaned_data["email"], ip=ip, now=timezone.now()
        )
        if refusal is None:
            return super().form_valid(form)
        logger.warning("password reset refused limit=%s ip=%s", refusal, ip)
        if refusal == "address":
            return redirect(self.get_success_url())
        context = {"message": RESET_LIMITED}
        return render(self.request, "registration/password_reset_limited.html", context, status=429)


class TokenForm(forms.Form):
    otp_token = _token_field()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["otp_token"].required = True
        self.fields["otp_token"].help_text = ""


TOKEN_ACTIONS = {
    "confirm": (lambda request, token: twofactor.totp_confirm(request=request, token=token)),
    "verify": (lambda request, token: twofactor.totp_verify(request=request, token=token)),
    "remove": (lambda request, token: twofactor.totp_remove(user=request.user, token=token)),
}
DONE_MESSAGES = {"confirm": TWO_FACTOR_ON, "verify": TWO_FACTOR_VERIFIED, "remove": TWO_FACTOR_OFF}


def _qr_data_uri(text: str) -> str:
    return segno.make(text, error="m", micro=False).svg_data_uri(scale=4, border=4)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Turn two-factor sign-in on (start, then confirm with a code), pass it, or turn it off."""
    action = request.POST.get("action", "")
    if action == "start":
        twofactor.totp_start(user=request.user)
        return redirect("two-factor")
    form = TokenForm(request.POST if action in TOKEN_ACTIONS else None)
    if form.is_bound and form.is_valid():
        try:
            TOKEN_ACTIONS[action](request, form.cleaned_data["otp_token"])
        except ValidationError as error:
            form.add_error("otp_token", error)
        else:
            messages.success(request, DONE_MESSAGES[action])
            return redirect("two-factor")
    pending = twofactor.totp_pending(request.user)
    context = {
        "form": form,
        "device": twofactor.totp_device(request.user),
        "verified": request.user.is_verified(),
        "required": twofactor.two_factor_required(request.user),
        "pending": pending,
        "qr_code": _qr_data_uri(pending.config_url) if pending else "",
        "secret": twofactor.totp_secret(pending) if pending else "",
    }
    return render(request, "registration/two_factor.html", context)
