from django.urls import path

from donations.views import cash, donors, online, payments, reporting

app_name = "donations"

urlpatterns = [
    # online: the donate form, Checkout's return, the demo checkout
    path("c/<slug:slug>/donate/", online.donate, name="donate"),
    path("donations/thanks/", online.thanks, name="thanks"),
    path("donations/demo-checkout/<uuid:donation_id>/", online.demo_checkout, name="demo-checkout"),
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
