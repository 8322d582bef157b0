"""Stream an audience's recipients to the send engine, in chunks, with who was skipped and why.

The audience kinds are described in ``campaigns.audiences.services``. A provider whose
addresses are credentials (``Provider.address_is_credential``) addresses a user only
through a stored per-user address; every other provider falls back to the external id,
which must then match the provider's ``address_pattern`` where it has one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_noop

from campaigns.audiences.models import members_of
from campaigns.audiences.rules import (
    address_check_sql,
    address_has_rule,
    address_is_credential,
    address_matches,
)
from campaigns.models import Audience, AudienceKind, AudienceMember, Recipient, RecipientTag
from providers.fields import decrypt_address


class TargetRow:
    """One recipient to send to: who, at which provider address, in which language, and where
    the stream found it (the keyset id it pages by: planning resumes after it; not part of
    equality). A slotted class: made once per recipient, ten million times for a large list."""

    __slots__ = ("external_id", "address", "language", "position")

    def __init__(self, external_id: str, address: str, language: str, position: int = 0) -> None:
        self.external_id = external_id
        self.address = address
        self.language = language
        self.position = position

    def _key(self) -> tuple[str, str, str]:
        return (self.external_id, self.address, self.language)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TargetRow) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        where = f"position={self.position}"
        return f"TargetRow({self.external_id!r}, {self.address!r}, {self.language!r}, {where})"


class SkipReason(StrEnum):
    SUPPRESSED = "suppressed"
    UNKNOWN_RECIPIENT = "unknown recipient"
    OPTED_OUT_PROVIDER = "opted out of provider"
    OPTED_OUT_TEMPLATE = "opted out of template"
    NO_ADDRESS = "no address"
    INVALID_ADDRESS = "id not valid at provider"
    # Not the stream's: a recipient the planner reached after the occurrence's expiry, counted,
    # not planned (campaigns/sending/plan.py).
    EXPIRED = "occurrence expired"


# The reasons are stored and returned by the API as these English ids; pages translate them
# for people ({% translate reason %} on the review page). Listed so makemessages keeps them.
SKIP_REASON_WORDS = (
    gettext_noop("suppressed"),
    gettext_noop("unknown recipient"),
    gettext_noop("opted out of provider"),
    gettext_noop("opted out of template"),
    gettext_noop("no address"),
    gettext_noop("id not valid at provider"),
    gettext_noop("occurrence expired"),
)


def address_sql(column: str, kind: str) -> tuple[str, list]:
    """SQL for the stored address at provider ``kind`` in the JSON object ``column`` (text or NULL)."""
    if connection.vendor == "postgresql":
        return f"({column} ->> %s)", [kind]
    return f"json_extract({column}, %s)", [f'$."{kind}"']


def _listed_sql(column: str, value: str) -> tuple[str, list]:
    """SQL true when the JSON list ``column`` holds the string ``value`` (an opt-out). On
    PostgreSQL the one-element list is a constant: ``to_jsonb(%s)`` was evaluated per row,
    a fifth of the SQL planning step's reading (BENCHMARKS.md, "This round")."""
    if connection.vendor == "postgresql":
        return f"COALESCE({column} @> %s::jsonb, false)", [json.dumps([value])]
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = %s)", [value]


