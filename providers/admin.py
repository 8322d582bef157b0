"""Admin for provider accounts: credentials are write-only.

The form has one field per credential of the account's kind (all kinds on the add
page, grouped, only the chosen kind's being used). A secret is never rendered back —
not from the database, not even the value just submitted when the form has an error —
each field says only whether a value is stored, and leaving it empty keeps the stored
value. ``credentials_encrypted`` is never shown. Adding, changing and deleting accounts
needs ``providers.manage_provider_accounts``; others with the view permission see the
settings and which credentials are set.

The base URL must be one of the provider's hosts unless the account is a sandbox one
(``ProviderAccount.clean``), changing it takes the credentials again, every save and
delete is an audit event, and the *Check* action repeats no text of the provider's
answer (docs/providers.md §7).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _

from providers import crypto
from providers.history import account_state, record_account_change
from providers.models import ProviderAccount
from providers.registry import label as kind_label
from providers.registry import provider_class, provider_classes
from providers.safe_json import SafeJSONField
from providers.services import (
    ACCOUNT_FIELDS,
    account_check,
    account_delete,
    credential_errors,
    moved_without_credentials,
    stored_credentials,
)


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value, not even one submitted with a form error."""

    def format_value(self, value: Any) -> None:
        return None


def _credential_field(name: str, *, multiline: bool) -> forms.CharField:
    widget = (
        WriteOnlyTextarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"})
        if multiline
        else forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
    )
    return forms.CharField(required=False, widget=widget, label=name.replace("_", " ").capitalize())


def credentials_summary(account: ProviderAccount) -> str:
    """Return which credentials are set, without any value."""
    stored = stored_credentials(account)
    if stored is None:
        return "unreadable with the configured CRIER_FIELD_KEYS: enter them again"
    names = account.credential_fields()
    required = provider_class(account.kind).required_credentials() if names else ()
    missing = [n for n in required if not stored.get(n)]
    shown = ", ".join(f"{n}: {'set' if stored.get(n) else 'not set'}" for n in names)
    return f"{'complete' if not missing else 'incomplete'} ({shown})"


class ProviderAccountForm(forms.ModelForm):
    """Account settings plus write-only credential fields (declared for every kind)."""

    # Real provider endpoints are HTTPS; the local emulators are typed with http://.
    base_url = forms.URLField(max_length=300, assume_scheme="https")

    class Meta:
        model = ProviderAccount
        fields = ACCOUNT_FIELDS
        # Lone surrogates, NUL and deep nesting are a form error (providers/safe_json.py).
        field_classes = {"settings": SafeJSONField}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored = stored_credentials(self.instance) if self.instance.pk else {}
        if self.instance.pk:
            # An account keeps its kind: another kind's credentials would not fit it.
            own = set(self.instance.credential_fields())
            for name in [n for n in self.credential_names() if n not in own]:
                del self.fields[name]
        if "base_url" in self.fields:
            kinds = [provider_class(self.instance.kind)] if self.instance.pk else provider_classes()
            self.fields["base_url"].help_text = " ".join(cls.base_url_help() for cls in kinds)
        optional = {name for cls in provider_classes() for name in cls.optional_credentials}
        for name in self.credential_names():
            if name not in self.fields:
                continue
            if self.stored and self.stored.get(name):
                help_text = "Set. Leave empty to keep the stored value."
            elif self.stored is None:
                help_text = "Stored value unreadable: enter it again."
            else:
                help_text = "Not set." + (" Optional." if name in optional else "")
            self.fields[name].help_text = help_text

    @staticmethod
    def credential_names() -> list[str]:
        return list(dict.fromkeys(name for cls in provider_classes() for name in cls.credential_fields))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = self.instance.kind if self.instance.pk else cleaned.get("kind")
        if not kind:
            return cleaned
        # Only the credential fields this form shows (a change page shows its kind's).
        given = {name: cleaned.get(name, "") for name in self.credential_names() if name in self.fields}
        for name, errors in credential_errors(kind=kind, values=given, stored=self.stored).items():
            for message in errors:
                self.add_error(name, message)
        if self.instance.pk:
            changes = {f: cleaned[f] for f in ("kind", "base_url") if f in cleaned}
            missing, rule = moved_without_credentials(
                account=self.instance, changes=changes, credentials=given
            )
            for name in missing:
                self.add_error(name, rule)
        return cleaned

    def given_credentials(self) -> list[str]:
        """Return the names of the credentials this form replaces (names only)."""
        own = self.instance.credential_fields()
        return [name for name in own if self.cleaned_data.get(name)]

    def save(self, commit: bool = True) -> ProviderAccount:
        account = super().save(commit=False)
        own = account.credential_fields()
        merged = dict(self.stored or {})
        merged.update({name: self.cleaned_data[name] for name in own if self.cleaned_data.get(name)})
        account.credentials_encrypted = crypto.encrypt_json(merged) if merged else ""
        if commit:
            account.save()
        return account


