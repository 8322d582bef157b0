"""Non-API pages of the campaigns app; the site root leads to the admin."""

from django.urls import path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
