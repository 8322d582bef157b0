"""Non-API pages of the campaigns app; the site root leads to the admin."""

from django.urls import path
from django.views.generic import RedirectView

from campaigns.sending.callbacks import provider_callback

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Provider status callbacks: authenticated by the provider's credentials, not a session.
    path("callbacks/<slug:kind>/<int:account_id>/", provider_callback, name="provider_callback"),
]
