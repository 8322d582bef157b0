"""Top-level URL routes: the admin, the REST API under /api/v1/, its schema, and the health probes."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health
from config.admin_site import favicon

urlpatterns = [
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
