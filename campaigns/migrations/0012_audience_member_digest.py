"""The membership digest of a users audience, kept by triggers (campaigns/audiences/digest.py).

Backfilled from the existing rows; the triggers then keep it on every write.
"""

import django.db.models.deletion
from django.db import migrations, models


# The member triggers of campaigns.audiences.digest (read its docstring): every write of
# campaigns_audiencemember changes campaigns_audiencedigest in the same transaction. The
# arithmetic is frozen here: sha256 of the id's UTF-8 bytes, four big-endian 64-bit words,
# each masked to 62 bits, summed lane-wise modulo 2**62, with the count of listed ids.
MASK = (1 << 62) - 1

POSTGRESQL = f"""
CREATE FUNCTION crier_audience_digest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE campaigns_audiencedigest AS d
        SET count = d.count - r.n,
            lane0 = (d.lane0 - r.l0) & {MASK}, lane1 = (d.lane1 - r.l1) & {MASK},
            lane2 = (d.lane2 - r.l2) & {MASK}, lane3 = (d.lane3 - r.l3) & {MASK}
        FROM (
            SELECT audience_id, count(*) AS n,
                   mod(sum(w0), {MASK + 1})::bigint AS l0, mod(sum(w1), {MASK + 1})::bigint AS l1,
                   mod(sum(w2), {MASK + 1})::bigint AS l2, mod(sum(w3), {MASK + 1})::bigint AS l3
            FROM (
                SELECT audience_id,
                       ('x' || encode(substring(h FROM 1 FOR 8), 'hex'))::bit(64)::bigint & {MASK} AS w0,
                       ('x' || encode(substring(h FROM 9 FOR 8), 'hex'))::bit(64)::bigint & {MASK} AS w1,
                       ('x' || encode(substring(h FROM 17 FOR 8), 'hex'))::bit(64)::bigint & {MASK} AS w2,
                       ('x' || encode(substring(h FROM 25 FOR 8), 'hex'))::bit(64)::bigint & {MASK} AS w3
                FROM (SELECT audience_id, sha256(convert_to(external_id, 'UTF8')) AS h
                      FROM crier_removed WHERE NOT suppressed) AS hashed
            ) AS words
            GROUP BY audience_id
        ) AS r
        WHERE d.audience_id = r.audience_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO campaigns_audiencedigest AS d (audience_id, count, lane0, lane1, lane2, lane3)
        SELECT audience_id, count(*),
               mod(sum(w0), {MASK + 1})::bigint, mod(sum(w1), {MASK + 1})::bigint,
               mod(sum(w2), {MASK + 1})::bigint, mod(sum(w3), {MASK + 1})::bigint
        FROM (
            SELECT audience_id,
                   ('x' || encode(substring(h FROM 1 FOR 8), 'hex'))::bit(64)::bigint & {MASK} AS w0,
                   ('x' || encode(substring(h FROM 9 FOR 8), 'hex'))::bit(64)::bigint & {MASK} AS w1,
                   ('x' || encode(substring(h FROM 17 FOR 8), 'hex'))::bit(64)::bigint & {MASK} AS w2,
                   ('x' || encode(substring(h FROM 25 FOR 8), 'hex'))::bit(64)::bigint & {MASK} AS w3
            FROM (SELECT audience_id, sha256(convert_to(external_id, 'UTF8')) AS h
                  FROM crier_added WHERE NOT suppressed) AS hashed
        ) AS words
        GROUP BY audience_id
        ON CONFLICT (audience_id) DO UPDATE
        SET count = d.count + EXCLUDED.count,
            lane0 = (d.lane0 + EXCLUDED.lane0) & {MASK}, lane1 = (d.lane1 + EXCLUDED.lane1) & {MASK},
            lane2 = (d.lane2 + EXCLUDED.lane2) & {MASK}, lane3 = (d.lane3 + EXCLUDED.lane3) & {MASK};
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER crier_audience_digest_insert AFTER INSERT ON campaigns_audiencemember
    REFERENCING NEW TABLE AS crier_added FOR EACH STATEMENT EXECUTE FUNCTION crier_audience_digest();
CREATE TRIGGER crier_audience_digest_delete AFTER DELETE ON campaigns_audiencemember
    REFERENCING OLD TABLE AS crier_removed FOR EACH STATEMENT EXECUTE FUNCTION crier_audience_digest();
CREATE TRIGGER crier_audience_digest_update AFTER UPDATE ON campaigns_audiencemember
    REFERENCING OLD TABLE AS crier_removed NEW TABLE AS crier_added
    FOR EACH STATEMENT EXECUTE FUNCTION crier_audience_digest();
"""

