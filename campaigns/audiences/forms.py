"""Admin forms for recipients and audiences: edit forms that check the service rules, and the
CSV upload forms. Forms only check input; ``campaigns.audiences.recipients`` and
``campaigns.audiences.services`` write."""

from __future__ import annotations

import contextlib
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.audiences.recipients import recipient_clean_row
from campaigns.audiences.rules import address_is_credential
from campaigns.audiences.services import audience_validate
from campaigns.models import Audience, Recipient
from providers.registry import PROVIDERS, kind_choices

TAG_SEPARATORS = re.compile(r"[,|;]")


def split_tags(text: str) -> list[str]:
    """Return the tags of a "vip, new" style text field."""
    return [tag.strip() for tag in TAG_SEPARATORS.split(text or "") if tag.strip()]


def _address_field(kind: str, label: str) -> forms.CharField:
    secret = address_is_credential(kind)
    return forms.CharField(
        label=format_lazy(gettext_lazy("{provider} address"), provider=label),
        required=False,
        max_length=1000,
        widget=forms.PasswordInput(render_value=False) if secret else forms.TextInput,
        help_text=gettext_lazy("Write-only: type a new one to replace it.") if secret else "",
    )


# One optional field per provider kind ("address_<kind>"), declared so the admin knows them.
AddressFields = type(
    "AddressFields",
    (forms.Form,),
    {f"address_{kind}": _address_field(kind, label) for kind, label in kind_choices()},
)


class RecipientForm(forms.ModelForm, AddressFields):
    """Edit one recipient. Tags as text; one address field per provider (blank keeps it)."""

    tags_text = forms.CharField(
        label=gettext_lazy("Tags"), required=False,
        help_text=gettext_lazy("Separated by commas, e.g. vip, new. Replaces the tags."),
    )
    remove_addresses = forms.MultipleChoiceField(
        label=gettext_lazy("Remove addresses"),
        required=False,
        choices=kind_choices(),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Recipient
        fields = ["external_id", "language"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            return
        # A view-only user's admin form has no editable fields at all (the admin makes every
        # field read-only), so each field is adjusted only where the form has it.
        fields = self.fields
        if "external_id" in fields:
            fields["external_id"].disabled = True
            fields["external_id"].help_text = _("Audiences refer to it, so it does not change.")
        if "tags_text" in fields:
            fields["tags_text"].initial = ", ".join(self.instance.tags or [])
        for kind in PROVIDERS:
            name = f"address_{kind}"
            if name in fields and not address_is_credential(kind):
                fields[name].initial = (self.instance.addresses or {}).get(kind, "")

    def address_changes(self) -> dict[str, str | None]:
        """Return {kind: new address or None to remove} from the cleaned form."""
        changes: dict[str, str | None] = {}
        for kind in PROVIDERS:
            value = (self.cleaned_data.get(f"address_{kind}") or "").strip()
            if value:
                changes[kind] = value
        for kind in self.cleaned_data.get("remove_addresses") or []:
            changes[kind] = None
        return changes

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self.cleaned_data["tags"] = split_tags(cleaned.get("tags_text", ""))
        row = {
            "external_id": cleaned.get("external_id") or self.instance.external_id or "",
            "language": cleaned.get("language"),
            "tags": self.cleaned_data["tags"],
            "addresses": self.address_changes(),
        }
        _clean, errors = recipient_clean_row(row)
        for error in errors:
            target = {"tags": "tags_text", "addresses": None}.get(error.field, error.field)
            self.add_error(target if target in self.fields else None, error.message)
        return self.cleaned_data


class AudienceForm(forms.ModelForm):
    """Edit an audience's name, kind, tags and segment; lists are uploaded separately."""

    tags_text = forms.CharField(
        label=gettext_lazy("Tags"),
        required=False,
        help_text=gettext_lazy(
            "For kind Tags: recipients with any of these (comma separated). At most 20 for Jiguang."
        ),
    )

    class Meta:
        model = Audience
        fields = ["name", "kind", "segment"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read-only (view-only) forms have none of these fields: adjust only those present.
        if "segment" in self.fields:
            self.fields["segment"].help_text = _("For kind Provider segment: exactly one segment id.")
        if self.instance.pk and "tags_text" in self.fields:
            self.fields["tags_text"].initial = ", ".join(self.instance.tags or [])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("kind"):
            return cleaned
        try:
            values = audience_validate(
                kind=cleaned["kind"],
                tags=split_tags(cleaned.get("tags_text", "")),
                segment=cleaned.get("segment", ""),
            )
        except ValidationError as exc:
            for field_name, messages in exc.message_dict.items():
                target = {"tags": "tags_text"}.get(field_name, field_name)
                for message in messages:
                    self.add_error(target if target in self.fields else None, message)
        else:
            self.cleaned_data.update(values)
        return self.cleaned_data


class CsvUploadForm(forms.Form):
    """A CSV file to preview, then import."""

    file = forms.FileField(label=gettext_lazy("CSV file"), required=False)
    token = forms.RegexField(regex=r"^[0-9a-f]{32}$", required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("file") and not cleaned.get("token"):
            raise ValidationError(_("choose a CSV file to upload"))
        return cleaned


class RecipientCsvUploadForm(CsvUploadForm):
    pass


class MemberCsvUploadForm(CsvUploadForm):
    LIST_CHOICES = [
        ("members", gettext_lazy("Member list (user ids to send to)")),
        ("suppressed", gettext_lazy("Suppression list (never send)")),
    ]

    target = forms.ChoiceField(label=gettext_lazy("Import into"), choices=LIST_CHOICES, initial="members")
    replace = forms.BooleanField(
        label=gettext_lazy("Replace the list"), required=False,
        help_text=gettext_lazy("The list becomes exactly the ids in the file."),
    )


# --- staged uploads: the file previewed is the file imported ------------------------------

STAGING_DIR = Path(tempfile.gettempdir()) / "crier-uploads"
STAGED_MAX_AGE_SECONDS = 24 * 3600
_SESSION_KEY = "crier_staged_uploads"


def stage_upload(request: HttpRequest, upload: UploadedFile, *, purpose: str) -> str:
    """Save ``upload`` for a later import by the same session; return its token.

    Files older than a day are swept on the way, so abandoned previews do not pile up.
    """
    STAGING_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    cutoff = time.time() - STAGED_MAX_AGE_SECONDS
    for old in STAGING_DIR.glob("*.csv"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()
    token = secrets.token_hex(16)
    with open(STAGING_DIR / f"{token}.csv", "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    request.session[_SESSION_KEY] = {**request.session.get(_SESSION_KEY, {}), token: purpose}
    return token


def staged_path(request: HttpRequest, token: str, *, purpose: str) -> Path:
    """Return the staged file of ``token``; raise ValidationError when this session did not stage it."""
    path = STAGING_DIR / f"{token}.csv"
    if request.session.get(_SESSION_KEY, {}).get(token) != purpose or not path.is_file():
        raise ValidationError(_("the previewed file is no longer available; upload it again"))
    return path


def discard_staged(request: HttpRequest, token: str) -> None:
    """Delete a staged file and forget its token."""
    with contextlib.suppress(OSError):
        (STAGING_DIR / f"{token}.csv").unlink()
    tokens = dict(request.session.get(_SESSION_KEY, {}))
    tokens.pop(token, None)
    request.session[_SESSION_KEY] = tokens
