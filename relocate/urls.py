from django.contrib import admin
from django.urls import include, path

from leads.views import health, unsubscribe

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("leads.api_urls")),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    path("still-interested/<str:token>/", unsubscribe.still_interested, name="still-interested"),
]
