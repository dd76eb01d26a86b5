"""The volunteers' pages: their campaigns, the cash form, the tally sheet and voiding.

Every page needs a signed-in user assigned to the campaign (superusers may do everything).
Volunteers see only their own entries: never donors' emails nor online gifts.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from campaigns.models import Campaign
from donations import permissions
from donations.forms.cash import BatchTokenForm, CashForm, CashRowFormSet, VoidForm
from donations.models import Donation
from donations.selectors.cash import volunteer_home
from donations.services.cash import (
    NOT_ASSIGNED_ERROR,
    CashBatchError,
    cash_batch_convert,
    donation_record_cash,
    donation_record_cash_batch,
    donation_void,
)


def _recording_campaign(request: HttpRequest, slug: str) -> Campaign:
    campaign = get_object_or_404(Campaign.objects.public(), slug=slug)
    if not permissions.may_record_cash(user=request.user, campaign=campaign):
        raise PermissionDenied(NOT_ASSIGNED_ERROR)
    return campaign


def _saved_entry(request: HttpRequest, campaign: Campaign) -> Donation | None:
    """The entry just saved (`?saved=<id>`), if it is this volunteer's own."""
    try:
        entry_id = uuid.UUID(request.GET.get("saved", ""))
    except ValueError:
        return None
    return (
        permissions.own_cash_entries(request.user)
        .filter(pk=entry_id, campaign=campaign)
        .select_related("team_member__campaign")
        .first()
    )


def _next_initial(campaign: Campaign, saved: Donation | None) -> dict:
    """ "Add another" keeps the currency, date and location of the entry just saved."""
    if saved is None:
        return {"currency": campaign.currency, "received_on": timezone.localdate()}
    return {
        "currency": saved.currency,
        "received_on": timezone.localdate(saved.received_at),
        "location": saved.location,
    }


@require_safe
@login_required
def volunteer_home_page(request: HttpRequest) -> HttpResponse:
    home = volunteer_home(user=request.user, now=timezone.now())
    return render(request, "donations/volunteer/home.html", {"home": home})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def cash_new(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _recording_campaign(request, slug)
    members = list(campaign.team_members.on_team())
    saved = None
    if request.method == "POST":
        form = CashForm(request.POST, campaign=campaign, members=members)
        if form.is_valid():
            try:
                saved = donation_record_cash(
                    campaign=campaign,
                    entered_by=request.user,
                    gift=form.gift(),
                    form_token=form.cleaned_data["form_token"],
                    another_gift=form.cleaned_data["another_gift"],
                )
            except ValidationError as error:
                if getattr(error, "code", None) == "possible_twin":
                    form.ask_another_gift(error)
                else:
                    form.add_error(None, error)
            else:
                url = reverse("donations:cash-new", kwargs={"slug": slug})
                return redirect(f"{url}?saved={saved.pk}")
    else:
        saved = _saved_entry(request, campaign)
        form = CashForm(campaign=campaign, members=members, initial=_next_initial(campaign, saved))
    context = {"campaign": campaign, "form": form, "saved": saved}
    return render(request, "donations/volunteer/cash_new.html", context)


def _show_row_errors(rows, error: CashBatchError) -> None:
    for index, row_error in error.errors.items():
        if getattr(row_error, "code", None) == "possible_twin":
            rows.forms[index].ask_another_gift(row_error)
        else:
            rows.forms[index].add_error(None, row_error)


def _check_readable_rows(request: HttpRequest, campaign: Campaign, rows) -> None:
    """While some rows did not parse, ask the service about those that did."""
    readable = {
        index: row for index, row in enumerate(rows.forms) if row.has_changed() and not row.errors
    }
    try:
        cash_batch_convert(
            campaign=campaign,
            gifts={index: row.gift() for index, row in readable.items()},
            entered_by=request.user,
            other_gift_rows=frozenset(
                index for index, row in readable.items() if row.cleaned_data["another_gift"]
            ),
        )
    except CashBatchError as error:
        _show_row_errors(rows, error)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def cash_batch(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _recording_campaign(request, slug)
    row_kwargs = {
        "campaign": campaign,
        "members": list(campaign.team_members.on_team()),
        "initial": _next_initial(campaign, None),
    }
    data = request.POST if request.method == "POST" else None
    token_form = BatchTokenForm(data)
    rows = CashRowFormSet(data, form_kwargs=row_kwargs)
    if data is not None and not rows.is_valid():
        _check_readable_rows(request, campaign, rows)  # every row's errors in one pass
    if data is not None and token_form.is_valid() and rows.is_valid():
        filled = {index: row for index, row in enumerate(rows.forms) if row.has_changed()}
        try:
            saved = donation_record_cash_batch(
                campaign=campaign,
                entered_by=request.user,
                gifts={index: row.gift() for index, row in filled.items()},
                batch_token=token_form.cleaned_data["batch_token"],
                other_gift_rows=frozenset(
                    index for index, row in filled.items() if row.cleaned_data["another_gift"]
                ),
            )
        except CashBatchError as error:
            _show_row_errors(rows, error)
        except ValidationError as error:
            token_form.add_error(None, error)
        else:
            count = len(saved)
            messages.success(
                request,
                ngettext("%(count)d entry saved.", "%(count)d entries saved.", count)
                % {"count": count},
            )
            return redirect("donations:volunteer-home")
    context = {"campaign": campaign, "token_form": token_form, "rows": rows}
    return render(request, "donations/volunteer/cash_batch.html", context)


@require_POST
@login_required
def cash_void(request: HttpRequest, donation_id: uuid.UUID) -> HttpResponse:
    donation = get_object_or_404(permissions.own_cash_entries(request.user), pk=donation_id)
    form = VoidForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors["reason"])
        donation_void(donation=donation, by=request.user, reason=form.cleaned_data["reason"])
    except (ValidationError, PermissionDenied) as error:
        text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        messages.error(request, text)
    else:
        messages.success(request, _("The entry was voided."))
    return redirect("donations:volunteer-home")
