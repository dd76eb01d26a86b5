from django.urls import path

from donations import organize_views, views, volunteer_views

app_name = "donations"

# Online giving (donate form, Checkout, thank-you page, demo checkout, Stripe webhook).
online_urlpatterns: list = [
    path("c/<slug:slug>/donate/", views.donate, name="donate"),
    path("donations/thanks/", views.thanks, name="thanks"),
    path("donations/demo-checkout/<uuid:donation_id>/", views.demo_checkout, name="demo-checkout"),
    path("stripe/webhook/", views.stripe_webhook, name="stripe-webhook"),
]

# Volunteers and offline cash; the organizers' export and report.
volunteer_urlpatterns: list = [
    path("volunteer/", volunteer_views.volunteer_home_page, name="volunteer-home"),
    path("volunteer/<slug:slug>/cash/", volunteer_views.cash_new, name="cash-new"),
    path("volunteer/<slug:slug>/cash/batch/", volunteer_views.cash_batch, name="cash-batch"),
    path("volunteer/entries/<uuid:donation_id>/void/", volunteer_views.cash_void, name="cash-void"),
    path("organize/<slug:slug>/export.csv", organize_views.campaign_export_csv, name="export-csv"),
    path("organize/<slug:slug>/report/", organize_views.campaign_report_page, name="report"),
]

urlpatterns = [*online_urlpatterns, *volunteer_urlpatterns]
