"""Recipients, their tags, and audiences (tags, a segment, a list of users, or everyone)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from providers.fields import ProviderAddressesField


class Recipient(models.Model):
    """An end user known to us, with per-provider addresses and opt-outs learned from providers."""

    external_id = models.CharField(max_length=64, unique=True)
    language = models.CharField(max_length=35, default="en")
    tags = models.JSONField(default=list, blank=True)
    # kind -> address at that provider (Alipay+ accessToken, Jiguang userid, …); addresses
    # that are credentials (the Alipay+ token) are encrypted at rest (providers/fields.py).
    addresses = ProviderAddressesField(default=dict, blank=True)
    # Provider kinds the user refused everything from, and template keys they refused.
    opted_out_providers = models.JSONField(default=list, blank=True)
    opted_out_templates = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        ordering = ["external_id"]

    def __str__(self) -> str:
        return self.external_id


class RecipientTag(models.Model):
    """One tag of one recipient: a row per tag so tag audiences query by index.

    ``address_kinds`` is the provider kinds the recipient has an address at, as
    ``,alipayplus,jiguang,`` (empty: none), written only by database triggers
    (``campaigns.audiences.address_kinds``): counting a tag's recipients that hold an
    Alipay+ token reads this index alone instead of every recipient's addresses.
    """

    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="tag_rows")
    tag = models.CharField(max_length=40)
    address_kinds = models.TextField(default="", db_default="", blank=True, editable=False)

    class Meta:
        verbose_name = _("recipient tag")
        verbose_name_plural = _("recipient tags")
        constraints = [
            models.UniqueConstraint(fields=["recipient", "tag"], name="recipient_tag_unique")
        ]
        indexes = [
            models.Index(fields=["tag", "recipient"], name="recipient_tag_idx"),
            models.Index(fields=["tag", "address_kinds", "recipient"], name="recipient_tag_kinds_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id}:{self.tag}"


class AudienceKind(models.TextChoices):
    ALL = "all", _("Everyone")
    USERS = "users", _("List of user ids")
    TAGS = "tags", _("Tags")
    SEGMENT = "segment", _("Provider segment")


class Audience(models.Model):
    """Who a campaign goes to, less a suppression list."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=AudienceKind.choices)
    tags = models.JSONField(default=list, blank=True)
    segment = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("audience")
        verbose_name_plural = _("audiences")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AudienceMember(models.Model):
    """A user id listed in an audience, or suppressed from it (never sent to)."""

    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="members")
    external_id = models.CharField(max_length=64)
    suppressed = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("audience member")
        verbose_name_plural = _("audience members")
        constraints = [
            models.UniqueConstraint(
                fields=["audience", "suppressed", "external_id"], name="audience_member_unique"
            )
        ]
        # The send engine pages through a list by id (keyset pagination).
        indexes = [models.Index(fields=["audience", "suppressed", "id"], name="audience_member_scan_idx")]

    def __str__(self) -> str:
        return f"{self.audience_id}:{'-' if self.suppressed else '+'}{self.external_id}"


def members_of(audience: Audience | int, *, suppressed: bool) -> models.QuerySet:
    """Return an audience's member list (or, with ``suppressed``, its suppression list).

    ``suppressed__in=[flag]``, not ``suppressed=flag``: Django writes the latter as a bare
    ``"suppressed"`` / ``NOT "suppressed"``, which SQLite cannot match to the indexes that
    start (audience, suppressed, …), so finding the suppressed ids of a 1,000,000-id list
    walked the whole list (150 ms, on every review page and reach count: issue 21).
    """
    return AudienceMember.objects.filter(audience=audience, suppressed__in=[suppressed])


class AudienceDigest(models.Model):
    """The count and order-independent digest of an audience's listed ids (not suppressed).

    Written only by database triggers on ``AudienceMember`` (``campaigns.audiences.digest``,
    migration 0012), in the transaction of every member write; read by the approval snapshot.
    """

    audience = models.OneToOneField(
        Audience, on_delete=models.CASCADE, primary_key=True, related_name="member_digest"
    )
    count = models.BigIntegerField(default=0)
    lane0 = models.BigIntegerField(default=0)
    lane1 = models.BigIntegerField(default=0)
    lane2 = models.BigIntegerField(default=0)
    lane3 = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("audience digest")
        verbose_name_plural = _("audience digests")

    def __str__(self) -> str:
        return f"{self.audience_id}: {self.count}"
