from django.urls import path

app_name = "donations"

urlpatterns: list = []
