"""Top-level URL routes: the admin, the language choice, the REST API under /api/v1/, its schema,
and the health probes."""

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health, preferences
from config.admin_site import favicon

urlpatterns = [
    # Languages (README, "Languages"): the user's preference page, the switcher's target
    # (Django's set_language, which also saves a signed-in user's choice), the JS catalogue.
    path("admin/preferences/", preferences.my_preferences_view, name="crier-preferences"),
    path("i18n/setlang/", preferences.set_language, name="set_language"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("metrics", include("config.metrics")),  # Prometheus, with a bearer token: docs/metrics.md
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # Health probes (config/health.py); no trailing slash, as probes are usually written.
    path("healthz", health.healthz, name="healthz"),
    path("healthz/dispatcher", health.dispatcher, name="healthz-dispatcher"),
    path("readyz", health.readyz, name="readyz"),
    path("favicon.ico", favicon, name="favicon"),
    path("", include("campaigns.urls")),
]
