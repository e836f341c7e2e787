from django.contrib import admin
from django.urls import path

from leads.views import health, unsubscribe

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    path("still-interested/<str:token>/", unsubscribe.still_interested, name="still-interested"),
]
