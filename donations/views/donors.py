"""Donor self-service pages: ask for a link, then see and change your own gifts."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from config.clients import client_ip, client_key
from donations import throttle
from donations.donor_links import DonorLinkError, donor_link_email, link_days
from donations.forms.donors import DonorGiftForm, DonorMonthlyForm, LinkRequestForm
from donations.selectors.donors import (
    donor_gift,
    donor_gifts,
    donor_monthly_gift,
    donor_statement,
    statement_year_range,
    statement_years,
)
from donations.services.donors import (
    donation_receipt_again,
    donation_update_by_donor,
    donor_link_queue,
    monthly_gift_stop_by_donor,
    monthly_gift_update_by_donor,
)
from donations.stripe_gateway import GatewayError

# Link requests per address and per client an hour: enough for a person, useless to a bot
# that would use the page to send mail to strangers.
LINKS_PER_ADDRESS = 3
LINKS_PER_CLIENT = 10
HOUR = 60 * 60
STOPPED = gettext_lazy(
    "Your monthly gift is stopped: nothing more will be charged. A confirmation is on its way "
    "to your email."
)
STOP_UNAVAILABLE = gettext_lazy(
    "The payment service did not answer, so your monthly gift is not stopped yet. Try again "
    "in a few minutes."
)


def _link_allowed(request: HttpRequest, email: str) -> bool:
    now = timezone.now()
    for key, limit in (
        (f"donor-link-address:{email.strip().lower()}", LINKS_PER_ADDRESS),
        (f"donor-link-client:{client_key(client_ip(request))}", LINKS_PER_CLIENT),
    ):
        if throttle.count_in_window(key=key, seconds=HOUR, now=now) > limit:
            return False
    return True


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def manage_request(request: HttpRequest) -> HttpResponse:
    """Type your email, get a fresh link. The answer never says whether the address gave."""
    form = LinkRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        if _link_allowed(request, email):
            donor_link_queue(email=email, language=translation.get_language() or "en")
        return render(request, "donations/manage/sent.html", {"days": link_days()})
    return render(request, "donations/manage/request.html", {"form": form})


def _link_owner(request: HttpRequest, token: str) -> str | HttpResponse:
    try:
        return donor_link_email(token=token)
    except DonorLinkError as error:
        context = {"expired": error.expired, "form": LinkRequestForm()}
        return render(request, "donations/manage/invalid.html", context, status=403)


def _form_errors(form) -> str:
    return " ".join(error for errors in form.errors.values() for error in errors)


def _monthly_change(request: HttpRequest, email: str) -> None:
    """Stop a monthly gift, or change its public side."""
    try:
        gift = donor_monthly_gift(email=email, gift_id=uuid.UUID(request.POST.get("monthly", "")))
    except ValueError:
        gift = None
    if gift is None:
        raise Http404("Not one of your monthly gifts.")
    if request.POST.get("action") == "stop":
        try:
            monthly_gift_stop_by_donor(gift=gift, email=email)
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        except GatewayError:
            messages.error(request, STOP_UNAVAILABLE)
        else:
            messages.success(request, STOPPED)
        return
    form = DonorMonthlyForm(request.POST, instance=gift, prefix=f"monthly-{gift.pk}")
    if form.is_valid():
        monthly_gift_update_by_donor(gift=gift, email=email, values=form.cleaned_data)
        messages.success(request, _("Saved. The campaign page shows it now."))
    else:
        messages.error(request, _form_errors(form))


def _gift_change(request: HttpRequest, email: str) -> None:
    if request.POST.get("monthly"):
        _monthly_change(request, email)
        return
    try:
        gift = donor_gift(email=email, donation_id=uuid.UUID(request.POST.get("gift", "")))
    except ValueError:
        gift = None
    if gift is None:
        raise Http404("Not one of your gifts.")
    if request.POST.get("action") == "receipt":
        try:
            donation_receipt_again(donation=gift, email=email)
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(request, _("Your receipt is on its way again."))
        return
    form = DonorGiftForm(request.POST, instance=gift, prefix=str(gift.pk))
    if form.is_valid():
        donation_update_by_donor(donation=gift, email=email, values=form.cleaned_data)
        messages.success(request, _("Saved. The campaign page shows it now."))
    else:
        messages.error(request, _form_errors(form))


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def manage(request: HttpRequest, token: str) -> HttpResponse:
    owner = _link_owner(request, token)
    if isinstance(owner, HttpResponse):
        return owner
    if request.method == "POST":
        _gift_change(request, owner)
        return redirect("donations:manage", token=token)
    groups = donor_gifts(email=owner)
    for group in groups:
        for gift in group.gifts:
            gift.form = DonorGiftForm(instance=gift, prefix=str(gift.pk))
        for monthly in group.monthly:
            monthly.gift.form = DonorMonthlyForm(
                instance=monthly.gift, prefix=f"monthly-{monthly.gift.pk}"
            )
    context = {"groups": groups, "token": token, "years": statement_years(email=owner)}
    return render(request, "donations/manage/gifts.html", context)


@require_safe
@never_cache
def manage_statement(request: HttpRequest, token: str, year: int) -> HttpResponse:
    owner = _link_owner(request, token)
    if isinstance(owner, HttpResponse):
        return owner
    if year not in statement_year_range(email=owner):  # also a year no date can hold
        raise Http404("No statement for that year.")
    statement = donor_statement(email=owner, year=year)
    return render(
        request, "donations/manage/statement.html", {"statement": statement, "email": owner}
    )