class AudienceStream:
    """The recipients of one audience for one provider and template, in chunks.

    Iterate ``chunks()`` (or the stream itself) once: it yields lists of ``chunk_size``
    TargetRows (the last may be shorter), reading the database a page at a time with
    keyset pagination — ``Recipient.id`` for ``all``/``tags``, ``AudienceMember.id`` for
    ``users`` — so memory stays flat in audience size. As it goes, ``skipped`` counts the
    recipients left out by ``SkipReason`` and ``targets`` those yielded; both are final
    once the iteration ends. For ``all`` on a provider whose addresses are credentials the
    recipients without that address are not part of the audience (filtered in SQL, not
    counted as skipped); in ``users`` and ``tags`` audiences they are skipped as
    ``no address``.

    With ``decrypt=False`` an address that is a credential (stored encrypted,
    providers/fields.py) is classified by its presence alone and not decrypted: the
    yielded TargetRows carry an empty address. For a caller that keeps no such address
    (planning: sending reads the current one from Recipient), decrypting 20,000 tokens
    was CPU taken from the sending threads (BENCHMARKS.md, "This round").
    """

    def __init__(
        self,
        audience: Audience,
        *,
        provider_kind: str,
        template_key: str,
        chunk_size: int = 1000,
        after: int = 0,
        log_skips: bool = False,
        decrypt: bool = True,
    ) -> None:
        if audience.kind == AudienceKind.SEGMENT:
            raise ValidationError(
                {
                    "kind": [
                        f"audience {audience.name!r} is a provider segment ({audience.segment!r}); it "
                        "cannot be resolved to recipients here: send the segment id to the provider"
                    ]
                }
            )
        if audience.kind not in AudienceKind.values:
            raise ValidationError(
                {"kind": [f"audience {audience.name!r} has unknown kind {audience.kind!r}"]}
            )
        if chunk_size < 1:
            raise ValueError(f"chunk_size {chunk_size} must be at least 1")
        self.audience = audience
        self.provider_kind = provider_kind
        self.template_key = template_key
        self.chunk_size = chunk_size
        self.skipped: Counter[str] = Counter()
        # With ``log_skips``, (position, reason) of each skipped recipient too, for a caller
        # that commits its progress at a position (campaigns.sending.plan) and drains it.
        self.skip_log: list[tuple[int, str]] | None = [] if log_skips else None
        # Start after this keyset position (a resumed plan); 0: from the beginning.
        self.after = after
        self.position = after
        self.targets = 0
        self._started = False
        self._has_suppressions: bool | None = None
        # Asked of the provider once per stream, not once per recipient.
        self._address_required = address_is_credential(provider_kind)
        self._decrypt = decrypt

    def __iter__(self) -> Iterator[list[TargetRow]]:
        return self.chunks()

    def chunks(self) -> Iterator[list[TargetRow]]:
        """Yield the targets in lists of ``chunk_size``; may be iterated only once."""
        if self._started:
            raise RuntimeError("an AudienceStream can be iterated only once; make a new one")
        self._started = True
        return self._chunks()

    def pages(self) -> Iterator[list[TargetRow]]:
        """Yield the targets of each database page (possibly none); ``position`` is then the
        keyset position of the page's last row. May be iterated only once."""
        if self._started:
            raise RuntimeError("an AudienceStream can be iterated only once; make a new one")
        self._started = True
        return self._pages()

    def _pages(self) -> Iterator[list[TargetRow]]:
        return self._member_pages() if self.audience.kind == AudienceKind.USERS else self._recipient_pages()

    def _chunks(self) -> Iterator[list[TargetRow]]:
        pending: list[TargetRow] = []
        for page in self._pages():
            pending.extend(page)
            while len(pending) >= self.chunk_size:
                chunk, pending = pending[: self.chunk_size], pending[self.chunk_size :]
                self.targets += len(chunk)
                yield chunk
        if pending:
            self.targets += len(pending)
            yield pending

    def _suppressed_among(self, external_ids: list[str]) -> set[str]:
        if self._has_suppressions is None:
            self._has_suppressions = members_of(self.audience, suppressed=True).exists()
        if not self._has_suppressions:
            return set()
        return set(
            members_of(self.audience, suppressed=True)
            .filter(external_id__in=external_ids)
            .values_list("external_id", flat=True)
        )

    def _target(
        self, external_id: str, row: tuple | None, suppressed: set[str], position: int = 0
    ) -> TargetRow | None:
        """Return the target for one id, or None after counting why it is skipped.

        ``row`` is the recipient's (language, stored address at this provider, opted out of
        the provider, opted out of the template) as the database computed them, or None
        when the id is no recipient of ours; ``position`` is where the stream found it.
        """
        kind = self.provider_kind
        reason = None
        address = ""
        language = ""
        if external_id in suppressed:
            reason = SkipReason.SUPPRESSED
        elif row is None:
            if self._address_required:
                reason = SkipReason.UNKNOWN_RECIPIENT
            else:
                address = external_id
        else:
            language, stored, opted_provider, opted_template = row
            present = bool(stored)
            if not self._address_required:
                address = stored or ""
            elif stored and self._decrypt:
                # Only addresses that are credentials are stored encrypted (providers/fields.py).
                address = decrypt_address(stored)
                present = bool(address)
            if opted_provider:
                reason = SkipReason.OPTED_OUT_PROVIDER
            elif opted_template:
                reason = SkipReason.OPTED_OUT_TEMPLATE
            elif not present:
                if self._address_required:
                    reason = SkipReason.NO_ADDRESS
                else:
                    address = external_id
        if reason is None and (address or not self._address_required) and not address_matches(kind, address):
            # Only the fallback to the external id can get here (stored addresses are
            # checked on import); one bad id would make the provider refuse a whole batch.
            reason = SkipReason.INVALID_ADDRESS
        if reason is not None:
            self.skipped[reason] += 1
            if self.skip_log is not None:
                self.skip_log.append((position, reason))
            return None
        return TargetRow(external_id, address, language or "", position)

    def _computed(self, table: str) -> list[tuple[str, list]]:
        """SQL (and parameters) of what the database computes per recipient of ``table`` (its
        quoted name or alias): stored address at this provider, opted out of the provider,
        opted out of the template. No JSON is decoded in Python."""
        recipient = Recipient._meta

        def col(name: str) -> str:
            return f"{table}.{connection.ops.quote_name(recipient.get_field(name).column)}"

        return [
            address_sql(col("addresses"), self.provider_kind),
            _listed_sql(col("opted_out_providers"), self.provider_kind),
            _listed_sql(col("opted_out_templates"), self.template_key),
        ]

    def _recipients(self) -> models.QuerySet:
        """The audience's recipients (``all``/``tags``) with what the database computes per
        recipient (``_computed``) as ``_address``, ``_opted_provider``, ``_opted_template``."""
        recipients = Recipient.objects.all()
        if self.audience.kind == AudienceKind.TAGS:
            recipients = recipients.filter(
                id__in=RecipientTag.objects.filter(tag__in=list(self.audience.tags or [])).values(
                    "recipient_id"
                )
            )
        elif self._address_required:
            recipients = recipients.filter(addresses__has_key=self.provider_kind)
        address, opted_provider, opted_template = self._computed(
            connection.ops.quote_name(Recipient._meta.db_table)
        )
        recipients = recipients.annotate(
            _address=RawSQL(*address, output_field=models.TextField()),
            _opted_provider=RawSQL(*opted_provider, output_field=models.BooleanField()),
            _opted_template=RawSQL(*opted_template, output_field=models.BooleanField()),
        )
        return recipients

    def _recipient_pages(self) -> Iterator[list[TargetRow]]:
        recipients = self._recipients()
        columns = ("id", "external_id", "language", "_address", "_opted_provider", "_opted_template")
        after, size = self.after, self.chunk_size
        while True:
            rows = list(recipients.filter(id__gt=after).order_by("id").values_list(*columns)[:size])
            if not rows:
                return
            after = self.position = rows[-1][0]
            suppressed = self._suppressed_among([row[1] for row in rows])
            page = [self._target(row[1], row[2:], suppressed, row[0]) for row in rows]
            yield [t for t in page if t is not None]

    def _member_page_sql(self) -> tuple[str, list]:
        """The SQL of one page of listed ids joined to their recipients, and the parameters of
        its computed columns (the caller adds: audience, False, after, page size). Its columns
        are named like ``_recipients()``'s, so ``sample_skips`` wraps either the same way."""
        member, recipient = AudienceMember._meta, Recipient._meta
        quote = connection.ops.quote_name

        def col(meta, name: str) -> str:
            return quote(meta.get_field(name).column)

        computed = self._computed("r")
        names = ("_address", "_opted_provider", "_opted_template")
        select = ", ".join(f"{sql} AS {name}" for (sql, _), name in zip(computed, names, strict=True))
        sql = (
            f"SELECT m.{col(member, 'id')} AS position, m.{col(member, 'external_id')} AS external_id, "
            f"r.{col(recipient, 'id')} AS recipient, r.{col(recipient, 'language')} AS language, {select} "
            f"FROM {quote(member.db_table)} m LEFT JOIN {quote(recipient.db_table)} r "
            f"ON r.{col(recipient, 'external_id')} = m.{col(member, 'external_id')} "
            f"WHERE m.{col(member, 'audience')} = %s AND m.{col(member, 'suppressed')} = %s "
            f"AND m.{col(member, 'id')} > %s ORDER BY m.{col(member, 'id')} LIMIT %s"
        )
        return sql, [p for _, params in computed for p in params]

    def classified_sql(self, limit: int, *, check_address: bool = False) -> tuple[str, list]:
        """SQL (and parameters) of the next ``limit`` rows after ``after``, keyset order, with
        columns ``position``, ``external_id``, ``language`` (not NULL), ``address`` (the one a
        target gets; a credential as stored, not decrypted) and ``reason`` (NULL: a target).

        The ONE place the skip rules are written in SQL, in ``_target``'s order, over the same
        computed columns and page SQL. With ``check_address`` (``sql_checks_address``) an
        address the provider refuses (``rules.address_check_sql``) is ``id not valid at
        provider``; without, the caller checks ``address_matches``. Used by the review page's
        skip sample and by planning on PostgreSQL (BENCHMARKS.md, "This round").
        """
        quote = connection.ops.quote_name
        member = AudienceMember._meta
        if self.audience.kind == AudienceKind.USERS:
            page, computed_params = self._member_page_sql()
            page_params = [*computed_params, self.audience.pk, False, self.after, limit]
            known, position = "page.recipient", "page.position"
        else:
            columns = ("id", "external_id", "language", "_address", "_opted_provider", "_opted_template")
            rows = self._recipients().filter(id__gt=self.after).order_by("id").values_list(*columns)[:limit]
            page, page_params = rows.query.sql_with_params()
            page_params = list(page_params)
            known, position = "page.id", "page.id"
        required = self._address_required
        # Where the id is the fallback address, an unknown or address-less recipient is no
        # skip by itself: its id is the address, still to be checked against the rule.
        unknown = f"WHEN {known} IS NULL THEN '{SkipReason.UNKNOWN_RECIPIENT}' " if required else ""
        empty = "page._address IS NULL OR page._address = ''"
        no_address = f"WHEN {empty} THEN '{SkipReason.NO_ADDRESS}' " if required else ""
        # The suppressed ids joined (unique per audience), not a subquery per row: PostgreSQL
        # priced that per row and compiled the query (JIT, 50 ms) for 10,000 rows.
        suppressed_join, suppressed_params = "", []
        if members_of(self.audience, suppressed=True).exists():
            audience, flag, listed_id = (
                quote(member.get_field(name).column) for name in ("audience", "suppressed", "external_id")
            )
            suppressed_join = (
                f" LEFT JOIN {quote(member.db_table)} s ON s.{audience} = %s"
                f" AND s.{flag} IN (%s) AND s.{listed_id} = page.external_id"
            )
            suppressed_params = [self.audience.pk, True]
        suppressed = f"s.{quote(member.pk.column)} IS NOT NULL" if suppressed_join else "1 = 0"
        address = "page._address" if required else "COALESCE(NULLIF(page._address, ''), page.external_id)"
        invalid, rule_params = "", []
        if check_address:
            valid, rule_params = address_check_sql(self.provider_kind, address) or ("", [])
            invalid = f"WHEN NOT {valid} THEN '{SkipReason.INVALID_ADDRESS}' "
        reason = (
            f"CASE WHEN {suppressed} THEN '{SkipReason.SUPPRESSED}' {unknown}"
            f"WHEN page._opted_provider THEN '{SkipReason.OPTED_OUT_PROVIDER}' "
            f"WHEN page._opted_template THEN '{SkipReason.OPTED_OUT_TEMPLATE}' "
            f"{no_address}{invalid}ELSE NULL END"
        )
        sql = (
            f"SELECT {position} AS position, page.external_id AS external_id, "
            f"COALESCE(page.language, '') AS language, {address} AS address, {reason} AS reason "
            f"FROM ({page}) page{suppressed_join}"
        )
        return sql, [*rule_params, *page_params, *suppressed_params]  # in the SQL's order

    def sample_skips(self, limit: int) -> tuple[Counter[str], int]:
        """Return why the first ``limit`` recipients after ``after`` would be skipped, by
        ``SkipReason``, and how many were read: ONE aggregate over ``classified_sql``, not
        streamed (the review page's expected skips, BENCHMARKS.md "This round"); addresses
        the SQL cannot check are checked by ``address_matches``, grouped. Use instead of
        iterating, not with it.
        """
        if self._started:
            raise RuntimeError("an AudienceStream can be iterated only once; make a new one")
        self._started = True
        required = self._address_required
        in_sql = sql_checks_address(self.provider_kind)
        page, params = self.classified_sql(limit, check_address=in_sql)
        # The address a target would get, grouped only where Python must check it.
        checked = address_has_rule(self.provider_kind) and not in_sql
        address = "address" if checked else "NULL"
        sql = (
            f"SELECT reason, CASE WHEN reason IS NULL THEN {address} END, COUNT(*) FROM ({page}) "
            "classified GROUP BY 1, 2"
        )
        groups = _serial_fetch(sql, params)
        read = 0
        for found, address, count in groups:
            read += count
            if found is None and address is not None:
                plain = decrypt_address(address) if required else address
                found = None if address_matches(self.provider_kind, plain) else SkipReason.INVALID_ADDRESS
            if found is not None:
                self.skipped[SkipReason(found)] += count
        return self.skipped, read

    def _member_pages(self) -> Iterator[list[TargetRow]]:
        """Page through the listed ids, each page joined to its recipients in one query.

        One ``LEFT JOIN`` on ``Recipient.external_id`` (unique, indexed) per page of
        ``chunk_size`` ids (keyset pagination on the member id), the database computing each
        recipient's address and opt-outs: decoding three JSON columns per recipient in
        Python was most of streaming a 1,000,000-id list (BENCHMARKS.md, "What limits").
        """
        sql, select_params = self._member_page_sql()
        target = self._target
        after = self.after
        while True:
            with connection.cursor() as cursor:
                cursor.execute(sql, [*select_params, self.audience.pk, False, after, self.chunk_size])
                listed = cursor.fetchall()
            if not listed:
                return
            after = self.position = listed[-1][0]
            suppressed = self._suppressed_among([row[1] for row in listed])
            # row[2] is the recipient's id: NULL when the listed id is no recipient of ours.
            page = [
                target(row[1], row[3:] if row[2] is not None else None, suppressed, row[0]) for row in listed
            ]
            yield [t for t in page if t is not None]


