"""The approval snapshot's audience digest: the same bytes on every database."""

from __future__ import annotations

import hashlib

import pytest

from campaigns.models import AudienceMember
from campaigns.snapshot import _digest, _member_digest
from tests.campaigns.conftest import make_audience

pytestmark = pytest.mark.django_db

IDS = ["u-10", "U_2", "a.b", "u1", "Zed", "000", "u-1", "x_y-z.1"]


def test_the_member_digest_is_sha256_of_the_ids_in_database_order_joined_by_newlines():
    audience = make_audience("users", user_ids=IDS, suppressed=["u1", "zz"])

    for suppressed in (False, True):
        ordered = list(
            AudienceMember.objects.filter(audience=audience, suppressed=suppressed)
            .order_by("external_id")
            .values_list("external_id", flat=True)
        )
        expected = (len(ordered), hashlib.sha256("\n".join(ordered).encode()).hexdigest())
        assert _member_digest(audience.pk, suppressed=suppressed) == expected
        assert _digest(iter(ordered)) == expected


def test_an_empty_list_digests_as_the_empty_string():
    audience = make_audience("users", user_ids=["only"])

    assert _member_digest(audience.pk, suppressed=True) == (0, hashlib.sha256(b"").hexdigest())
