"""The admin site: Django's, with what its index page shows decided in donations/permissions.py.

INSTALLED_APPS names `donations.apps.SolidariaAdminConfig` in place of django.contrib.admin,
so `admin.site` is a `SolidariaAdminSite`.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from donations import permissions


class SolidariaAdminSite(admin.AdminSite):
    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        """The index, with the payment health link for those who may open it."""
        flags = {"may_see_payment_health": permissions.may_see_payment_health(request.user)}
        return super().index(request, {**flags, **(extra_context or {})})
