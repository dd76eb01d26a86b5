from django.conf.urls.i18n import i18n_patterns
from django.urls import URLResolver, path
from django.urls.resolvers import RoutePattern

from donations.views import cash, donors, online, payments, reporting

app_name = "donations"

# online: the donate form, Checkout's return, the demo checkout. Like the campaign pages they
# answer in English here and in Spanish under /es/ (CONTRACTS.md, "Languages").
donate_flow = [
    path("c/<slug:slug>/donate/", online.donate, name="donate"),
    path("donations/thanks/", online.thanks, name="thanks"),
    path("donations/demo-checkout/<uuid:donation_id>/", online.demo_checkout, name="demo-checkout"),
]

urlpatterns = [
    # One namespace holds the prefixed donate flow and the unprefixed pages below, so the
    # language prefix sits inside it, one level down: include() refuses i18n_patterns at the
    # top of an included URLconf because Django's own LocaleMiddleware looks for them in the
    # root URLconf only; config.middleware.LanguageMiddleware asks the URLconf instead.
    URLResolver(
        RoutePattern("", is_endpoint=False),
        i18n_patterns(*donate_flow, prefix_default_language=False),
    ),
    # payments: what Stripe reports
    path("stripe/webhook/", payments.stripe_webhook, name="stripe-webhook"),
    # cash: volunteers
    path("volunteer/", cash.volunteer_home_page, name="volunteer-home"),
    path("volunteer/<slug:slug>/cash/", cash.cash_new, name="cash-new"),
    path("volunteer/<slug:slug>/cash/batch/", cash.cash_batch, name="cash-batch"),
    path("volunteer/entries/<uuid:donation_id>/void/", cash.cash_void, name="cash-void"),
    # donors: self-service through a signed link
    path("donations/manage/", donors.manage_request, name="manage-request"),
    path("donations/manage/<str:token>/", donors.manage, name="manage"),
    path(
        "donations/manage/<str:token>/statement/<int:year>/",
        donors.manage_statement,
        name="manage-statement",
    ),
    # reporting: organizers
    path("organize/<slug:slug>/export.csv", reporting.campaign_export_csv, name="export-csv"),
    path("organize/<slug:slug>/report/", reporting.campaign_report_page, name="report"),
]
