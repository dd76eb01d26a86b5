from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_index, name="index"),
    path("c/<slug:slug>/", views.campaign_detail, name="detail"),
    path("c/<slug:slug>/givers/", views.campaign_givers, name="givers"),
    path("c/<slug:slug>/tally/", views.campaign_tally, name="tally"),
    path("c/<slug:slug>/m/<slug:member_slug>/", views.campaign_member, name="member"),
    path("c/<slug:slug>/updates/", views.campaign_updates_page, name="updates"),
    path("c/<slug:slug>/flyer/", views.campaign_flyer, name="flyer"),
    path(
        "c/<slug:slug>/m/<slug:member_slug>/flyer/",
        views.campaign_member_flyer,
        name="member-flyer",
    ),
    path("c/<slug:slug>/share/<str:network>/", views.campaign_share, name="share"),
    path("c/<slug:slug>/share-picture.png", views.campaign_share_picture, name="share-picture"),
]