def sql_checks_address(provider_kind: str) -> bool:
    """Whether ``classified_sql`` can check addresses at ``provider_kind``: on PostgreSQL, not
    credentials (stored encrypted), a pattern ``address_check_sql`` translates."""
    if connection.vendor != "postgresql" or address_is_credential(provider_kind):
        return False
    return address_check_sql(provider_kind, "address") is not None


def _serial_fetch(sql: str, params: list) -> list[tuple]:
    """Run ``sql`` and fetch its rows; on PostgreSQL without parallel workers. For the
    10,000-row skip sample it planned two, and starting them cost more than they saved on
    two shared cores: 69-81 ms against 43-52 ms serial, in one run at load 5 (BENCHMARKS.md,
    "This round"). ``SET LOCAL`` ends with its transaction; inside a caller's, it is put back."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(sql, params)
            return cursor.fetchall()
        outer = connection.in_atomic_block
        with transaction.atomic():
            if outer:
                cursor.execute("SELECT current_setting('max_parallel_workers_per_gather')")
                (before,) = cursor.fetchone()
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            if outer:
                cursor.execute("SELECT set_config('max_parallel_workers_per_gather', %s, true)", [before])
        return rows


def iter_audience_targets(audience: Audience, **options) -> AudienceStream:
    """Return the stream of ``audience``'s targets; ``options`` are AudienceStream's keywords
    (``provider_kind``, ``template_key``, ``chunk_size``, ``after``, ``log_skips``, ``decrypt``),
    written once, there.

    Iterate it (or its ``chunks()``) for lists of TargetRow ordered by id; read its
    ``skipped`` Counter afterwards for who was left out and why (see AudienceStream;
    ``decrypt=False``: credential addresses classified by presence, not read).
    Raise ValidationError at once for a ``segment`` audience, which only the provider can
    resolve.
    """
    return AudienceStream(audience, **options)
