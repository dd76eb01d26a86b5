from django.urls import path  # noqa: F401  (used as each area adds its routes)

app_name = "donations"

# Online giving (donate form, Checkout, thank-you page, demo checkout, Stripe webhook).
online_urlpatterns: list = []

# Volunteers and offline cash.
volunteer_urlpatterns: list = []

urlpatterns = [*online_urlpatterns, *volunteer_urlpatterns]