# Declared on the class (not added per instance) so the admin's form factory knows them.
_MULTILINE = {name for cls in provider_classes() for name in cls.multiline_credentials}
for _name in ProviderAccountForm.credential_names():
    ProviderAccountForm.base_fields[_name] = _credential_field(_name, multiline=_name in _MULTILINE)
    ProviderAccountForm.declared_fields[_name] = ProviderAccountForm.base_fields[_name]


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    list_display = ["name", "kind", "base_url", "sandbox", "app_id", "rate_limit", "enabled", "credentials"]
    list_filter = ["kind", "enabled", "sandbox"]
    search_fields = ["name", "app_id"]
    exclude = ["credentials_encrypted"]

    @admin.display(description="credentials")
    def credentials(self, obj: ProviderAccount) -> str:
        return credentials_summary(obj)

    actions = ["check_accounts"]

    def save_model(
        self, request: HttpRequest, obj: ProviderAccount, form: ProviderAccountForm, change: bool
    ) -> None:
        with transaction.atomic():
            # The row as stored (the form changed ``obj`` in memory only), for the audit event.
            stored = ProviderAccount.objects.select_for_update().filter(pk=obj.pk).first() if change else None
            before = account_state(stored) if stored is not None else None
            super().save_model(request, obj, form, change)
            record_account_change(
                account=obj, actor=request.user, before=before, credentials=form.given_credentials()
            )

    def delete_model(self, request: HttpRequest, obj: ProviderAccount) -> None:
        account_delete(account=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        with transaction.atomic():
            for account in queryset:
                account_delete(account=account, actor=request.user)

    @admin.action(
        description=_("Check the selected accounts (one harmless request each)"), permissions=["manage"]
    )
    def check_accounts(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        """Say for each account whether it works: our sentence, never the provider's text."""
        for account in queryset:
            ok, why = account_check(account=account)
            line = _("%(name)s: %(verdict)s - %(why)s") % {
                "name": account.name,
                "verdict": _("OK") if ok else _("FAILED"),
                "why": why,
            }
            self.message_user(request, line, messages.SUCCESS if ok else messages.ERROR)

    def get_readonly_fields(self, request: HttpRequest, obj: ProviderAccount | None = None) -> list[str]:
        return ["kind", "credentials"] if obj else ["credentials"]

    def get_fieldsets(self, request: HttpRequest, obj: ProviderAccount | None = None) -> list:
        fieldsets: list = [(None, {"fields": ACCOUNT_FIELDS})]
        if obj is None:
            for cls in provider_classes():
                fieldsets.append(
                    (
                        f"{cls.label} credentials",
                        {
                            "fields": list(cls.credential_fields),
                            "description": "Only for a kind chosen above.",
                        },
                    )
                )
            return fieldsets
        fieldsets.append(("Credentials", {"fields": ["credentials"]}))
        if self.has_change_permission(request, obj):
            fieldsets.append(
                (
                    f"Replace {kind_label(obj.kind)} credentials",
                    {
                        "fields": list(obj.credential_fields()),
                        "description": "Stored values are never shown. Fill in only what you replace.",
                    },
                )
            )
        return fieldsets

    def _may_manage(self, request: HttpRequest) -> bool:
        return request.user.has_perm("providers.manage_provider_accounts")

    def has_manage_permission(self, request: HttpRequest) -> bool:
        """Whether the *Check* action is offered: it sends requests as the account."""
        return self._may_manage(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and self._may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: ProviderAccount | None = None) -> bool:
        return super().has_change_permission(request, obj) and self._may_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj: ProviderAccount | None = None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_manage(request)
