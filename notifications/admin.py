"""Admin: chat webhooks (administrators), preferences (each user their own), and the
delivery status of every notification (operators, read-only)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.admin import StoredTextAdminMixin, in_words
from notifications.chat import PLATFORMS
from notifications.events import EventKind
from notifications.models import ChatWebhook, Notification, NotificationPreference
from providers import crypto

OPERATE_PERM = "campaigns.operate_dispatches"


class ChatWebhookForm(forms.ModelForm):
    """The URL and secret are write-only: never shown, an empty field keeps what is stored."""

    url = forms.CharField(
        label=_("Webhook URL"),
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "size": 80}),
        help_text=_(
            "Write-only. DingTalk …/robot/send?access_token=…, Feishu …/open-apis/bot/v2/hook/…, "
            "WeCom …/cgi-bin/webhook/send?key=…, Slack https://hooks.slack.com/services/…. "
            "Leave empty to keep the stored one."
        ),
    )
    secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Write-only. DingTalk (SEC…) and Feishu/Lark signature secrets; WeCom and Slack have none."
        ),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=EventKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event."),
    )

    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        initial=settings.LANGUAGE_CODE,
        help_text=_("The language of the messages this group receives."),
    )

    class Meta:
        model = ChatWebhook
        fields = ["name", "team", "kind", "language", "events", "enabled", "sandbox"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, sandbox = data.get("kind"), data.get("sandbox", False)
        stored = self.instance.get_credentials() if self.instance.credentials_encrypted else {}
        url = data.get("url") or stored.get("url", "")
        if not url:
            self.add_error("url", _("url is required: the platform's webhook address."))
        elif kind in PLATFORMS and (problem := PLATFORMS[kind].url_problem(url, sandbox=sandbox)):
            self.add_error("url", _("url: %(problem)s.") % {"problem": problem})
        if data.get("secret") and kind in PLATFORMS and not PLATFORMS[kind].signed:
            self.add_error(
                "secret",
                _("secret: %(platform)s webhooks are not signed; leave it empty.")
                % {"platform": PLATFORMS[kind].label},
            )
        return data

    def save(self, commit: bool = True) -> ChatWebhook:
        webhook = super().save(commit=False)
        webhook.set_credentials(
            {"url": self.cleaned_data.get("url", ""), "secret": self.cleaned_data.get("secret", "")}
        )
        if commit:
            webhook.save()
        return webhook


@admin.register(ChatWebhook)
class ChatWebhookAdmin(admin.ModelAdmin):
    form = ChatWebhookForm
    list_display = ("name", "team", "kind", "language", "enabled", "sandbox", "credentials_set")
    list_filter = ("kind", "enabled")

    @admin.display(description=_("credentials"))
    def credentials_set(self, webhook: ChatWebhook) -> str:
        try:
            stored = webhook.get_credentials()
        except crypto.CredentialsUnreadable:
            return _("unreadable: enter them again")
        names = [name for name in ("url", "secret") if stored.get(name)]
        return ", ".join(names) + " " + _("set") if names else _("none")


class PreferenceForm(forms.ModelForm):
    """Refuses a second choice for the same event and channel with a message, not a 500
    (the unique constraint stays the backstop); ``owner`` is the user when the form has no
    user field (everyone but superusers edits their own)."""

    owner = None

    class Meta:
        model = NotificationPreference
        fields = ["user", "kind", "channel", "enabled"]
        help_texts = {
            # notifications/languages.py decides it; My preferences (config/preferences.py) sets it.
            "channel": _(
                "E-mails are written in the language chosen on My preferences; without one, in "
                "the site's default language."
            ),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        user = data.get("user") or self.owner
        same = NotificationPreference.objects.filter(
            user=user, kind=data.get("kind"), channel=data.get("channel")
        ).exclude(pk=self.instance.pk)
        if user is not None and same.exists():
            self.add_error(
                "kind", _("kind: a preference for this event and channel exists already; change it.")
            )
        return data


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    """Each user sees and edits their own preferences; administrators everyone's."""

    form = PreferenceForm

    def get_form(self, request: HttpRequest, obj=None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if request.user.is_superuser:
            return form
        return type(form.__name__, (form,), {"owner": request.user})

    list_display = ("user", "kind", "channel", "enabled")
    list_filter = ("kind", "enabled")

    def get_queryset(self, request: HttpRequest):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def get_fields(self, request: HttpRequest, obj=None):
        fields = ["kind", "channel", "enabled"]
        return ["user", *fields] if request.user.is_superuser else fields

    def save_model(self, request: HttpRequest, obj: NotificationPreference, form, change: bool) -> None:
        if not request.user.is_superuser:
            obj.user = request.user
        super().save_model(request, obj, form, change)

    def _own(self, request: HttpRequest, obj=None) -> bool:
        return (
            request.user.is_active
            and request.user.is_staff
            and (obj is None or request.user.is_superuser or obj.user_id == request.user.pk)
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._own(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._own(request, obj)

    has_add_permission = has_module_permission

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._own(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._own(request, obj)


@admin.register(Notification)
class NotificationAdmin(StoredTextAdminMixin, admin.ModelAdmin):
    """Delivery status of every notification, for operators: read-only."""

    list_display = (
        "id",
        "kind",
        "channel",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error_words",
    )
    list_filter = ("status", "channel", "kind")
    list_select_related = ("user", "webhook")
    search_fields = ("idempotency_key",)
    readonly_fields = [*(f.name for f in Notification._meta.fields), "last_error_words"]
    # Stored in English by the worker (notifications/errors.py); a platform's words as said.
    stored_text = ("last_error",)
    last_error_words = in_words(Notification, "last_error")

    @admin.display(description=_("recipient"))
    def recipient(self, notification: Notification) -> str:
        return notification.recipient_label()

    def _operator(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff and request.user.has_perm(OPERATE_PERM)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._operator(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._operator(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
