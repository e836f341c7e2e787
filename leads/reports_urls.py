"""URLs of the admin reports, mounted at /admin/reports/ (before the admin's own URLs)."""

from django.contrib import admin
from django.urls import path

from leads.views import reports

app_name = "reports"

urlpatterns = [
    path("", admin.site.admin_view(reports.index), name="index"),
    path("<slug:name>/", admin.site.admin_view(reports.report), name="report"),
]
