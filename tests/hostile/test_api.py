"""Hostile input through every write operation of the API (issue #15, item 1).

The operations are read from the API's own OpenAPI schema (drf-spectacular), so a new
write endpoint fails :func:`test_every_write_operation_of_the_schema_is_covered` until a
body for it is added to ``BODIES``. Each is sent a lone surrogate, a NUL and nesting
100,000 deep, as JSON and form-encoded; each CSV endpoint a 200,000-column header; and
the API a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``. Every answer is a 4xx naming the rule
within a bounded time, not one row of Crier's models changes, and every list still
answers 200. Operations whose schema has no request body never read one: a hostile body
changes nothing about their answer (``test_operations_without_a_body_ignore_a_hostile_one``).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from tests.api.conftest import token_client
from tests.hostile.common import (
    BOUND_SECONDS,
    DEEP,
    HOSTILE,
    RULE,
    list_paths,
    served_schema,
    snapshot,
    timed,
)

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch", "delete")

#: (method, path as in the schema) -> the JSON body with {X} where the hostile value goes
#: (a value's place: 100,000-deep nesting is not a key; a surrogate or NUL in a key is
#: tests/api/test_hostile_input.py's); None for operations that take no body (their
#: schema says so, and the test checks it).
BODIES: dict[tuple[str, str], str | None] = {
    ("post", "/api/v1/audiences/"): '{"name": "h", "kind": "segment", "segment": {X}}',
    ("put", "/api/v1/audiences/{id}/"): '{"name": {X}, "kind": "users"}',
    ("patch", "/api/v1/audiences/{id}/"): '{"name": {X}}',
    ("post", "/api/v1/audiences/{id}/members/"): "[{X}]",
    (
        "post",
        "/api/v1/campaigns/",
    ): '{"name": "c", "template": {template}, "provider_account": {account}, "audience": {audience},'
    ' "language": "en", "parameters": {"k": {X}}, "schedule": {"kind": "now"}}',
    (
        "put",
        "/api/v1/campaigns/{id}/",
    ): '{"name": "c", "template": {template}, "provider_account": {account}, "audience": {audience},'
    ' "language": "en", "parameters": {"name": {X}, "pct": "1"}}',
    ("patch", "/api/v1/campaigns/{id}/"): '{"parameters": {"name": {X}}}',
    ("post", "/api/v1/campaigns/{id}/approve/"): '{"comment": {X}}',
    ("post", "/api/v1/campaigns/{id}/cancel/"): '{"reason": {X}}',
    ("post", "/api/v1/campaigns/{id}/preview/"): None,
    ("post", "/api/v1/campaigns/{id}/recall/"): '{"reason": {X}}',
    ("post", "/api/v1/campaigns/{id}/reject/"): '{"comment": {X}}',
    ("post", "/api/v1/campaigns/{id}/submit/"): None,
    ("post", "/api/v1/campaigns/{id}/withdraw/"): '{"reason": {X}}',
    ("post", "/api/v1/deliveries/{id}/resolve/"): '{"action": {X}}',
    ("post", "/api/v1/dispatches/{id}/cancel/"): '{"reason": {X}}',
    ("post", "/api/v1/dispatches/{id}/confirm/"): None,
    (
        "post",
        "/api/v1/provider-accounts/",
    ): '{"name": "h", "kind": "jiguang", "base_url": "https://ums.jpush.cn", "settings": {"k": {X}}}',
    (
        "put",
        "/api/v1/provider-accounts/{id}/",
    ): '{"name": "h", "kind": "alipayplus", "base_url": "https://example.com", "settings": {"k": {X}}}',
    ("patch", "/api/v1/provider-accounts/{id}/"): '{"settings": {"k": [{X}]}}',
    ("post", "/api/v1/provider-accounts/{id}/check/"): None,
    ("post", "/api/v1/recipients/"): '{"external_id": "h1", "language": "en", "tags": [{X}]}',
    ("put", "/api/v1/recipients/{id}/"): '{"external_id": "u1", "addresses": {"jiguang": {X}}}',
    ("patch", "/api/v1/recipients/{id}/"): '{"tags": [{X}]}',
    ("post", "/api/v1/recipients/bulk/"): '[{"external_id": "h2", "language": "en", "tags": [{X}]}]',
    ("post", "/api/v1/resume/"): None,
    ("post", "/api/v1/stop/"): '{"reason": {X}}',
    (
        "post",
        "/api/v1/templates/",
    ): '{"key": "hostile", "variants": [{"language": "en", "title": {X}, "body": "b"}]}',
    (
        "put",
        "/api/v1/templates/{id}/",
    ): '{"key": "world", "variants": [{"language": "en", "title": "t", "body": {X}}]}',
    ("patch", "/api/v1/templates/{id}/"): '{"description": {X}}',
    ("post", "/api/v1/templates/{id}/archive/"): None,
    ("post", "/api/v1/templates/{id}/render/"): '{"language": "en", "parameters": {"name": {X}, "pct": "1"}}',
}

#: Which of the world's objects an operation acts on, by the path's first segment.
TARGET = {
    "audiences": ("audiences", 0),
    "campaigns": ("campaigns", 0),
    "deliveries": ("deliveries", 1),
    "dispatches": ("dispatches", 0),
    "provider-accounts": ("provider-accounts", 1),
    "recipients": ("recipients", 0),
    "templates": ("templates", 0),
}
#: Approving and rejecting act on the campaign in review; everything else on the draft.
IN_REVIEW_ACTIONS = ("/approve/", "/reject/")



def write_operations(client: APIClient) -> dict[tuple[str, str], dict]:
    """(method, path) -> operation, for every write operation of the served schema."""
    return {
        (method, path): operation
        for path, operations in served_schema(client)["paths"].items()
        for method, operation in operations.items()
        if method in WRITE_METHODS
    }


def messages(answer) -> str:
    """Every message of a JSON error answer, joined (``detail`` or per field)."""
    found, stack = [], [answer.json()]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return " | ".join(found)


def url_of(world, path: str) -> str:
    if "{id}" not in path:
        return path
    ids, index = TARGET[path.split("/")[3]]
    if path.startswith("/api/v1/campaigns/") and path.endswith(IN_REVIEW_ACTIONS):
        index = 1
    return path.replace("{id}", str(world.ids[ids][index]))


def json_body(world, template: str, hostile: str) -> str:
    ids = world.ids
    return (
        template.replace("{template}", str(ids["templates"][0]))
        .replace("{account}", str(ids["provider-accounts"][1]))
        .replace("{audience}", str(ids["audiences"][0]))
        .replace("{X}", hostile)
    )


def assert_lists_answer(client: APIClient, world) -> None:
    lists = list_paths(client)
    assert "/api/v1/campaigns/" in lists and len(lists) >= 6, lists
    for url in lists:
        assert client.get(url).status_code == 200, url
    for campaign in world.ids["campaigns"]:
        assert client.get(f"/api/v1/campaigns/{campaign}/").status_code == 200


def test_every_write_operation_of_the_schema_is_covered(superuser):
    served = write_operations(token_client(superuser))

    assert sorted(set(served) - set(BODIES)) == [], "write operations with no hostile body in BODIES"
    assert sorted(set(BODIES) - set(served)) == [], "BODIES names operations the schema no longer has"
    for key, template in BODIES.items():
        # An operation listed as taking no body must not declare one, and the other way round.
        assert (template is None) == ("requestBody" not in served[key]), key


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_every_write_operation_refuses_hostile_json_naming_the_rule_and_storing_nothing(
    world, superuser, kind
):
    client = token_client(superuser)
    before = snapshot()

    for (method, path), template in BODIES.items():
        if template is None:
            continue
        body = json_body(world, template, HOSTILE[kind])
        answer, seconds = timed(
            lambda m=method, p=path, b=body: getattr(client, m)(
                url_of(world, p), data=b, content_type="application/json"
            )
        )
        assert answer.status_code == 400, (method, path, answer.status_code, answer.content[:300])
        assert RULE[kind] in messages(answer), (method, path, answer.content[:300])
        assert seconds < BOUND_SECONDS, (method, path, seconds)
        assert snapshot() == before, (method, path)

    assert_lists_answer(client, world)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@pytest.mark.parametrize("kind", [*sorted(HOSTILE), "raw-nul"])
def test_form_encoded_bodies_follow_the_same_rules(world, superuser, kind):
    """The API reads forms too: a JSON value in a form field was parsed by DRF's JSONField
    with no depth limit (100,000 deep: a 500), and a NUL reached the serializer."""
    client = token_client(superuser)
    operations = write_operations(client)
    value = "a\x00b" if kind == "raw-nul" else HOSTILE[kind]
    before = snapshot()

    sent = 0
    for (method, path), operation in operations.items():
        content = operation.get("requestBody", {}).get("content", {})
        if not set(FORM_TYPES) & set(content):
            continue
        ref = content["application/json"]["schema"].get("$ref", "")
        assert ref, (method, path)
        for form_type in FORM_TYPES:
            if form_type.startswith("multipart"):
                call = lambda m=method, p=path: getattr(client, m)(  # noqa: E731
                    url_of(world, p), data={"name": value, "segment": value}, format="multipart"
                )
            else:
                call = lambda m=method, p=path, t=form_type: getattr(client, m)(  # noqa: E731
                    url_of(world, p), data=urlencode({"name": value, "segment": value}), content_type=t
                )
            answer, seconds = timed(call)
            sent += 1
            assert answer.status_code == 400, (method, path, form_type, answer.status_code)
            rule = RULE["nul"] if kind == "raw-nul" else RULE[kind]
            assert rule in messages(answer), (method, path, answer.content[:300])
            assert "form field name" in messages(answer) or "form field segment" in messages(answer)
            assert seconds < BOUND_SECONDS, (method, path, seconds)
            assert snapshot() == before, (method, path, form_type)

    assert sent > 20
    assert_lists_answer(client, world)


HUGE_HEADER = ",".join(["external_id", *(f"c{i}" for i in range(200_000 - 1))]) + "\nu1\n"


#: CSV endpoints whose first line is a header of named columns; a member list is one id a
#: line with an optional header, so a 200,000-column first line is one (long) id there.
HEADED_CSV = {("post", "/api/v1/recipients/bulk/")}


def test_every_csv_endpoint_answers_a_200000_column_header_in_bounded_time(world, superuser):
    client = token_client(superuser)
    operations = write_operations(client)

    csv_operations = {
        key for key, op in operations.items() if "text/csv" in op.get("requestBody", {}).get("content", {})
    }
    assert csv_operations == HEADED_CSV | {("post", "/api/v1/audiences/{id}/members/")}
    for method, path in sorted(csv_operations):
        before = snapshot()
        answer, seconds = timed(
            lambda m=method, p=path: getattr(client, m)(
                url_of(world, p), data=HUGE_HEADER, content_type="text/csv"
            )
        )
        assert seconds < BOUND_SECONDS, (path, seconds)
        if (method, path) in HEADED_CSV:
            assert answer.status_code == 400, (path, answer.status_code, answer.content[:300])
            assert "the header has 200,000 columns" in messages(answer), (path, answer.content[:300])
            assert snapshot() == before, path
        else:
            # The header line is refused as an id (too long), "u1" is already a member.
            assert answer.status_code < 500, (path, answer.status_code, answer.content[:300])

    assert_lists_answer(client, world)


def test_a_body_over_the_upload_limit_is_a_json_413_naming_the_limit(world, superuser, settings):
    client = token_client(superuser)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert limit == 2_621_440  # Django's default, stated in the README
    before = snapshot()

    for (method, path), template in BODIES.items():
        if template is None or path.endswith(("/bulk/", "/members/")):
            continue  # the bulk imports stream their body (README "Security")
        body = json_body(world, template, json.dumps("x" * (limit + 1)))
        answer, seconds = timed(
            lambda m=method, p=path, b=body: getattr(client, m)(
                url_of(world, p), data=b, content_type="application/json"
            )
        )
        assert answer.status_code == 413, (method, path, answer.status_code, answer.content[:200])
        assert answer["Content-Type"] == "application/json"
        assert f"larger than {limit} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)" in answer.json()["detail"]
        assert seconds < BOUND_SECONDS, (method, path, seconds)
    assert snapshot() == before

    assert_lists_answer(client, world)


def test_too_many_form_fields_is_a_json_400_naming_the_setting(world, superuser, settings):
    client = token_client(superuser)
    fields = urlencode([(f"f{n}", "v") for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)])

    answer = client.post("/api/v1/recipients/", data=fields, content_type="application/x-www-form-urlencoded")

    assert answer.status_code == 400
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in answer.json()["detail"]


class _Rollback(Exception):
    def __init__(self, answer) -> None:
        self.answer = answer


def _answer_and_roll_back(call):
    try:
        with transaction.atomic():
            raise _Rollback(call())
    except _Rollback as done:
        return done.answer


def test_operations_without_a_body_ignore_a_hostile_one(world, superuser):
    """They never parse a body: the answer to a hostile body is the answer to none, and
    each is rolled back so the next starts from the same world."""
    client = token_client(superuser)

    for (method, path), template in BODIES.items():
        if template is not None:
            continue
        url = url_of(world, path)
        plain, _ = timed(lambda m=method, u=url: _answer_and_roll_back(lambda: getattr(client, m)(u)))
        for kind, hostile in HOSTILE.items():
            body = hostile if kind == "deep" else '{"x": ' + hostile + "}"
            answer, seconds = timed(
                lambda m=method, u=url, b=body: _answer_and_roll_back(
                    lambda: getattr(client, m)(u, data=b, content_type="application/json")
                )
            )
            assert answer.status_code == plain.status_code < 500, (method, path, kind, answer.content[:300])
            assert seconds < BOUND_SECONDS, (method, path, kind, seconds)

    assert_lists_answer(client, world)


def test_deep_nesting_costs_the_same_in_every_place_of_a_body(superuser):
    """The whole body nested (not only one value) is refused as fast."""
    client = token_client(superuser)
    answer, seconds = timed(
        lambda: client.post("/api/v1/audiences/", data=DEEP, content_type="application/json")
    )
    assert answer.status_code == 400 and seconds < BOUND_SECONDS


def test_a_huge_render_is_refused_from_the_lengths_in_bounded_time(world, superuser):
    """The render endpoint with a value that would make a 2 MB message (the body stays
    under the upload limit): refused from the template's and the values' lengths."""
    client = token_client(superuser)
    template = world.ids["templates"][0]
    body = json.dumps({"language": "en", "parameters": {"name": "n" * 2_000_000, "pct": "1"}})

    answer, seconds = timed(
        lambda: client.post(
            f"/api/v1/templates/{template}/render/", data=body, content_type="application/json"
        )
    )

    assert answer.status_code == 400, answer.content[:300]
    assert "at most 4000 are allowed" in messages(answer)
    assert seconds < BOUND_SECONDS


def test_a_huge_header_is_answered_in_bounded_time(world, superuser):
    """The WSGI server in front caps header sizes; behind it, a 1 MB token is a 401 and a
    1 MB header of no meaning changes nothing about the answer."""
    before = snapshot()
    anonymous = APIClient()
    answer, seconds = timed(
        lambda: anonymous.post(
            "/api/v1/recipients/", data="{}", content_type="application/json",
            HTTP_AUTHORIZATION="Token " + "a" * 1_000_000,
        )
    )
    assert answer.status_code == 401 and seconds < BOUND_SECONDS

    client = token_client(superuser)
    answer, seconds = timed(
        lambda: client.post(
            "/api/v1/recipients/", data='{"external_id": "\\ud800"}', content_type="application/json",
            HTTP_X_FILLER="x" * 1_000_000,
        )
    )
    assert answer.status_code == 400 and seconds < BOUND_SECONDS
    assert snapshot() == before
