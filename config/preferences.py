"""A person's language, chosen once and kept (README, "Languages").

Three things choose the language of a page, the first that answers wins:

1. the signed-in user's saved preference (``UserPreference.language``, kept by
   ``notifications.languages``, which also renders notifications in it), copied into the
   session at login (``apply_preference_on_login``, a ``user_logged_in`` receiver) and when
   it is saved, and applied by ``UserLanguageMiddleware`` (after ``LocaleMiddleware``, so it
   overrides the browser's choice without a database query per request);
2. the language cookie that Django's ``set_language`` view writes (the header switcher,
   ``config/templates/admin/_language_switcher.html``); ``set_language`` here wraps Django's
   view so that a signed-in user's switch is saved as their preference too;
3. the browser's (or the API client's) ``Accept-Language`` (``LocaleMiddleware``).

The API authenticates with tokens, not sessions, so for it ``Accept-Language`` decides.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from notifications import languages

SESSION_KEY = "crier_language"


_supported = languages.supported


def remember(request: HttpRequest, language: str) -> None:
    """Save ``language`` ("" = the browser's) as the user's preference and for this session."""
    languages.remember(request.user, language)
    if language:
        request.session[SESSION_KEY] = language
    else:
        request.session.pop(SESSION_KEY, None)


@receiver(user_logged_in, dispatch_uid="crier-apply-language-preference")
def apply_preference_on_login(sender, request, user, **kwargs) -> None:
    """Copy the user's saved language into the new session (the login rotates the session)."""
    if request is None or not hasattr(request, "session"):
        return
    language = languages.saved(user)
    if _supported(language):
        request.session[SESSION_KEY] = language
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()


class UserLanguageMiddleware:
    """Apply the session's saved language; placed after LocaleMiddleware and authentication."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        language = _supported(session.get(SESSION_KEY)) if session is not None else None
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        # LocaleMiddleware's response step then names this language in Content-Language.
        return self.get_response(request)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language (cookie and redirect), and the user's preference when signed in."""
    response = django_set_language(request)
    language = _supported(request.POST.get("language"))
    if language and request.user.is_authenticated:
        remember(request, language)
    return response


class PreferenceForm(forms.Form):
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        required=False,
        choices=[("", gettext_lazy("The browser's language"))] + list(settings.LANGUAGES),
        help_text=gettext_lazy(
            "Crier's pages are shown in this language after you sign in, and your e-mail "
            "notifications are written in it."
        ),
    )


def my_preferences(request: HttpRequest) -> HttpResponse:
    """The "My preferences" admin page: the signed-in user's language."""
    current = languages.saved(request.user)
    form = PreferenceForm(request.POST or None, initial={"language": current or ""})
    if request.method == "POST" and form.is_valid():
        language = form.cleaned_data["language"]
        remember(request, language)
        translation.activate(language or translation.get_language_from_request(request))
        messages.success(request, _("Your preferences were saved."))
        response = redirect("crier-preferences")
        if not language:  # "the browser's language": forget an earlier switch too
            response.delete_cookie(settings.LANGUAGE_COOKIE_NAME, path=settings.LANGUAGE_COOKIE_PATH)
        return response
    context = {
        **admin.site.each_context(request),
        "title": _("My preferences"),
        "form": form,
    }
    return TemplateResponse(request, "admin/my_preferences.html", context)


my_preferences_view = admin.site.admin_view(my_preferences)
