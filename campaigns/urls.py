from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_index, name="index"),
    path("c/<slug:slug>/", views.campaign_detail, name="detail"),
    path("c/<slug:slug>/givers/", views.campaign_givers, name="givers"),
    path("c/<slug:slug>/tally/", views.campaign_tally, name="tally"),
    path("c/<slug:slug>/m/<slug:member_slug>/", views.campaign_member, name="member"),
]
