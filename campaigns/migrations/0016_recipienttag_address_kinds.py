"""``RecipientTag.address_kinds``: the provider kinds a tagged recipient has an address at,
kept by triggers (campaigns/audiences/address_kinds.py says why and how), and the index the
reach count of a tag audience reads."""

from django.db import migrations, models

# Sorted, as PostgreSQL's string_agg(… ORDER BY k): group_concat takes its rows in the order the
# subquery gives them (SQLite 3.40 has no ORDER BY inside an aggregate).
_SQLITE_KINDS = (
    "COALESCE((SELECT ',' || group_concat(key, ',') || ',' FROM "
    "(SELECT key FROM json_each({doc}) ORDER BY key)), '')"
)

_SQLITE_OWN_ROW = (
    "CREATE TRIGGER crier_recipienttag_kinds_{name} AFTER {event} ON campaigns_recipienttag BEGIN "
    "UPDATE campaigns_recipienttag SET address_kinds = "
    + _SQLITE_KINDS.format(doc="(SELECT addresses FROM campaigns_recipient WHERE id = NEW.recipient_id)")
    + " WHERE id = NEW.id; END"
)

SQLITE = [
    # A tag row takes its recipient's kinds when inserted or moved to another recipient…
    _SQLITE_OWN_ROW.format(name="insert", event="INSERT"),
    _SQLITE_OWN_ROW.format(name="move", event="UPDATE OF recipient_id"),
    # …and a recipient's tag rows take the new kinds when its addresses change.
    "CREATE TRIGGER crier_recipient_kinds_update AFTER UPDATE OF addresses ON campaigns_recipient "
    "WHEN OLD.addresses IS NOT NEW.addresses BEGIN UPDATE campaigns_recipienttag SET address_kinds = "
    + _SQLITE_KINDS.format(doc="NEW.addresses")
    + " WHERE recipient_id = NEW.id; END",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS crier_recipienttag_kinds_insert",
    "DROP TRIGGER IF EXISTS crier_recipienttag_kinds_move",
    "DROP TRIGGER IF EXISTS crier_recipient_kinds_update",
]

POSTGRESQL = """
CREATE FUNCTION crier_address_kinds(addresses jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(',' || string_agg(k, ',' ORDER BY k) || ',', '')
    FROM jsonb_object_keys(CASE WHEN jsonb_typeof(addresses) = 'object' THEN addresses ELSE '{}' END) k
$$;
CREATE FUNCTION crier_recipienttag_kinds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- FOR SHARE: wait for an address change of this recipient in flight, and see it.
    SELECT crier_address_kinds(r.addresses) INTO NEW.address_kinds
    FROM campaigns_recipient r WHERE r.id = NEW.recipient_id FOR SHARE;
    NEW.address_kinds := COALESCE(NEW.address_kinds, '');
    RETURN NEW;
END $$;
CREATE TRIGGER crier_recipienttag_kinds BEFORE INSERT OR UPDATE OF recipient_id
    ON campaigns_recipienttag FOR EACH ROW EXECUTE FUNCTION crier_recipienttag_kinds();
CREATE FUNCTION crier_recipient_kinds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE campaigns_recipienttag SET address_kinds = crier_address_kinds(NEW.addresses)
    WHERE recipient_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER crier_recipient_kinds AFTER UPDATE OF addresses ON campaigns_recipient FOR EACH ROW
    WHEN (OLD.addresses IS DISTINCT FROM NEW.addresses) EXECUTE FUNCTION crier_recipient_kinds();
"""

POSTGRESQL_REVERSE = """
DROP TRIGGER IF EXISTS crier_recipient_kinds ON campaigns_recipient;
DROP TRIGGER IF EXISTS crier_recipienttag_kinds ON campaigns_recipienttag;
DROP FUNCTION IF EXISTS crier_recipient_kinds();
DROP FUNCTION IF EXISTS crier_recipienttag_kinds();
DROP FUNCTION IF EXISTS crier_address_kinds(jsonb);
"""

BACKFILL = {
    "postgresql": "UPDATE campaigns_recipienttag t SET address_kinds = crier_address_kinds(r.addresses) "
    "FROM campaigns_recipient r WHERE r.id = t.recipient_id",
    "sqlite": "UPDATE campaigns_recipienttag SET address_kinds = "
    + _SQLITE_KINDS.format(doc="(SELECT addresses FROM campaigns_recipient WHERE id = recipient_id)"),
}


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL)
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError(f"the address kind triggers support SQLite and PostgreSQL, not {vendor}")
    schema_editor.execute(BACKFILL[vendor])


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_REVERSE)
    else:
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ("campaigns", "0015_delivery_lz4"),
    ]

    operations = [
        migrations.AddField(
            model_name="recipienttag",
            name="address_kinds",
            field=models.TextField(blank=True, db_default="", default="", editable=False),
        ),
        migrations.AddIndex(
            model_name="recipienttag",
            index=models.Index(fields=["tag", "address_kinds", "recipient"], name="recipient_tag_kinds_idx"),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
