"""Crier's own face on Django's admin: the names it shows, set in one place.

``config.apps.ProjectConfig.ready`` calls :func:`brand_admin_site` on ``admin.site``; the
look (favicon, badges, buttons, dark mode) is ``config/templates/admin/base_site.html``
and ``config/static/crier/crier.css``, which build on the admin's own CSS variables so
that its light and dark themes both apply (no CDN asset: the Content-Security-Policy in
``config/settings.py`` serves styles from our own origin).
"""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _


def brand_admin_site(site: AdminSite) -> None:
    """Name the admin "Crier" in its header, its page titles and its index page."""
    # A product name, the same in every language: not a msgid (docs/i18n-glossary.md).
    site.site_header = "Crier"
    site.site_title = "Crier"
    site.index_title = _("Crier dashboard")


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Answer ``/favicon.ico`` (asked by browsers on pages without an icon link, such as the
    API's JSON and Swagger pages) with the admin's icon instead of a 404."""
    return HttpResponseRedirect(static("crier/favicon.svg"))
