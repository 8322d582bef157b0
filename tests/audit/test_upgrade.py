"""An installation upgraded from the plain SHA-256 chain: its events stay verifiable as the
chain's legacy prefix, migration audit.0003 seals them, and new events are keyed after them.

Runs the real migrations and commands in subprocesses against a database file of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.audit.conftest import KEY_A

# What the chain's code wrote before it was keyed (audit.services before issue 15.3), on the
# table as it was then (no key_id column), with raw SQL.
WRITE_LEGACY_EVENTS = """
import hashlib, json
from datetime import UTC, datetime
from django.db import connection
from django.core.serializers.json import DjangoJSONEncoder

def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)

prev = "0" * 64
with connection.cursor() as cursor:
    for i in range(3):
        created = datetime(2026, 1, 1, 12, 0, i, 123456, tzinfo=UTC)
        fields = {
            "campaign_id": None, "object_type": "test", "object_id": str(i), "action": "legacy",
            "from_state": "", "to_state": "", "actor_id": None, "reason": f"old {i}",
            "data": {"n": i}, "created_at": created.isoformat(timespec="microseconds"), "prev_hash": prev,
        }
        digest = hashlib.sha256(canonical(fields).encode()).hexdigest()
        cursor.execute(
            "INSERT INTO approvals_auditevent (object_type, object_id, action, from_state, to_state, "
            "reason, data, created_at, prev_hash, hash) VALUES (%s, %s, %s, '', '', %s, %s, %s, %s, %s)",
            ["test", str(i), "legacy", f"old {i}", canonical({"n": i}), created, prev, digest],
        )
        prev = digest
"""

APPEND_KEYED_EVENT = """
from audit.services import record_event
print(record_event(object_type="test", object_id="new", action="keyed").key_id)
"""


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=180,
    )


@pytest.mark.slow  # runs long: its file is scheduled first (tests/conftest.py)
def test_an_upgraded_chain_verifies_is_sealed_and_continues_keyed(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        CRIER_ENV_FILE="", DEBUG="0", SECRET_KEY="s" * 60, ALLOWED_HOSTS="x.example",
        CRIER_AUDIT_KEY=KEY_A, CRIER_AUDIT_CHECKPOINT_FILE=str(tmp_path / "checkpoints.jsonl"),
        DATABASE_URL=f"sqlite:///{tmp_path}/upgrade.db",
    )
    before_upgrade = [
        ("migrate", "-v0"), ("migrate", "audit", "0001", "-v0"), ("shell", "-c", WRITE_LEGACY_EVENTS)
    ]
    for step in before_upgrade:
        done = _manage(env, *step)
        assert done.returncode == 0, (step, done.stdout + done.stderr)

    upgraded = _manage(env, "migrate", "-v0")  # audit.0002 and 0003: keyed, and the legacy events sealed
    assert upgraded.returncode == 0, upgraded.stderr
    sealed = _manage(env, "verify_audit")
    appended = _manage(env, "shell", "-v0", "-c", APPEND_KEYED_EVENT)
    after = _manage(env, "verify_audit", "--checkpoint-file", str(tmp_path / "checkpoints.jsonl"))

    assert sealed.returncode == 0, sealed.stderr
    assert "audit trail intact: 3 events verified" in sealed.stdout
    assert "3 legacy (unkeyed) events" in sealed.stdout and "1 checkpoint matches" in sealed.stdout
    assert appended.stdout.strip() == "a"
    assert after.returncode == 0, after.stderr
    assert "audit trail intact: 4 events verified" in after.stdout
    assert "keys that signed events: a" in after.stdout
    assert '"event_count":3,' in (tmp_path / "checkpoints.jsonl").read_text()  # the seal, copied outside