POSTGRESQL_REVERSE = """
DROP TRIGGER IF EXISTS crier_audience_digest_insert ON campaigns_audiencemember;
DROP TRIGGER IF EXISTS crier_audience_digest_delete ON campaigns_audiencemember;
DROP TRIGGER IF EXISTS crier_audience_digest_update ON campaigns_audiencemember;
DROP FUNCTION IF EXISTS crier_audience_digest();
"""


def _sqlite_add(row: str) -> str:
    lanes = ", ".join(f"crier_member_lane({row}.external_id, {i})" for i in range(4))
    updates = ", ".join(f"lane{i} = (lane{i} + excluded.lane{i}) & {MASK}" for i in range(4))
    return (
        "INSERT INTO campaigns_audiencedigest (audience_id, count, lane0, lane1, lane2, lane3) "
        f"SELECT {row}.audience_id, 1, {lanes} WHERE NOT {row}.suppressed "
        f"ON CONFLICT (audience_id) DO UPDATE SET count = count + 1, {updates};"
    )


def _sqlite_remove(row: str) -> str:
    updates = ", ".join(
        f"lane{i} = (lane{i} - crier_member_lane({row}.external_id, {i})) & {MASK}" for i in range(4)
    )
    return (
        f"UPDATE campaigns_audiencedigest SET count = count - 1, {updates} "
        f"WHERE audience_id = {row}.audience_id AND NOT {row}.suppressed;"
    )


SQLITE = [
    "CREATE TRIGGER crier_audience_digest_insert AFTER INSERT ON campaigns_audiencemember "
    f"BEGIN {_sqlite_add('NEW')} END",
    "CREATE TRIGGER crier_audience_digest_delete AFTER DELETE ON campaigns_audiencemember "
    f"BEGIN {_sqlite_remove('OLD')} END",
    "CREATE TRIGGER crier_audience_digest_update AFTER UPDATE ON campaigns_audiencemember "
    f"BEGIN {_sqlite_remove('OLD')} {_sqlite_add('NEW')} END",
]

SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS crier_audience_digest_{event}" for event in ("insert", "delete", "update")
]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL)
    elif vendor == "sqlite":
        from campaigns.audiences.digest import register_sqlite_functions

        register_sqlite_functions(None, schema_editor.connection)
        for statement in SQLITE:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError(f"the audience member triggers support SQLite and PostgreSQL, not {vendor}")


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_REVERSE)
    else:
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


def backfill(apps, schema_editor):
    """Digest the lists that exist, from their rows (in Python: the same arithmetic)."""
    import hashlib

    member = apps.get_model("campaigns", "AudienceMember")
    digest = apps.get_model("campaigns", "AudienceDigest")
    totals: dict[int, list[int]] = {}
    rows = member.objects.filter(suppressed=False).values_list("audience_id", "external_id")
    for audience_id, external_id in rows.iterator(chunk_size=5000):
        h = hashlib.sha256(external_id.encode()).digest()
        total = totals.setdefault(audience_id, [0, 0, 0, 0, 0])
        total[0] += 1
        for i in range(4):
            total[i + 1] = (total[i + 1] + (int.from_bytes(h[8 * i : 8 * i + 8], "big") & MASK)) & MASK
    digest.objects.bulk_create(
        [
            digest(audience_id=pk, count=t[0], lane0=t[1], lane1=t[2], lane2=t[3], lane3=t[4])
            for pk, t in totals.items()
        ]
    )


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0011_names_and_plurals'),
    ]

    operations = [
        migrations.CreateModel(
            name='AudienceDigest',
            fields=[
                ('audience', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='member_digest', serialize=False, to='campaigns.audience')),
                ('count', models.BigIntegerField(default=0)),
                ('lane0', models.BigIntegerField(default=0)),
                ('lane1', models.BigIntegerField(default=0)),
                ('lane2', models.BigIntegerField(default=0)),
                ('lane3', models.BigIntegerField(default=0)),
            ],
            options={
                'verbose_name': 'audience digest',
                'verbose_name_plural': 'audience digests',
            },
        ),
            migrations.RunPython(create_triggers, drop_triggers),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
