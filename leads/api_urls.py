"""The JSON API, mounted at /api/v1/ (see leads/views/api.py)."""

from django.urls import path

from leads.views import api

app_name = "api"

urlpatterns = [
    path("inquiries", api.inquiries, name="inquiries"),
    path("openings", api.openings, name="openings"),
]
