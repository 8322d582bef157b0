"""Words that third-party apps show in Crier's admin without a Simplified Chinese catalogue
of their own (django-axes' model names). Marked here so that ``makemessages`` keeps them in
Crier's catalogue (locale/), which Django consults before an app's own; never imported."""

from django.utils.translation import gettext_noop

THIRD_PARTY_MESSAGES = (
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
)
