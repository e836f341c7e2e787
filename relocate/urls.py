from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from leads.api import api
from leads.views import brand, csp, health, unsubscribe

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("csp-report/", csp.csp_report, name="csp_report"),
    # The strings of static/js in the page's language (locale/*/LC_MESSAGES/djangojs.po).
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/reports/", include("leads.reports_urls")),
    path("admin/retention/", include("leads.admin.retention")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    path("still-interested/<str:token>/", unsubscribe.still_interested, name="still-interested"),
    path("my-data/", unsubscribe.my_data_request, name="my-data-request"),
    path("my-data/<str:token>/", unsubscribe.my_data, name="my-data"),
    # The employer's colour for the public pages, a stylesheet: the CSP allows no inline style.
    path("apply/<slug:slug>/brand.css", brand.brand_css, name="brand_css"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("leads.urls")),
]
