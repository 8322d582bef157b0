"""Admin pages for recipients and audiences (registered in ``campaigns.admin``).

Both have a CSV upload page: choose a file, see a preview of its first rows and every
refused row (a dry run of the whole file, nothing written), then import the very file
previewed and see what happened. Audiences show their member and suppression counts in
the list (one annotated query) and their size on the change page only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.audiences.forms import (
    AudienceForm,
    MemberCsvUploadForm,
    RecipientCsvUploadForm,
    RecipientForm,
    discard_staged,
    stage_upload,
    staged_path,
)
from campaigns.audiences.parsing import MalformedRow, parse_csv, parse_member_lines
from campaigns.audiences.recipients import (
    ImportReport,
    recipient_create,
    recipient_update,
    recipients_bulk_upsert,
)
from campaigns.audiences.rules import credential_address_kinds, masked_addresses
from campaigns.audiences.services import (
    audience_create,
    audience_import_members,
    audience_size,
    audience_update,
)
from campaigns.models import Audience, AudienceMember, Recipient, RecipientTag
from providers.registry import PROVIDERS
from providers.registry import label as provider_label

PREVIEW_ROWS = 10
SHOWN_ERRORS = 200


def _run_upload(
    request: HttpRequest,
    form: Any,
    *,
    purpose: str,
    preview: Callable[[IO[bytes]], list[dict[str, Any]]],
    run: Callable[[IO[bytes], bool], ImportReport],
) -> dict[str, Any]:
    """Preview (dry run) or import the uploaded or staged file; return template context."""
    token = form.cleaned_data.get("token") or stage_upload(
        request, form.cleaned_data["file"], purpose=purpose
    )
    importing = "_import" in request.POST
    try:
        staged = staged_path(request, token, purpose=purpose)
        if importing:
            with open(staged, "rb") as stream:
                report = run(stream, False)
            discard_staged(request, token)
            return {"report": report, "imported": True}
        with open(staged, "rb") as stream:
            report = run(stream, True)
        with open(staged, "rb") as stream:
            rows = _with_problems(preview(stream), report)
    except ValidationError as exc:
        discard_staged(request, token)
        form.add_error(None, exc.messages)
        return {}
    return {"report": report, "preview_rows": rows, "token": token}


def _with_problems(rows: list[dict[str, Any]], report: ImportReport) -> list[dict[str, Any]]:
    """Give each preview row the errors and warnings the dry run reported for its row number,
    so the preview and the report say the same (one path: the importer's)."""
    if not rows:
        return rows
    last = max(item["number"] for item in rows)
    errors: dict[int, list[str]] = {}
    warnings: dict[int, list[str]] = {}
    for found, into in ((report.errors, errors), (report.warnings, warnings)):
        for problem in found:
            if problem.row <= last:
                into.setdefault(problem.row, []).append(problem.message)
    for item in rows:
        item["errors"] = errors.get(item["number"], [])
        item["warnings"] = warnings.get(item["number"], [])
    return rows


def _preview_item(item: Any, count: int, cells: Callable[[Any], list[str]]) -> dict[str, Any]:
    """Return one preview row: the cells of a parsed record, or the raw text of a refused one."""
    source = getattr(item, "source", None)
    shown: dict[str, Any] = {
        "number": source.row if source else count,
        "lines": (source.first_line, source.last_line)
        if source and source.last_line > source.first_line
        else None,
    }
    if isinstance(item, MalformedRow):
        shown["raw"] = source.raw if source else ""
    else:
        shown["cells"] = cells(item.value)
    return shown


def _report_context(context: dict[str, Any]) -> dict[str, Any]:
    report = context.get("report")
    if report is not None:
        context["shown_errors"] = report.errors[:SHOWN_ERRORS]
        context["hidden_errors"] = report.error_count - len(context["shown_errors"])
        context["shown_warnings"] = report.warnings[:SHOWN_ERRORS]
        context["hidden_warnings"] = report.warning_count - len(context["shown_warnings"])
    return context


class TagFilter(admin.SimpleListFilter):
    title = "tag"
    parameter_name = "tag"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        tags = (
            RecipientTag.objects.values("tag")
            .annotate(n=Count("id"))
            .order_by("-n", "tag")
            .values_list("tag", "n")[:30]
        )
        return [(tag, f"{tag} ({n})") for tag, n in tags]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(
                id__in=RecipientTag.objects.filter(tag=self.value()).values("recipient_id")
            )
        return queryset


class RecipientAdminBase(admin.ModelAdmin):
    """Recipients: edited through the recipient services, imported from CSV."""

    form = RecipientForm
    list_display = ["external_id", "language", "tag_list", "reachable_on", "opted_out", "updated_at"]
    list_filter = [TagFilter, "language"]
    search_fields = ["=external_id"]
    readonly_fields = [
        "address_list",
        "opted_out_providers",
        "opted_out_templates",
        "created_at",
        "updated_at",
    ]
    change_list_template = "admin/campaigns/recipient/change_list.html"

    def get_fieldsets(self, request: HttpRequest, obj: Recipient | None = None) -> list:
        if obj and not self.has_change_permission(request, obj):
            # View-only staff see every field read-only, so the form's write-only inputs
            # (tags as text, one address field per provider) give way to what they show.
            return [
                (None, {"fields": ["external_id", "language", "tag_list"]}),
                ("Addresses", {"fields": ["address_list"]}),
                ("Learned from providers", {"fields": ["opted_out_providers", "opted_out_templates"]}),
                ("History", {"fields": ["created_at", "updated_at"]}),
            ]
        address_fields = [f"address_{kind}" for kind in PROVIDERS]
        fieldsets = [
            (None, {"fields": ["external_id", "language", "tags_text"]}),
            (
                "Addresses",
                {
                    "fields": (
                        [*address_fields, "remove_addresses", "address_list"] if obj else address_fields
                    )
                },
            ),
        ]
        if obj:
            fieldsets.append(
                ("Learned from providers", {"fields": ["opted_out_providers", "opted_out_templates"]})
            )
            fieldsets.append(("History", {"fields": ["created_at", "updated_at"]}))
        return fieldsets

    @admin.display(description=gettext_lazy("tags"))
    def tag_list(self, obj: Recipient) -> str:
        return ", ".join(obj.tags or [])

    @admin.display(description=gettext_lazy("reachable on"))
    def reachable_on(self, obj: Recipient) -> str:
        return ", ".join(sorted(obj.addresses or {}))

    @admin.display(description=gettext_lazy("opted out of"))
    def opted_out(self, obj: Recipient) -> str:
        return ", ".join(
            [*(obj.opted_out_providers or []), *(f"template {t}" for t in obj.opted_out_templates or [])]
        )

    @admin.display(description=gettext_lazy("stored addresses"))
    def address_list(self, obj: Recipient) -> str:
        shown = masked_addresses(obj.addresses)
        if not shown:
            return "—"
        return format_html_join(mark_safe("<br>"), "{}: {}", sorted(shown.items()))

    def save_model(self, request: HttpRequest, obj: Recipient, form: RecipientForm, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = recipient_update(
                recipient=obj,
                language=data.get("language"),
                tags=data["tags"],
                addresses=form.address_changes(),
                actor=request.user,
            )
        else:
            saved = recipient_create(
                external_id=data["external_id"],
                language=data.get("language") or "en",
                tags=data["tags"],
                addresses=form.address_changes(),
                actor=request.user,
            )
        obj.pk = saved.pk
        obj.language, obj.tags, obj.addresses = saved.language, saved.tags, saved.addresses

    def get_urls(self) -> list[URLPattern]:
        upload = path(
            "upload/", self.admin_site.admin_view(self.upload_view), name="campaigns_recipient_upload"
        )
        return [upload, *super().get_urls()]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """Preview, then import, a CSV of recipients."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        context: dict[str, Any] = {}
        if request.method == "POST":
            form = RecipientCsvUploadForm(request.POST, request.FILES)
            if form.is_valid():
                context = _run_upload(
                    request,
                    form,
                    purpose="recipients",
                    preview=self._preview,
                    run=lambda stream, dry_run: recipients_bulk_upsert(
                        rows=parse_csv(stream), actor=request.user, dry_run=dry_run
                    ),
                )
                if context.get("imported"):
                    report = context["report"]
                    self.message_user(
                        request,
                        _(
                            "Imported recipients. Created: %(created)s; updated: %(updated)s; "
                            "rows refused: %(invalid)s; rows to check: %(warnings)s."
                        )
                        % {
                            "created": report.created,
                            "updated": report.updated,
                            "invalid": report.invalid,
                            "warnings": report.warning_count,
                        },
                        messages.WARNING if report.invalid or report.warning_count else messages.SUCCESS,
                    )
        else:
            form = RecipientCsvUploadForm()
        context.update(
            self.admin_site.each_context(request),
            opts=self.model._meta,
            title=_("Upload recipients"),
            form=form,
            provider_kinds=list(PROVIDERS),
            preview_columns=["external_id", "language", "tags", "addresses"],
        )
        return TemplateResponse(request, "admin/campaigns/recipient/upload.html", _report_context(context))

    @staticmethod
    def _preview(stream: IO[bytes]) -> list[dict[str, Any]]:
        def cells(row: dict[str, Any]) -> list[str]:
            addresses = masked_addresses(row.get("addresses"))
            return [
                row.get("external_id", ""),
                row.get("language", _("(kept)")),
                ", ".join(row["tags"]) if "tags" in row else _("(kept)"),
                "; ".join(f"{kind}: {value}" for kind, value in sorted(addresses.items())) or _("(kept)"),
            ]

        rows = []
        for count, item in enumerate(parse_csv(stream), start=1):
            rows.append(_preview_item(item, count, cells))
            if count >= PREVIEW_ROWS:
                break
        return rows


class AudienceAdminBase(admin.ModelAdmin):
    """Audiences: counts in the list, size on the change page, member lists uploaded as CSV."""

    form = AudienceForm
    list_display = ["name", "kind", "tag_list", "member_count", "suppressed_count", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    readonly_fields = ["member_count", "suppressed_count", "size", "member_preview"]
    change_form_template = "admin/campaigns/audience/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                members_listed=Count("members", filter=Q(members__suppressed=False)),
                members_suppressed=Count("members", filter=Q(members__suppressed=True)),
            )
        )

    def get_fieldsets(self, request: HttpRequest, obj: Audience | None = None) -> list:
        # View-only staff see the tags themselves, not the form's text input for them.
        tags = "tags_text" if obj is None or self.has_change_permission(request, obj) else "tag_list"
        fieldsets = [(None, {"fields": ["name", "kind", tags, "segment"]})]
        if obj:
            fieldsets.append(
                ("Lists and size", {"fields": ["member_count", "suppressed_count", "size", "member_preview"]})
            )
        return fieldsets

    @admin.display(description=gettext_lazy("tags"))
    def tag_list(self, obj: Audience) -> str:
        return ", ".join(obj.tags or [])

    @admin.display(description=gettext_lazy("listed ids"), ordering="members_listed")
    def member_count(self, obj: Audience) -> int:
        return getattr(obj, "members_listed", 0)

    @admin.display(description=gettext_lazy("suppressed ids"), ordering="members_suppressed")
    def suppressed_count(self, obj: Audience) -> int:
        return getattr(obj, "members_suppressed", 0)

    @admin.display(description=gettext_lazy("size"))
    def size(self, obj: Audience) -> str:
        if obj.pk is None:
            return "—"
        lines = []
        here = audience_size(obj)
        lines.append(
            ("Recipients", "known only to the provider" if here is None else f"{here} (after suppression)")
        )
        for kind in credential_address_kinds():
            try:
                count = audience_size(obj, provider_kind=kind)
            except (ImportError, KeyError):  # the provider module is not installed
                continue
            label = provider_label(kind)
            lines.append(
                (f"On {label}", "known only to the provider" if count is None else f"{count} with an address")
            )
        return format_html_join(mark_safe("<br>"), "{}: {}", lines)

    @admin.display(description=gettext_lazy("first listed ids"))
    def member_preview(self, obj: Audience) -> str:
        if obj.pk is None:
            return "—"
        parts = []
        for suppressed, label in ((False, "Members"), (True, "Suppressed")):
            ids = list(
                AudienceMember.objects.filter(audience=obj, suppressed=suppressed)
                .order_by("id")
                .values_list("external_id", flat=True)[:20]
            )
            parts.append((label, ", ".join(ids) or "none"))
        return format_html_join(mark_safe("<br>"), "{}: {}", parts)

    def save_model(self, request: HttpRequest, obj: Audience, form: AudienceForm, change: bool) -> None:
        data = form.cleaned_data
        values = {"kind": data["kind"], "tags": data.get("tags", []), "segment": data.get("segment", "")}
        if change:
            saved = audience_update(audience=obj, name=data["name"], **values, actor=request.user)
        else:
            saved = audience_create(name=data["name"], **values, actor=request.user)
        obj.pk = saved.pk
        obj.name, obj.kind, obj.tags, obj.segment = saved.name, saved.kind, saved.tags, saved.segment

    def get_urls(self) -> list[URLPattern]:
        upload = path(
            "<path:object_id>/upload/",
            self.admin_site.admin_view(self.upload_view),
            name="campaigns_audience_upload",
        )
        return [upload, *super().get_urls()]

    def upload_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Preview, then import, a CSV of user ids into the member or suppression list."""
        audience = self.get_object(request, unquote(object_id))
        if audience is None:
            raise Http404(f"no audience with id {object_id!r}")
        member_perms = (
            "campaigns.add_audiencemember",
            "campaigns.change_audiencemember",
            "campaigns.delete_audiencemember",
        )
        if not (self.has_change_permission(request, audience) and request.user.has_perms(member_perms)):
            raise PermissionDenied
        context: dict[str, Any] = {}
        if request.method == "POST":
            form = MemberCsvUploadForm(request.POST, request.FILES)
            if form.is_valid():
                suppressed = form.cleaned_data["target"] == "suppressed"
                replace = form.cleaned_data["replace"]

                def run(stream: IO[bytes], dry_run: bool) -> ImportReport:
                    return audience_import_members(
                        audience=audience,
                        external_ids=parse_member_lines(stream),
                        actor=request.user,
                        suppressed=suppressed,
                        replace=replace,
                        dry_run=dry_run,
                    )

                context = _run_upload(
                    request, form, purpose=f"audience-{audience.pk}", preview=self._preview, run=run
                )
                if context.get("imported"):
                    report = context["report"]
                    values = {
                        "audience": audience.name,
                        "created": report.created,
                        "updated": report.updated,
                        "removed": report.removed,
                        "invalid": report.invalid,
                        "warnings": report.warning_count,
                    }
                    if suppressed:
                        text = _(
                            "Imported into the suppression list of %(audience)s. Added: %(created)s; "
                            "already listed: %(updated)s; removed: %(removed)s; rows refused: "
                            "%(invalid)s; rows to check: %(warnings)s."
                        )
                    else:
                        text = _(
                            "Imported into the member list of %(audience)s. Added: %(created)s; "
                            "already listed: %(updated)s; removed: %(removed)s; rows refused: "
                            "%(invalid)s; rows to check: %(warnings)s."
                        )
                    self.message_user(
                        request,
                        text % values,
                        messages.WARNING if report.invalid or report.warning_count else messages.SUCCESS,
                    )
        else:
            form = MemberCsvUploadForm()
        context.update(
            self.admin_site.each_context(request),
            opts=self.model._meta,
            original=audience,
            title=_("Upload user ids for %(audience)s") % {"audience": audience.name},
            form=form,
            preview_columns=["external_id"],
            created_label=_("Newly listed"),
            updated_label=_("Already listed"),
            removed_label=_("Dropped from the list (replace)"),
        )
        return TemplateResponse(request, "admin/campaigns/audience/upload.html", _report_context(context))

    @staticmethod
    def _preview(stream: IO[bytes]) -> list[dict[str, Any]]:
        rows = []
        for count, item in enumerate(parse_member_lines(stream), start=1):
            rows.append(_preview_item(item, count, lambda value: [value]))
            if count >= PREVIEW_ROWS:
                break
        return rows
