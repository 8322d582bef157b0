"""The REST API v1: each app contributes its own routes from ``<app>/api_urls.py``."""

from django.urls import include, path

urlpatterns = [
    path("", include("providers.api_urls")),
    path("", include("templates_registry.api_urls")),
    path("", include("campaigns.api_urls")),
    path("", include("approvals.api_urls")),
]
