"""What the hostile-input tests send and how they check that nothing was stored."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.core.cache import cache
from rest_framework.test import APIClient

#: JSON texts of the three values issue #15 names, each to go where a value goes.
SURROGATE = '"\\ud800"'
NUL = '"x\\u0000y"'
DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE = {"surrogate": SURROGATE, "nul": NUL, "deep": DEEP}
#: What each refusal names (providers/safe_json.py).
RULE = {
    "surrogate": "is not valid Unicode text",
    "nul": "the NUL character (\\u0000) is not allowed in text",
    "deep": "nested deeper than 64 levels",
}
#: A generous bound, not a benchmark: a refusal must never be a stall.
BOUND_SECONDS = 5.0

OUR_APPS = ("audit", "providers", "templates_registry", "campaigns", "approvals")


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every model of Crier's apps, from the app registry (so a new model is
    included): equal snapshots before and after mean nothing at all was written."""
    rows = {}
    for label in OUR_APPS:
        for model in apps.get_app_config(label).get_models():
            rows[model._meta.label] = list(model._default_manager.order_by("pk").values_list())
    return rows


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """Return ``call()``'s answer and the seconds it took; throttle counters start empty
    so that hundreds of refusals in one test are not answered 429 instead."""
    cache.clear()
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def served_schema(client: APIClient) -> dict:
    answer = client.get("/api/schema/", {"format": "json"})
    assert answer.status_code == 200
    return json.loads(answer.content)


def list_paths(client: APIClient) -> list[str]:
    """Every GET of the schema without a path parameter or a required query parameter."""
    paths = []
    for path, operations in served_schema(client)["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path or any(p.get("required") for p in get.get("parameters", [])):
            continue
        paths.append(path)
    return paths
